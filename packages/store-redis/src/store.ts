import {
  checkRowNumbers,
  DOMAIN_STATE,
  DOMAIN_WEIGHTS,
  fillRowWords,
  philoxSchedule,
  randomBitsFor,
  tableDomain,
} from '@halfstep/backend';
import { decode, encode, type FloatFormat, formats } from '@halfstep/codecs';
import {
  checkApplyArguments,
  checkTableIdentity,
  initialRows,
  type OpenedTable,
  type StoreTableSpec,
  type StoreUpdateResult,
  type TableStore,
  tableIdentity,
} from '@halfstep/embedding';
import { Cluster, type ClusterOptions } from 'ioredis';
import { RedisStoreError } from './errors.js';
import {
  blockLength,
  checkTableName,
  DEFAULT_BLOCK_BYTES,
  type TableLayout,
  tableLayout,
} from './layout.js';
import { LIBRARY_SOURCE, READ_FUNCTION, UPDATE_FUNCTION } from './lua.js';

/** A Redis node's address. */
export interface RedisNodeAddress {
  /** Host name or IP. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/** Options of {@link createRedisClusterStore}. */
export interface RedisClusterStoreOptions {
  /**
   * Seed nodes of the cluster: `"redis://host:port,host:port"` (the scheme is optional), or
   * addresses. One reachable node is enough; the client discovers the rest.
   */
  readonly nodes: string | readonly RedisNodeAddress[];
  /** Prefix of every key, a namespace for several models in one cluster. Default "halfstep". */
  readonly keyPrefix?: string;
  /** Payload bytes per block key for tables this store creates. Default 16320. */
  readonly blockBytes?: number;
  /**
   * Replicas that must acknowledge an update (Redis `WAIT`) before `applyGradients` counts it as
   * acknowledged; 0 (the default) counts an update acknowledged once its master applied it.
   */
  readonly replicas?: number;
  /** How long `WAIT` waits for the replicas, in ms. Default 2000. */
  readonly waitTimeoutMs?: number;
  /** How long to wait for the cluster to become ready, in ms. Default 10000. */
  readonly connectTimeoutMs?: number;
  /**
   * How long `readRows` keeps retrying a read while the cluster is unreachable (a failover takes
   * a few node timeouts), in ms. Default 15000. Updates are never retried (see `applyGradients`).
   */
  readonly readRetryMs?: number;
  /** How long to wait for a table another process is creating, in ms. Default 60000. */
  readonly openTimeoutMs?: number;
  /** Extra ioredis cluster options (merged over the store's defaults). */
  readonly clusterOptions?: ClusterOptions;
}

/** Traffic counters of a Redis store (payload bytes, excluding the protocol's framing). */
export interface RedisStoreStats {
  /** Rows read by `readRows`. */
  readonly rowsRead: number;
  /** Rows updated (confirmed) by `applyGradients`. */
  readonly rowsUpdated: number;
  /** Redis calls made by reads and updates (one per block touched). */
  readonly calls: number;
  /** Argument bytes sent by reads and updates. */
  readonly bytesSent: number;
  /** Reply bytes received by reads. */
  readonly bytesReceived: number;
  /** Read calls retried because the cluster was unreachable (e.g. during a failover). */
  readonly readRetries: number;
}

/**
 * ioredis generates a Buffer-replying variant of every command; its typings omit
 * `fcall_roBuffer`. (The generic `call`/`callBuffer` lose the command name under auto-pipelining.)
 */
interface BufferFunctionCalls {
  fcall_roBuffer(
    fn: string,
    numkeys: number,
    ...args: (string | number | Buffer)[]
  ): Promise<Buffer>;
}

interface OpenTable {
  readonly spec: StoreTableSpec;
  readonly layout: TableLayout;
  readonly weightFormat: FloatFormat | null;
  readonly stateFormat: FloatFormat | null;
  readonly kind: number;
  readonly schedule: Int32Array;
}

interface Meta {
  readonly identity: Record<string, string | number>;
  readonly blockRows: number;
  readonly recordBytes: number;
  readonly status: 'creating' | 'ready';
}

const OPTIMIZER_CODES: Readonly<Record<string, number>> = {
  sgd: 0,
  momentum: 1,
  adagrad: 2,
  'rowwise-adagrad': 3,
  adam: 4,
};

/**
 * Parses `"redis://host:port,host:port"` (or `"host:port,..."`) into addresses.
 * @throws RangeError naming the part that is not host:port.
 */
export function parseRedisNodes(nodes: string): RedisNodeAddress[] {
  const list = nodes
    .replace(/^rediss?:\/\//, '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new RangeError(`no Redis node in "${nodes}"`);
  return list.map((part) => {
    const m = /^(?:rediss?:\/\/)?([^:/]+):(\d+)\/?$/.exec(part);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw new RangeError(`Redis node "${part}": expected host:port`);
    return { host: m[1], port: Number(m[2]) };
  });
}

function formatOf(storage: string): FloatFormat | null {
  return storage === 'float32' ? null : formats[storage as 'float16' | 'bfloat16'];
}

function isUnreachable(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Failed to refresh slots|None of startup nodes|Cluster isn't ready|CLUSTERDOWN|Too many Cluster redirections|Command timed out|max retries|Stream isn't writeable/i.test(
    message,
  );
}

/**
 * A {@link TableStore} on Redis Cluster. Each table's rows are fixed-size records (weights in
 * their storage format, then the optimizer state) packed into string keys of about
 * `blockBytes` (`{prefix}:{table}:{block}`, no hash tag, so blocks spread over all slots);
 * reads and updates touch only the records they need (one Redis Function call per block, calls
 * pipelined per node by ioredis). The optimizer step and the rounded store run inside Redis,
 * atomically per block call, so concurrent trainers lose no update.
 */
export class RedisClusterStore implements TableStore {
  /** Always "redis-cluster". */
  readonly kind = 'redis-cluster';
  /** The ioredis cluster client (for inspection; the store owns it). */
  readonly cluster: Cluster;
  /** The key prefix. */
  readonly keyPrefix: string;
  readonly #blockBytes: number;
  readonly #replicas: number;
  readonly #waitTimeoutMs: number;
  readonly #openTimeoutMs: number;
  readonly #readRetryMs: number;
  readonly #tables = new Map<string, OpenTable>();
  #stats = {
    rowsRead: 0,
    rowsUpdated: 0,
    calls: 0,
    bytesSent: 0,
    bytesReceived: 0,
    readRetries: 0,
  };
  #closed = false;

  /** @internal Use `createRedisClusterStore`. */
  constructor(cluster: Cluster, options: RedisClusterStoreOptions) {
    this.cluster = cluster;
    this.keyPrefix = options.keyPrefix ?? 'halfstep';
    this.#blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
    this.#replicas = options.replicas ?? 0;
    this.#waitTimeoutMs = options.waitTimeoutMs ?? 2000;
    this.#openTimeoutMs = options.openTimeoutMs ?? 60000;
    this.#readRetryMs = options.readRetryMs ?? 15000;
  }

  /** Traffic so far (a copy). */
  get stats(): RedisStoreStats {
    return { ...this.#stats };
  }

  /** The key of block `block` of table `table`. */
  blockKey(table: string, block: number): string {
    return `${this.keyPrefix}:${table}:${block}`;
  }

  /** The key of table `table`'s description (identity, layout, status). */
  metaKey(table: string): string {
    return `${this.keyPrefix}:${table}:meta`;
  }

  /** The layout of an open table. @throws RedisStoreError (no-table) when it is not open. */
  layout(table: string): TableLayout {
    return this.#table(table).layout;
  }

  #table(name: string): OpenTable {
    if (this.#closed) throw new Error('this Redis store was closed');
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
   * writes every block; the others wait until it is ready) and checks the existing ones.
   * @throws TableMismatchError naming the table and field; RedisStoreError when Redis fails.
   */
  async openTables(specs: readonly StoreTableSpec[]): Promise<OpenedTable[]> {
    if (this.#closed) throw new Error('this Redis store was closed');
    const opened: OpenedTable[] = [];
    for (const spec of specs) {
      checkTableName(spec.name);
      const layout = tableLayout(spec, this.#blockBytes);
      const identity = tableIdentity(spec);
      const metaKey = this.metaKey(spec.name);
      const fresh: Meta = {
        identity,
        blockRows: layout.blockRows,
        recordBytes: layout.recordBytes,
        status: 'creating',
      };
      let created = false;
      let meta: Meta;
      try {
        const won = await this.cluster.set(metaKey, JSON.stringify(fresh), 'NX');
        if (won === 'OK') {
          await this.#createBlocks(spec, layout);
          meta = { ...fresh, status: 'ready' };
          await this.cluster.set(metaKey, JSON.stringify(meta));
          created = true;
        } else {
          meta = await this.#waitReady(spec.name, metaKey);
        }
      } catch (error) {
        if (error instanceof RedisStoreError) throw error;
        throw new RedisStoreError(
          spec.name,
          isUnreachable(error) ? 'unreachable' : 'failed',
          [],
          `opening the table failed: ${(error as Error).message}`,
          undefined,
          error,
        );
      }
      checkTableIdentity(spec, meta.identity);
      const stored: TableLayout = {
        ...layout,
        blockRows: meta.blockRows,
        blocks: Math.ceil(spec.rows / meta.blockRows),
      };
      if (meta.recordBytes !== layout.recordBytes)
        throw new RedisStoreError(
          spec.name,
          'wrong-size',
          [],
          `stored records have ${meta.recordBytes} bytes, expected ${layout.recordBytes}`,
        );
      const kind = OPTIMIZER_CODES[spec.optimizer.kind];
      this.#tables.set(spec.name, {
        spec,
        layout: stored,
        weightFormat: formatOf(spec.storage),
        stateFormat: formatOf(spec.optimizer.stateStorage),
        kind,
        schedule: philoxSchedule(spec.seed),
      });
      opened.push({ name: spec.name, created });
    }
    return opened;
  }

  async #waitReady(table: string, metaKey: string): Promise<Meta> {
    const deadline = Date.now() + this.#openTimeoutMs;
    for (;;) {
      const text = await this.cluster.get(metaKey);
      if (text === null)
        throw new RedisStoreError(
          table,
          'no-table',
          [],
          'the table description vanished while another process was creating it',
        );
      const meta = JSON.parse(text) as Meta;
      if (meta.status === 'ready') return meta;
      if (Date.now() > deadline)
        throw new RedisStoreError(
          table,
          'no-table',
          [],
          `another process started creating the table and did not finish within ${this.#openTimeoutMs} ms (delete ${metaKey} to retry)`,
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Writes every block of a new table: initial weights (nearest-even) and initial state. */
  async #createBlocks(spec: StoreTableSpec, layout: TableLayout): Promise<void> {
    const weightFormat = formatOf(spec.storage);
    const stateFormat = formatOf(spec.optimizer.stateStorage);
    const { dim } = spec;
    const { stateSize, recordBytes, weightBytes } = layout;
    // The initial state of one row, encoded once.
    const stateValues = new Float32Array(stateSize);
    let o = 0;
    for (const slot of spec.optimizer.slots) {
      const n = slot.perElement ? dim : 1;
      stateValues.fill(slot.initial, o, o + n);
      o += n;
    }
    const stateBytes =
      stateFormat === null
        ? new Uint8Array(stateValues.buffer)
        : new Uint8Array(encode(stateFormat, stateValues, { overflow: 'saturate' }).buffer);
    const inFlight: Promise<unknown>[] = [];
    for (let b = 0; b < layout.blocks; b++) {
      const start = b * layout.blockRows;
      const count = Math.min(layout.blockRows, spec.rows - start);
      const values = initialRows(spec, start, count);
      const weights =
        weightFormat === null
          ? new Uint8Array(values.buffer)
          : new Uint8Array(encode(weightFormat, values, { overflow: 'saturate' }).buffer);
      const block = Buffer.alloc(count * recordBytes);
      for (let k = 0; k < count; k++) {
        block.set(weights.subarray(k * weightBytes, (k + 1) * weightBytes), k * recordBytes);
        block.set(stateBytes, k * recordBytes + weightBytes);
      }
      inFlight.push(this.cluster.set(this.blockKey(spec.name, b), block));
      if (inFlight.length >= 256) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
  }

  /** Groups rows by block: block -> positions in `rows`. */
  #byBlock(layout: TableLayout, rows: Int32Array): Map<number, number[]> {
    const groups = new Map<number, number[]>();
    for (let k = 0; k < rows.length; k++) {
      const b = Math.floor(rows[k] / layout.blockRows);
      let g = groups.get(b);
      if (!g) {
        g = [];
        groups.set(b, g);
      }
      g.push(k);
    }
    return groups;
  }

  #error(
    t: OpenTable,
    rows: number[],
    error: unknown,
    counts?: { updatedRows: number; acknowledgedRows: number },
  ): RedisStoreError {
    const message = error instanceof Error ? error.message : String(error);
    const name = t.spec.name;
    if (message.startsWith('HSMISSING')) {
      const key = message.split(' ')[1];
      return new RedisStoreError(
        name,
        'missing',
        rows,
        `key ${key} does not exist in Redis (the table was deleted, or its node lost its data); no value was returned for these rows`,
        counts,
        error,
      );
    }
    if (message.startsWith('HSWRONGSIZE')) {
      const [, key, got, expected] = message.split(' ');
      return new RedisStoreError(
        name,
        'wrong-size',
        rows,
        `key ${key} holds ${got} bytes, expected ${expected} (another layout, or a damaged key); nothing was read or written there`,
        counts,
        error,
      );
    }
    if (isUnreachable(error))
      return new RedisStoreError(
        name,
        'unreachable',
        rows,
        `Redis is unreachable or the call's outcome is unknown: ${message}`,
        counts,
        error,
      );
    return new RedisStoreError(name, 'failed', rows, `Redis failed: ${message}`, counts, error);
  }

  /**
   * Decoded weights of `rows`, rows x dim float32, in the order given. One read call per block
   * (it checks the key's length first); the calls are pipelined per node.
   * @throws RangeError for a row out of range; RedisStoreError naming the table and the rows
   *   (missing key, wrong size, unreachable). Never returns zeros for a row it could not read.
   */
  async readRows(table: string, rows: Int32Array): Promise<Float32Array> {
    const t = this.#table(table);
    const { spec, layout } = t;
    checkRowNumbers(spec, rows);
    const { dim } = spec;
    const out = new Float32Array(rows.length * dim);
    const groups = this.#byBlock(layout, rows);
    const codes16 = t.weightFormat === null ? null : new Uint16Array(dim);
    const row32 = new Float32Array(dim);
    const calls = [...groups].map(async ([b, positions]) => {
      const inBlock = Buffer.alloc(4 * positions.length);
      for (let i = 0; i < positions.length; i++)
        inBlock.writeUInt32LE(rows[positions[i]] - b * layout.blockRows, 4 * i);
      this.#stats.calls++;
      this.#stats.bytesSent += inBlock.length + 16;
      let reply: Buffer;
      // Reads change nothing: while the cluster is unreachable (a failover), retry them.
      const deadline = Date.now() + this.#readRetryMs;
      for (;;) {
        try {
          reply = await (this.cluster as unknown as BufferFunctionCalls).fcall_roBuffer(
            READ_FUNCTION,
            1,
            this.blockKey(spec.name, b),
            blockLength(layout, spec.rows, b),
            layout.recordBytes,
            layout.weightBytes,
            inBlock,
          );
          break;
        } catch (error) {
          if (!isUnreachable(error) || Date.now() >= deadline || this.#closed) {
            throw this.#error(
              t,
              positions.map((k) => rows[k]),
              error,
            );
          }
          this.#stats.readRetries++;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      this.#stats.bytesReceived += reply.length;
      if (reply.length !== positions.length * layout.weightBytes) {
        throw new RedisStoreError(
          spec.name,
          'wrong-size',
          positions.map((k) => rows[k]),
          `Redis returned ${reply.length} bytes, expected ${positions.length * layout.weightBytes}`,
        );
      }
      for (let i = 0; i < positions.length; i++) {
        const at = i * layout.weightBytes;
        const o = positions[i] * dim;
        if (codes16 === null) {
          for (let c = 0; c < dim; c++) out[o + c] = reply.readFloatLE(at + 4 * c);
        } else {
          for (let c = 0; c < dim; c++) codes16[c] = reply.readUInt16LE(at + 2 * c);
          decode(t.weightFormat as FloatFormat, codes16, row32);
          out.set(row32, o);
        }
      }
    });
    const settled = await Promise.allSettled(calls);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    this.#stats.rowsRead += rows.length;
    return out;
  }

  /** The update function's header for table `t` at step `step` (see the Lua `header`). */
  #header(t: OpenTable, step: number): Buffer {
    const { spec, layout } = t;
    const o = spec.optimizer.options as Record<string, number>;
    const header = Buffer.alloc(17 * 4 + 11 * 4);
    const w = t.weightFormat;
    const s = t.stateFormat;
    const ints = [
      t.kind,
      spec.dim,
      layout.stateSize,
      layout.recordBytes,
      0, // block bytes: set per block
      w === null ? 0 : 1,
      w?.mantissaBits ?? 0,
      w?.bias ?? 0,
      w?.maxFiniteCode ?? 0,
      w?.nanCode ?? 0,
      s === null ? 0 : 1,
      s?.mantissaBits ?? 0,
      s?.bias ?? 0,
      s?.maxFiniteCode ?? 0,
      s?.nanCode ?? 0,
      w !== null && spec.rounding === 'stochastic' ? 1 : 0,
      spec.rows,
    ];
    for (let i = 0; i < ints.length; i++) header.writeUInt32LE(ints[i], 4 * i);
    const scalars = new Float32Array(Math.max(2, spec.optimizer.scalarCount));
    spec.optimizer.stepScalars(step, scalars);
    const b1 = spec.optimizer.kind === 'momentum' ? o.momentum : (o.beta1 ?? 0);
    const b2 = o.beta2 ?? 0;
    const floats = [
      o.lr,
      o.l2 ?? 0,
      o.decoupled ?? 0,
      o.maxNorm ?? 0,
      o.eps ?? 0,
      b1,
      b2,
      Math.fround(1 - b1),
      Math.fround(1 - b2),
      scalars[0],
      scalars[1],
    ];
    for (let i = 0; i < floats.length; i++) header.writeFloatLE(floats[i], 68 + 4 * i);
    return header;
  }

  /**
   * Applies one optimizer step to distinct `rows` inside Redis: one update call per block
   * (atomic: no other command runs between reading and writing its rows), pipelined per node,
   * given the float32 gradients and the counter-based random words of (seed, step, table,
   * row). With `replicas > 0`, then waits (`WAIT`) for that many replicas of the masters written to.
   * @returns how many rows were applied, and acknowledged.
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
    const { spec, layout } = t;
    checkApplyArguments(spec, rows, gradients, step);
    const { dim } = spec;
    const ss = layout.stateSize;
    const header = this.#header(t, step);
    const weightStochastic = t.weightFormat !== null && spec.rounding === 'stochastic';
    const weightBits = t.weightFormat === null ? 0 : randomBitsFor(t.weightFormat.mantissaBits);
    const stateBits = t.stateFormat === null ? 0 : randomBitsFor(t.stateFormat.mantissaBits);
    // The raw counter-based words of each row (Redis derives the thresholds, as
    // fillRowThresholds does): ceil(count / floor(32 / bits)) words per row.
    const weightWords = weightStochastic ? Math.ceil(dim / Math.floor(32 / weightBits)) : 0;
    const stateWords =
      t.stateFormat !== null && ss > 0 ? Math.ceil(ss / Math.floor(32 / stateBits)) : 0;
    const weightDomain = tableDomain(spec.index, DOMAIN_WEIGHTS);
    const stateDomain = tableDomain(spec.index, DOMAIN_STATE);
    const groups = [...this.#byBlock(layout, rows)];
    const sent = groups.map(async ([b, positions]) => {
      const n = positions.length;
      const inBlock = Buffer.alloc(4 * n);
      const grads = Buffer.alloc(4 * n * dim);
      const wth = new Uint32Array(n * weightWords);
      const sth = new Uint32Array(n * stateWords);
      for (let i = 0; i < n; i++) {
        const row = rows[positions[i]];
        inBlock.writeUInt32LE(row - b * layout.blockRows, 4 * i);
        const g = positions[i] * dim;
        for (let c = 0; c < dim; c++) grads.writeFloatLE(gradients[g + c], 4 * (i * dim + c));
        if (weightWords > 0) {
          const out = wth.subarray(i * weightWords, (i + 1) * weightWords);
          fillRowWords(t.schedule, row, step, weightDomain, out, weightWords);
        }
        if (stateWords > 0) {
          const out = sth.subarray(i * stateWords, (i + 1) * stateWords);
          fillRowWords(t.schedule, row, step, stateDomain, out, stateWords);
        }
      }
      const h = Buffer.from(header);
      h.writeUInt32LE(blockLength(layout, spec.rows, b), 16);
      const wBuf = Buffer.from(wth.buffer, wth.byteOffset, wth.byteLength);
      const sBuf = Buffer.from(sth.buffer, sth.byteOffset, sth.byteLength);
      this.#stats.calls++;
      this.#stats.bytesSent += h.length + inBlock.length + grads.length + wBuf.length + sBuf.length;
      await this.cluster.fcall(
        UPDATE_FUNCTION,
        1,
        this.blockKey(spec.name, b),
        h,
        inBlock,
        grads,
        wBuf,
        sBuf,
      );
      return b;
    });
    const settled = await Promise.allSettled(sent);
    let updatedRows = 0;
    const appliedBlocks: number[] = [];
    const failedRows: number[] = [];
    let firstError: unknown;
    settled.forEach((s, i) => {
      const [b, positions] = groups[i];
      if (s.status === 'fulfilled') {
        updatedRows += positions.length;
        appliedBlocks.push(b);
      } else {
        firstError ??= s.reason;
        for (const k of positions) failedRows.push(rows[k]);
      }
    });
    this.#stats.rowsUpdated += updatedRows;
    const acknowledgedRows = await this.#acknowledged(spec.name, groups, appliedBlocks);
    if (firstError !== undefined) {
      throw this.#error(t, failedRows, firstError, { updatedRows, acknowledgedRows });
    }
    return { updatedRows, acknowledgedRows };
  }

  /**
   * With `replicas > 0`: sends `WAIT replicas timeout` to the masters of the applied blocks
   * (on the connections that carried the updates) and counts the rows of the
   * applied blocks whose master (by the current slot map) reached the replica count.
   */
  async #acknowledged(
    table: string,
    groups: [number, number[]][],
    applied: number[],
  ): Promise<number> {
    const sizes = new Map(groups.map(([b, p]) => [b, p.length]));
    const total = applied.reduce((sum, b) => sum + (sizes.get(b) ?? 0), 0);
    if (this.#replicas === 0 || total === 0) return total;
    // The master of each applied block (by the slot map after the calls, which follows MOVED).
    const ownerOf = new Map<number, string>();
    for (const b of applied) {
      const owner = (this.cluster.slots[keySlot(this.blockKey(table, b))] ?? [])[0];
      if (owner !== undefined) ownerOf.set(b, owner);
    }
    const owners = new Set(ownerOf.values());
    const masters = this.cluster
      .nodes('master')
      .filter((node) => owners.has(`${node.options.host}:${node.options.port}`));
    const replies = await Promise.allSettled(
      masters.map((node) => node.wait(this.#replicas, this.#waitTimeoutMs)),
    );
    const good = new Set<string>();
    replies.forEach((r, i) => {
      if (r.status === 'fulfilled' && r.value >= this.#replicas)
        good.add(`${masters[i].options.host}:${masters[i].options.port}`);
    });
    let acknowledged = 0;
    for (const b of applied) {
      const owner = ownerOf.get(b);
      if (owner !== undefined && good.has(owner)) acknowledged += sizes.get(b) ?? 0;
    }
    return acknowledged;
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

/** The hash slot of a key (Redis Cluster's CRC16 rule, hash tags included). */
export function keySlot(key: string): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  const bytes = Buffer.from(key.slice(start, end));
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/**
 * Connects to a Redis Cluster, waits until it is ready, loads the halfstep function library on
 * every master (`FUNCTION LOAD REPLACE`; replicas receive it through replication) and returns a
 * store.
 * @throws RedisStoreError (table "*", unreachable) when the cluster is not ready in time.
 */
export async function createRedisClusterStore(
  options: RedisClusterStoreOptions,
): Promise<RedisClusterStore> {
  const nodes =
    typeof options.nodes === 'string' ? parseRedisNodes(options.nodes) : [...options.nodes];
  if (nodes.length === 0) throw new RangeError('createRedisClusterStore: no Redis node given');
  const replicas = options.replicas ?? 0;
  if (!Number.isInteger(replicas) || replicas < 0)
    throw new RangeError(`replicas must be a non-negative integer, got ${replicas}`);
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
  if (!Number.isInteger(blockBytes) || blockBytes < 1)
    throw new RangeError(`blockBytes must be a positive integer, got ${blockBytes}`);
  const connectTimeoutMs = options.connectTimeoutMs ?? 10000;
  const cluster = new Cluster(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      // Calls issued together are pipelined on each node's connection (ioredis writes them without
      // waiting for replies). Auto-pipelining is off: it batches commands of several slots into one
      // pipeline, which ioredis cannot redirect after a failover (each call would fail with MOVED).
      enableAutoPipelining: false,
      // An update whose connection dropped is not re-sent: its outcome is unknown, and re-sending
      // could apply it twice. The caller sees it as failed ("unreachable").
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 2000,
      clusterRetryStrategy: (times) => (times > 20 ? null : Math.min(100 * times, 1000)),
      ...options.clusterOptions,
      redisOptions: {
        autoResendUnfulfilledCommands: false,
        connectTimeout: 2000,
        maxRetriesPerRequest: 2,
        ...options.clusterOptions?.redisOptions,
      },
    },
  );
  cluster.on('error', () => {
    // Errors reach the callers through their commands; an unhandled 'error' event would crash.
  });
  const where = nodes.map((n) => `${n.host}:${n.port}`).join(',');
  let stage: 'connect' | 'load' = 'connect';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the cluster was not ready within ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
      cluster.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
      cluster.once('end', () => {
        clearTimeout(timer);
        reject(new Error('the connection ended'));
      });
    });
    stage = 'load';
    await Promise.all(
      cluster
        .nodes('master')
        .map((node) => node.call('FUNCTION', 'LOAD', 'REPLACE', LIBRARY_SOURCE)),
    );
  } catch (error) {
    cluster.disconnect();
    throw new RedisStoreError(
      '*',
      stage === 'connect' || isUnreachable(error) ? 'unreachable' : 'failed',
      [],
      `Redis Cluster at ${where} could not be used: ${(error as Error).message}`,
      undefined,
      error,
    );
  }
  return new RedisClusterStore(cluster, options);
}
