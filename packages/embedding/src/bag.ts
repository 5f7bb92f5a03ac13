import type {
  Backend,
  BagUpdateResult,
  Pooling,
  RoundingMode,
  StorageName,
} from '@halfstep/backend';
import type { SparseOptimizer } from '@halfstep/optim';
import { createEmbeddingBagCollection, type EmbeddingBagCollection } from './collection.js';
import type { EmbeddingBagConfig } from './config.js';

/**
 * One embedding bag: a table of `rows` x `dim` weights in `storage`, pooled by `pooling`,
 * trained by `optimizer` with float32 math and rounded stores. It is a collection of one table
 * (table number 0), so a bag and table 0 of a collection with the same seed train identically.
 */
export class EmbeddingBag {
  readonly #collection: EmbeddingBagCollection;

  /** @internal Use `createEmbeddingBag`. */
  constructor(collection: EmbeddingBagCollection) {
    this.#collection = collection;
  }

  /** The table's name (errors, checkpoints). */
  get name(): string {
    return this.#collection.configs[0].name;
  }
  /** Rows of the table. */
  get rows(): number {
    return this.#collection.configs[0].rows;
  }
  /** Width of a row. */
  get dim(): number {
    return this.#collection.configs[0].dim;
  }
  /** Storage format of the weights. */
  get storage(): StorageName {
    return this.#collection.configs[0].storage;
  }
  /** Rounding of the weights' stores (float32 storage stores exactly). */
  get rounding(): RoundingMode {
    return this.#collection.configs[0].rounding;
  }
  /** How a bag pools its rows. */
  get pooling(): Pooling {
    return this.#collection.configs[0].pooling;
  }
  /** The optimizer updating the rows. */
  get optimizer(): SparseOptimizer {
    return this.#collection.configs[0].optimizer;
  }
  /** The backend running the kernels. */
  get backend(): Backend {
    return this.#collection.backend;
  }
  /** Its name, e.g. "js". */
  get backendName(): string {
    return this.#collection.backendName;
  }
  /** The 64-bit key of the counter-based random bits. */
  get seed(): bigint {
    return this.#collection.seed;
  }
  /** Optimizer steps taken. */
  get step(): number {
    return this.#collection.step;
  }
  /** Exact bytes of the weights: rows x dim x (4, 2 or 1). */
  get weightBytes(): number {
    return this.#collection.weightBytes;
  }
  /** Exact bytes of the optimizer state: rows x stateSize(dim) x (4 or 2). */
  get stateBytes(): number {
    return this.#collection.stateBytes;
  }

  /**
   * Pools the rows of each bag: bag b covers `indices[offsets[b] .. offsets[b+1])` (the last bag
   * runs to the end of `indices`), summed (times `perSampleWeights`, sum pooling only) or
   * averaged. Returns bags x dim float32 values. Indices and offsets are checked first.
   * @throws BadInputError naming the table, the argument, the position and the value.
   */
  forward(
    indices: Int32Array | ArrayLike<number>,
    offsets: Int32Array | ArrayLike<number>,
    perSampleWeights?: Float32Array,
  ): Float32Array {
    return this.#collection.forward([{ indices, offsets, perSampleWeights }])[0];
  }

  /**
   * Back-propagates `gradOutput` (bags x dim) through the last forward and updates the rows it
   * touched (duplicates summed exactly first); a rejected call changes nothing.
   * @throws BadInputError for a gradient of the wrong length or not finite (policy 'error').
   */
  backward(gradOutput: Float32Array): BagUpdateResult {
    return this.#collection.backward([gradOutput])[0];
  }

  /** The decoded float32 values of `rows` (all by default), rows x dim. */
  readRows(rows?: Int32Array | ArrayLike<number>): Float32Array {
    return this.#collection.readRows(0, rows);
  }

  /** Stores float32 values into rows (all by default), rounded to nearest-even. */
  writeRows(values: Float32Array, rows?: Int32Array | ArrayLike<number>): void {
    this.#collection.writeRows(0, values, rows);
  }

  /** Saves weights, optimizer state, step and seed to a safetensors file, atomically. */
  save(path: string): Promise<void> {
    return this.#collection.save(path);
  }

  /** Restores what `save` wrote; training then continues bit-identically. */
  load(path: string): Promise<void> {
    return this.#collection.load(path);
  }

  /** Frees the table's memory on the backend. */
  dispose(): void {
    this.#collection.dispose();
  }
}

/**
 * Creates an embedding bag (see `EmbeddingBagConfig` for the defaults: float16 storage,
 * stochastic rounding, sum pooling, seed 0, the "js" backend, uniform init of bound 1/sqrt(dim)).
 * @throws RangeError/TypeError for a bad config.
 */
export async function createEmbeddingBag(config: EmbeddingBagConfig): Promise<EmbeddingBag> {
  const { seed, backend, ...table } = config;
  const collection = await createEmbeddingBagCollection([{ name: 'embedding', ...table }], {
    seed,
    backend,
  });
  return new EmbeddingBag(collection);
}
