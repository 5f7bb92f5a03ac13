import {
  type BagInput,
  type BagUpdate,
  type BagUpdateResult,
  checkBagUpdate,
  type TableHandle,
  toIndices,
} from '@halfstep/backend';
import { AggregateScratch, aggregate } from '@halfstep/backend-js';
import { type BagBatch, checkedBagInputs } from '../batches.js';
import {
  type CollectionOptions,
  type ResolvedTableConfig,
  resolveSeed,
  resolveTableConfig,
  type TableConfig,
} from '../config.js';
import { createMemoryTableStore } from './memory.js';
import type { StoreTableSpec, StoreUpdateResult, TableStore } from './types.js';

/** What a backward did to one table of a {@link StoreEmbeddingBagCollection}. */
export interface StoreBagUpdateResult extends BagUpdateResult {
  /** Rows whose update the store acknowledged as durable (see `StoreUpdateResult`). */
  readonly acknowledgedRows: number;
}

/** Options of {@link createStoreEmbeddingBagCollection}. */
export interface StoreCollectionOptions {
  /** Key of every counter-based random bit (stochastic rounding, init). Default 0. */
  readonly seed?: number | bigint;
  /**
   * Where the tables live. Default: a new memory store on `backend`. The collection does not
   * own a store it is given: `close` leaves it open.
   */
  readonly store?: TableStore;
  /** The backend of the default memory store (instance or registered name). Default "js". */
  readonly backend?: CollectionOptions['backend'];
  /**
   * This trainer's number, 0 .. workers - 1, when several trainers share the store. Local step k
   * updates with optimizer step `k * workers + worker`, so that no two trainers use the same
   * random bits. Default 0.
   */
  readonly worker?: number;
  /** The number of trainers sharing the store. Default 1. */
  readonly workers?: number;
}

/** One table's batch after validation, with its distinct rows. */
interface Pending {
  readonly input: BagInput;
}

/**
 * Embedding bags trained against a {@link TableStore}: the asynchronous twin of
 * `EmbeddingBagCollection`. Forward fetches each table's distinct rows from the store and pools
 * them locally with backend-js's arithmetic; backward sums duplicate rows with backend-js's
 * `aggregate` and sends one summed gradient per distinct row to the store. With the memory store
 * on the JS backend (the default) the tables evolve bit-identically to `EmbeddingBagCollection`.
 */
export class StoreEmbeddingBagCollection {
  /** The store holding the tables. */
  readonly store: TableStore;
  /** The 64-bit key of the counter-based random bits. */
  readonly seed: bigint;
  /** The resolved table configs; table t's random bits use table number t. */
  readonly configs: readonly ResolvedTableConfig[];
  /** This trainer's number (see `StoreCollectionOptions.worker`). */
  readonly worker: number;
  /** The number of trainers sharing the store. */
  readonly workers: number;
  readonly #ownsStore: boolean;
  readonly #handles: TableHandle[];
  readonly #scratch: AggregateScratch[];
  #step = 0;
  #pending: Pending[] | null = null;
  #closed = false;

  /** @internal Use `createStoreEmbeddingBagCollection`. */
  constructor(
    store: TableStore,
    ownsStore: boolean,
    seed: bigint,
    configs: readonly ResolvedTableConfig[],
    worker: number,
    workers: number,
  ) {
    this.store = store;
    this.#ownsStore = ownsStore;
    this.seed = seed;
    this.configs = configs;
    this.worker = worker;
    this.workers = workers;
    // aggregate() and checkBagUpdate() read the table's shape from a handle-like record.
    this.#handles = configs.map((c, t) => ({
      ...storeTableSpec(c, t, seed),
      id: -1,
      weightBytes: 0,
      stateBytes: 0,
    }));
    this.#scratch = configs.map(() => new AggregateScratch());
  }

  /** Local steps taken (backward calls that reached the store). */
  get step(): number {
    return this.#step;
  }

  /** The optimizer step (random-bit counter) that the next backward uses. */
  get optimizerStep(): number {
    return this.#step * this.workers + this.worker;
  }

  /** The specs the store was opened with, in table order. */
  get specs(): readonly StoreTableSpec[] {
    return this.configs.map((c, t) => storeTableSpec(c, t, this.seed));
  }

  #live(): void {
    if (this.#closed) throw new Error('this embedding collection was closed');
  }

  /** The table number of `table` (a number or a name). @throws RangeError when there is none. */
  tableIndex(table: number | string): number {
    const t = typeof table === 'number' ? table : this.configs.findIndex((c) => c.name === table);
    if (!Number.isInteger(t) || t < 0 || t >= this.configs.length)
      throw new RangeError(`no table ${String(table)}`);
    return t;
  }

  /**
   * Pools every table's lookups (`batches[t]` for table t) from rows fetched from the store;
   * returns one bags x dim Float32Array per table. Every batch is checked before any fetch, as
   * `EmbeddingBagCollection.forward` does; the batches are kept for the next `backward`.
   * @throws BadInputError naming the table, the argument, the position and the value; the
   *   store's error when a row cannot be read.
   */
  async forward(batches: readonly BagBatch[]): Promise<Float32Array[]> {
    this.#live();
    const inputs = checkedBagInputs(this.configs, batches);
    const outputs = await Promise.all(
      inputs.map(async (input, t) => {
        const c = this.configs[t];
        const rows = distinctRows(input.indices);
        const values = await this.store.readRows(c.name, rows);
        return pool(input, c.pooling, c.dim, rows, values);
      }),
    );
    this.#pending = inputs.map((input) => ({ input }));
    return outputs;
  }

  /**
   * Sums each table's gradient per distinct row (backend-js's `aggregate`: ascending position,
   * float32 adds), checks everything for every table before anything is sent, then applies the
   * optimizer step in the store at `optimizerStep`. Advances the step once the store was asked,
   * even when it failed (a failed call may have updated some rows, whose random bits must not be
   * reused).
   * @throws BadInputError for bad gradients (nothing written); the store's error otherwise.
   */
  async backward(gradOutputs: readonly Float32Array[]): Promise<StoreBagUpdateResult[]> {
    this.#live();
    const pending = this.#pending;
    if (pending === null)
      throw new Error('backward: call forward first (each forward allows one backward)');
    if (!Array.isArray(gradOutputs) || gradOutputs.length !== this.configs.length) {
      throw new RangeError(
        `backward: expected ${this.configs.length} gradients (one per table), got ${gradOutputs?.length}`,
      );
    }
    const step = this.optimizerStep;
    const updates: BagUpdate[] = pending.map((p, t) => ({
      table: this.#handles[t],
      input: p.input,
      pooling: this.configs[t].pooling,
      gradOutput: gradOutputs[t],
      step,
      nonFinite: this.configs[t].nonFinite,
    }));
    for (const u of updates) checkBagUpdate(u);
    const summed = updates.map((u, t) => {
      const agg = aggregate(u, this.#scratch[t]);
      const dim = u.table.dim;
      const good = agg.count - agg.badCount;
      const rows = new Int32Array(good);
      const gradients = new Float32Array(good * dim);
      for (let k = 0, j = 0; k < agg.count; k++) {
        if (agg.bad[k] !== 0) continue;
        rows[j] = agg.rows[k];
        const source = agg.direct[k] === 1 ? u.gradOutput : agg.grads;
        const o = agg.offsetOf[k];
        gradients.set(source.subarray(o, o + dim), j * dim);
        j++;
      }
      return { rows, gradients, skipped: agg.badCount };
    });
    this.#pending = null;
    const settled = await Promise.allSettled(
      summed.map((s, t) =>
        s.rows.length === 0
          ? Promise.resolve<StoreUpdateResult>({ updatedRows: 0, acknowledgedRows: 0 })
          : this.store.applyGradients(this.configs[t].name, s.rows, s.gradients, step),
      ),
    );
    this.#step++;
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return settled.map((s, t) => {
      const r = (s as PromiseFulfilledResult<StoreUpdateResult>).value;
      return {
        updatedRows: r.updatedRows,
        skippedRows: summed[t].skipped,
        acknowledgedRows: r.acknowledgedRows,
      };
    });
  }

  /** Decoded float32 values of table `table`'s rows (all rows by default), rows x dim. */
  async readRows(
    table: number | string,
    rows?: Int32Array | ArrayLike<number>,
  ): Promise<Float32Array> {
    this.#live();
    const t = this.tableIndex(table);
    const c = this.configs[t];
    const ids =
      rows === undefined
        ? Int32Array.from({ length: c.rows }, (_, i) => i)
        : Int32Array.from(toIndices(c.name, c.rows, rows));
    return this.store.readRows(c.name, ids);
  }

  /** Closes the store when the collection created it (a store passed in stays open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsStore) await this.store.close();
  }
}

/** The store spec of table t of a collection. */
function storeTableSpec(c: ResolvedTableConfig, t: number, seed: bigint): StoreTableSpec {
  return {
    name: c.name,
    index: t,
    rows: c.rows,
    dim: c.dim,
    storage: c.storage,
    rounding: c.rounding,
    optimizer: c.optimizer,
    seed,
    init: c.init,
  };
}

/** The distinct values of `indices`, ascending. */
function distinctRows(indices: Int32Array): Int32Array {
  const sorted = Int32Array.from(indices).sort();
  let n = 0;
  for (let i = 0; i < sorted.length; i++)
    if (i === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = sorted[i];
  return sorted.slice(0, n);
}

/**
 * backend-js's forward on fetched rows: bag b, column c, positions ascending,
 * `acc = acc + v` (float32 adds from +0), v the element or `fround(weight * element)`; mean
 * pooling divides by the bag's size.
 */
function pool(
  input: BagInput,
  pooling: ResolvedTableConfig['pooling'],
  dim: number,
  rows: Int32Array,
  values: Float32Array,
): Float32Array {
  const { indices, offsets, perSampleWeights } = input;
  const where = new Map<number, number>();
  for (let k = 0; k < rows.length; k++) where.set(rows[k], k * dim);
  const bags = offsets.length;
  const n = indices.length;
  const out = new Float32Array(bags * dim);
  for (let b = 0; b < bags; b++) {
    const start = offsets[b];
    const end = b + 1 < bags ? offsets[b + 1] : n;
    const o = b * dim;
    for (let i = start; i < end; i++) {
      const r = where.get(indices[i]) as number;
      if (perSampleWeights === undefined) {
        for (let c = 0; c < dim; c++) out[o + c] = out[o + c] + values[r + c];
      } else {
        const s = perSampleWeights[i];
        for (let c = 0; c < dim; c++) out[o + c] = out[o + c] + Math.fround(s * values[r + c]);
      }
    }
    if (pooling === 'mean' && end > start) {
      const size = end - start;
      for (let c = 0; c < dim; c++) out[o + c] = out[o + c] / size;
    }
  }
  return out;
}

/**
 * Opens tables in a store (creating the missing ones, initialised from the seed exactly as
 * `createEmbeddingBagCollection` does) and returns a collection that trains them.
 * @throws RangeError/TypeError for a bad config or options; the store's TableMismatchError when
 *   an existing table differs.
 */
export async function createStoreEmbeddingBagCollection(
  configs: readonly TableConfig[],
  options: StoreCollectionOptions = {},
): Promise<StoreEmbeddingBagCollection> {
  if (!Array.isArray(configs) || configs.length === 0)
    throw new RangeError('expected at least one table config');
  const resolved = configs.map((c, t) => resolveTableConfig(c, t, `table${t}`));
  const names = new Set(resolved.map((c) => c.name));
  if (names.size !== resolved.length) throw new RangeError('table names must be distinct');
  const seed = resolveSeed(options.seed);
  const workers = options.workers ?? 1;
  const worker = options.worker ?? 0;
  if (!Number.isInteger(workers) || workers < 1)
    throw new RangeError(`workers must be a positive integer, got ${workers}`);
  if (!Number.isInteger(worker) || worker < 0 || worker >= workers)
    throw new RangeError(`worker must be an integer in [0, ${workers}), got ${worker}`);
  const owns = options.store === undefined;
  const store = options.store ?? (await createMemoryTableStore(options.backend));
  const collection = new StoreEmbeddingBagCollection(store, owns, seed, resolved, worker, workers);
  await store.openTables(collection.specs);
  return collection;
}
