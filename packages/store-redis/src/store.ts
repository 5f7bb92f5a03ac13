import { inspect } from 'node:util';
import { checkRowNumbers, type TableSpec } from '@halfstep/backend';
import {
  checkApplyArguments,
  type OpenedTable,
  type StoreUpdateResult,
  type TableStore,
} from '@halfstep/embedding';
import type { Cluster } from 'ioredis';
import { type DroppedTables, dropTables, listTables, type StoredTableInfo } from './admin.js';
import { RedisStoreError } from './errors.js';
import { blockKey, checkTableName, metaKey } from './keys.js';
import { DEFAULT_BLOCK_BYTES, type TableLayout, tableLayout } from './layout.js';
import { type OpenContext, openTable } from './open.js';
import type { RedisClusterStoreOptions } from './options.js';
import { type ReadContext, readBlockRows } from './read.js';
import { type RedisStoreStats, type StoreCounters, zeroCounters } from './stats.js';
import type { OpenTable } from './table.js';
import { applyBlockUpdates, type UpdateContext } from './update.js';

/**
 * A `TableStore` on Redis Cluster. Each table's rows are fixed-size records (weights in
 * their storage format, then the optimizer state) packed into string keys of about
 * `blockBytes` (`{prefix}:{table}:{block}`, no hash tag, so blocks spread over all slots);
 * reads and updates touch only the records they need (one Redis Function call per block, calls
 * pipelined per node by ioredis). The optimizer step and the rounded store run inside Redis,
 * atomically per block call, so concurrent trainers lose no update. Train on it through
 * `createStoreBackend({ store })` of `@halfstep/embedding`.
 */
export class RedisClusterStore implements TableStore {
  /** Always "redis-cluster". */
  readonly kind = 'redis-cluster';
  /** The ioredis cluster client (for inspection; the store owns it). */
  readonly cluster: Cluster;
  /** The key prefix. */
  readonly keyPrefix: string;
  readonly #tables = new Map<string, OpenTable>();
  readonly #counters: StoreCounters = zeroCounters();
  readonly #open: OpenContext;
  readonly #read: ReadContext;
  readonly #update: UpdateContext;
  #closed = false;

  /** @internal Use `createRedisClusterStore`. */
  constructor(cluster: Cluster, options: RedisClusterStoreOptions) {
    this.cluster = cluster;
    this.keyPrefix = options.keyPrefix ?? 'halfstep';
    const shared = { cluster, keyPrefix: this.keyPrefix, counters: this.#counters };
    this.#open = {
      ...shared,
      blockBytes: options.blockBytes ?? DEFAULT_BLOCK_BYTES,
      openTimeoutMs: options.openTimeoutMs ?? 60000,
    };
    this.#read = {
      ...shared,
      readRetryMs: options.readRetryMs ?? 15000,
      isClosed: () => this.#closed,
    };
    this.#update = {
      ...shared,
      replicas: options.replicas ?? 0,
      waitTimeoutMs: options.waitTimeoutMs ?? 2000,
    };
  }

  /** Traffic so far (a copy). */
  get stats(): RedisStoreStats {
    return { ...this.#counters };
  }

  /** The key of block `block` of table `table`. */
  blockKey(table: string, block: number): string {
    return blockKey(this.keyPrefix, table, block);
  }

  /** The key of table `table`'s description (identity, layout, status). */
  metaKey(table: string): string {
    return metaKey(this.keyPrefix, table);
  }

  /** The layout of an open table. @throws RedisStoreError (no-table) when it is not open. */
  layout(table: string): TableLayout {
    return this.#table(table).layout;
  }

  #live(): void {
    if (this.#closed) throw new Error('this Redis store was closed');
  }

  #table(name: string): OpenTable {
    this.#live();
    const t = this.#tables.get(name);
    if (!t)
      throw new RedisStoreError(
        name,
        'no-table',
        [],
        'the table is not open in this store (call openTables first)',
      );
    return t;
  }

  /**
   * Creates the missing tables (one process wins a `SET NX` on the table's description and
   * writes every block, initialised from the spec's `init`, zeros when absent; the others wait
   * until it is ready) and checks the existing ones.
   * @throws TableMismatchError naming the table and field; RedisStoreError when Redis fails.
   */
  async openTables(specs: readonly TableSpec[]): Promise<OpenedTable[]> {
    this.#live();
    const opened: OpenedTable[] = [];
    for (const spec of specs) {
      const { table, created } = await openTable(this.#open, spec);
      this.#tables.set(spec.name, table);
      opened.push({ name: spec.name, created });
    }
    return opened;
  }

  /**
   * Decoded weights of `rows`, rows x dim float32, in the order given. One read call per block
   * (it checks the key's length first); the calls are pipelined per node.
   * @throws RangeError for a row out of range; RedisStoreError naming the table and the rows
   *   (missing key, wrong size, unreachable). Never returns zeros for a row it could not read.
   */
  async readRows(table: string, rows: Int32Array): Promise<Float32Array> {
    const t = this.#table(table);
    checkRowNumbers(t.spec, rows);
    return readBlockRows(this.#read, t, rows);
  }

  /**
   * Applies one optimizer step to distinct `rows` inside Redis: one update call per block
   * (atomic: no other command runs between reading and writing its rows), pipelined per node,
   * given the float32 gradients and the counter-based random words of (seed, step, table,
   * row). With `replicas > 0`, then waits (`WAIT`) for that many replicas of the masters written to.
   * Each call computes all the rows of its block, then writes those whose new float32 weights
   * and optimizer state are finite: a row with a NaN or infinite result keeps its bytes and is
   * reported (`nonFiniteRows`, `firstNonFiniteRow`); the other rows get exactly the bits they
   * get anyway. Blocks commit independently (on several masters): no call undoes another's rows.
   * @returns how many rows were applied, and acknowledged, and which were left unchanged.
   * @throws BadInputError/RangeError for bad arguments (nothing is sent); RedisStoreError naming
   *   the table and the rows whose update failed or whose outcome is unknown, with the counts of
   *   the rows that were applied.
   */
  async applyGradients(
    table: string,
    rows: Int32Array,
    gradients: Float32Array,
    step: number,
  ): Promise<StoreUpdateResult> {
    const t = this.#table(table);
    checkApplyArguments(t.spec, rows, gradients, step);
    return applyBlockUpdates(this.#update, t, rows, gradients, step);
  }

  /**
   * Whether an `applyGradients` failure left the outcome unknown but the store intact: the
   * cluster was unreachable mid-call (a master failing over), so the update may or may not have
   * been applied, atomically per block.
   */
  outcomeUnknown(error: unknown): boolean {
    return error instanceof RedisStoreError && error.reason === 'unreachable';
  }

  /**
   * What the Redis store limits, checked before anything is sent: a name without braces or
   * control characters, a supported storage, at most 6000 values per row.
   * @throws RangeError naming the table and the limit.
   */
  checkSpec(spec: TableSpec): void {
    checkTableName(spec.name);
    tableLayout(spec, this.#open.blockBytes);
  }

  /**
   * The tables under this store's key prefix, open here or not (their descriptions, found with
   * `SCAN` on every master), in name order. A store whose prefix is a parent of other stores'
   * (e.g. "halfstep:recsys" for runs under "halfstep:recsys:<run id>") lists theirs too, named
   * "<run id>:<table>".
   */
  async listTables(): Promise<StoredTableInfo[]> {
    this.#live();
    return listTables(this.#open);
  }

  /**
   * Deletes tables under this store's key prefix from Redis: `names` (their descriptions read
   * directly), or every table `listTables` finds (block keys first, then the description, so an
   * interrupted drop can be run again; names that do not exist are skipped). Tables open in this store are closed. Do not drop tables that a run is training.
   * @returns the tables dropped and the keys deleted.
   */
  async dropTables(names?: readonly string[]): Promise<DroppedTables> {
    this.#live();
    const dropped = await dropTables(this.#open, names);
    for (const name of dropped.tables) this.#tables.delete(name);
    return dropped;
  }

  /** What `console.log` and `util.inspect` show: never the client, whose options hold the password. */
  [inspect.custom](): string {
    return `RedisClusterStore { keyPrefix: ${JSON.stringify(this.keyPrefix)}, tables: ${this.#tables.size}${this.#closed ? ', closed' : ''} }`;
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#tables.clear();
    try {
      await this.cluster.quit();
    } catch {
      this.cluster.disconnect();
    }
  }
}
