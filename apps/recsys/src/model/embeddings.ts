import type { Backend, BagUpdateResult, Tensor } from '@halfstep/backend';
import {
  type BagBatch,
  createEmbeddingBagCollection,
  type EmbeddingBagCollection,
  type EmbeddingForward,
  type TableConfig,
} from '@halfstep/embedding';
import type { SparseOptimizer } from '@halfstep/optim';
import { deriveSeed } from './init.js';
import type { PrecisionSpec } from './precision.js';
import type { DlrmTables } from './tables.js';

/** What {@link EmbeddingTables.create} needs. */
export interface EmbeddingTablesOptions extends DlrmTablesSpec {
  readonly backend: Backend;
  /** Run seed: the tables' init and rounding bits derive from it. */
  readonly seed: number;
}

/** What defines a DLRM's tables, wherever their rows live. */
export interface DlrmTablesSpec {
  /** Rows of each table. */
  readonly tableSizes: readonly number[];
  readonly dim: number;
  readonly precision: PrecisionSpec;
  readonly optimizer: SparseOptimizer;
}

/** The name of a DLRM's table `t` (from 0): `C{t+1}`, as Criteo names its categorical columns. */
export function dlrmTableName(t: number): string {
  return `C${t + 1}`;
}

/**
 * The table configs of a DLRM: table t is named `C{t+1}`, one lookup per bag, sum pooling,
 * initialised uniform on [-sqrt(1 / n_t), sqrt(1 / n_t)) (DLRM's init). Shared by the in-memory
 * and the store-backed tables, which must agree bit for bit.
 */
export function dlrmTableConfigs(spec: DlrmTablesSpec): TableConfig[] {
  const { tableSizes, dim, precision, optimizer } = spec;
  return tableSizes.map((rows, t) => ({
    name: dlrmTableName(t),
    rows,
    dim,
    storage: precision.storage,
    rounding: precision.rounding,
    pooling: 'sum' as const,
    optimizer,
    init: { uniform: Math.sqrt(1 / rows) },
  }));
}

/** The tables' seed (init and rounding bits), derived from the run seed. */
export function dlrmTablesSeed(runSeed: number): bigint {
  return deriveSeed(runSeed, 1000);
}

/**
 * The bag batches of example-major `batch x tables` row indices, one lookup per bag: table t's
 * indices are column t. Reuses its arrays while the batch size stays the same.
 */
export class OneLookupBags {
  #offsets = new Int32Array(0);
  #indices: Int32Array[] = [];

  /** One `BagBatch` per table (valid until the next call). */
  of(sparse: Int32Array, batch: number, tables: number): BagBatch[] {
    if (this.#offsets.length !== batch || this.#indices.length !== tables) {
      this.#offsets = Int32Array.from({ length: batch }, (_, b) => b);
      this.#indices = Array.from({ length: tables }, () => new Int32Array(batch));
    }
    for (let t = 0; t < tables; t++) {
      const indices = this.#indices[t]!;
      for (let b = 0; b < batch; b++) indices[b] = sparse[b * tables + t]!;
    }
    return this.#indices.map((indices) => ({ indices, offsets: this.#offsets }));
  }
}

/**
 * The embedding bags of a DLRM, one lookup per bag and sum pooling, as one
 * `@halfstep/embedding` collection on the model's backend. Table t (rows n_t) is initialised
 * uniform on [-sqrt(1 / n_t), sqrt(1 / n_t)) (DLRM's init) from the counter-based generator and
 * stored rounded to nearest-even; the backward is the collection's fused backward + sparse
 * optimizer update + rounded store (stochastic rounding bits keyed by (seed, step, table, row)).
 * The pooled outputs stay on the backend (the collection's `EmbeddingForward`).
 */
export class EmbeddingTables implements DlrmTables {
  readonly #batches = new OneLookupBags();
  #pending: EmbeddingForward | null = null;

  private constructor(readonly collection: EmbeddingBagCollection) {}

  /** Allocates and initialises the tables on `options.backend`. */
  static async create(options: EmbeddingTablesOptions): Promise<EmbeddingTables> {
    const collection = await createEmbeddingBagCollection(dlrmTableConfigs(options), {
      seed: dlrmTablesSeed(options.seed),
      backend: options.backend,
    });
    return new EmbeddingTables(collection);
  }

  /** The backend holding the tables (the model's, or a store backend). */
  get backend(): Backend {
    return this.collection.backend;
  }

  /** Number of tables. */
  get count(): number {
    return this.collection.configs.length;
  }

  /** Optimizer steps taken (`update` calls, restored by `load`). */
  get step(): number {
    return this.collection.step;
  }

  /** Exact bytes of the stored weights of every table (rows x dim x bytes per element). */
  get weightBytes(): number {
    return this.collection.weightBytes;
  }

  /** Exact bytes of the optimizer state of every table. */
  get stateBytes(): number {
    return this.collection.stateBytes;
  }

  /**
   * Pooled lookups of a batch on the backend: `sparse` is `batch x tables` row indices
   * (example-major); returns the collection's forward: one `batch x dim` tensor per table in
   * `outputs` (one index per bag, sum pooling), kept for `update`. A lookup not yet ended is
   * released first.
   */
  forward(sparse: Int32Array, batch: number): EmbeddingForward {
    this.release();
    const forward = this.collection.forward(this.#batches.of(sparse, batch, this.count));
    this.#pending = forward;
    return forward;
  }

  /** {@link EmbeddingTables.forward}'s outputs (the {@link DlrmTables} form). */
  async lookup(sparse: Int32Array, batch: number): Promise<readonly Tensor[]> {
    return this.forward(sparse, batch).outputs;
  }

  /**
   * Applies d loss / d pooled output (`grads[t]`, `batch x dim`, host arrays or backend tensors)
   * of the last forward; advances the step. Rejects for a gradient that is not finite (no table
   * changed).
   * @throws Error when no forward is pending.
   */
  async update(grads: readonly (Float32Array | Tensor)[]): Promise<BagUpdateResult[]> {
    const forward = this.#pending;
    if (forward === null) throw new Error('update: call forward first (one update per forward)');
    this.#pending = null;
    return this.collection.backward(forward, grads);
  }

  /** Ends the pending forward without an update (after evaluation). */
  release(): void {
    const forward = this.#pending;
    this.#pending = null;
    if (forward !== null && !forward.consumed) forward.release();
  }

  /** Decoded float32 rows x dim values of table `t`. */
  readTable(t: number): Promise<Float32Array> {
    return this.collection.readRows(t);
  }

  /** Frees the tables' backend memory. */
  dispose(): void {
    this.release();
    this.collection.dispose();
  }
}
