import type { Backend } from '@halfstep/backend';
import { createEmbeddingBagCollection, type EmbeddingBagCollection } from '@halfstep/embedding';
import type { SparseOptimizer } from '@halfstep/optim';
import { deriveSeed } from './init.js';
import type { PrecisionSpec } from './precision.js';

/** What {@link EmbeddingTables.create} needs. */
export interface EmbeddingTablesOptions {
  readonly backend: Backend;
  /** Rows of each table. */
  readonly tableSizes: readonly number[];
  readonly dim: number;
  readonly precision: PrecisionSpec;
  readonly optimizer: SparseOptimizer;
  /** Run seed: the tables' init and rounding bits derive from it. */
  readonly seed: number;
}

/**
 * The embedding bags of a DLRM, one lookup per bag and sum pooling, as one
 * `@halfstep/embedding` collection on the model's backend. Table t (rows n_t) is initialised
 * uniform on [-sqrt(1 / n_t), sqrt(1 / n_t)) (DLRM's init) from the counter-based generator and
 * stored rounded to nearest-even; the backward is the collection's fused backward + sparse
 * optimizer update + rounded store (stochastic rounding bits keyed by (seed, step, table, row)).
 */
export class EmbeddingTables {
  #offsets = new Int32Array(0);
  #indices: Int32Array[] = [];

  private constructor(readonly collection: EmbeddingBagCollection) {}

  /** Allocates and initialises the tables on `options.backend`. */
  static async create(options: EmbeddingTablesOptions): Promise<EmbeddingTables> {
    const { tableSizes, dim, precision, optimizer, seed, backend } = options;
    const collection = await createEmbeddingBagCollection(
      tableSizes.map((rows, t) => ({
        name: `C${t + 1}`,
        rows,
        dim,
        storage: precision.storage,
        rounding: precision.rounding,
        pooling: 'sum' as const,
        optimizer,
        init: { uniform: Math.sqrt(1 / rows) },
      })),
      { seed: deriveSeed(seed, 1000), backend },
    );
    return new EmbeddingTables(collection);
  }

  /** Number of tables. */
  get count(): number {
    return this.collection.configs.length;
  }

  /** Optimizer steps taken (successful `update` calls, restored by `load`). */
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
   * Pooled lookups of a batch: `sparse` is `batch x tables` row indices (example-major); returns
   * one `batch x dim` array per table (one index per bag, sum pooling). The lookups are kept for
   * `update`.
   */
  forward(sparse: Int32Array, batch: number): Float32Array[] {
    const count = this.count;
    if (this.#offsets.length !== batch) {
      this.#offsets = Int32Array.from({ length: batch }, (_, b) => b);
      this.#indices = Array.from({ length: count }, () => new Int32Array(batch));
    }
    for (let t = 0; t < count; t++) {
      const indices = this.#indices[t];
      for (let b = 0; b < batch; b++) indices[b] = sparse[b * count + t];
    }
    return this.collection.forward(
      this.#indices.map((indices) => ({ indices, offsets: this.#offsets })),
    );
  }

  /** Applies d loss / d pooled output (`grads[t]`, `batch x dim`) of the last forward; advances the step. */
  update(grads: readonly Float32Array[]): void {
    this.collection.backward(grads);
  }

  /** Decoded float32 rows x dim values of table `t`. */
  readTable(t: number): Float32Array {
    return this.collection.readRows(t);
  }

  /** Frees the tables' backend memory. */
  dispose(): void {
    this.collection.dispose();
  }
}
