import type { IndexArray } from '@halfstep/backend';
import {
  type Backend,
  type BagUpdateResult,
  type Pooling,
  type RoundingMode,
  StepResult,
  type StorageName,
  type Tensor,
  type WriteRowsOptions,
} from '@halfstep/backend';
import { argumentError, checkOptions } from '@halfstep/codecs';
import type { SparseOptimizer } from '@halfstep/optim';
import { createCollection, type EmbeddingBagCollection } from './collection.js';
import {
  COLLECTION_OPTION_KEYS,
  CONFIG_HINTS,
  type EmbeddingBagConfig,
  TABLE_CONFIG_KEYS,
} from './config.js';
import type { EmbeddingForward } from './forward.js';
import type { LoadOptions } from './persist.js';

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
    return this.#collection.configs[0]!.name;
  }
  /** Rows of the table. */
  get rows(): number {
    return this.#collection.configs[0]!.rows;
  }
  /** Width of a row. */
  get dim(): number {
    return this.#collection.configs[0]!.dim;
  }
  /** Storage format of the weights. */
  get storage(): StorageName {
    return this.#collection.configs[0]!.storage;
  }
  /** Rounding of the weights' stores (float32 storage stores exactly). */
  get rounding(): RoundingMode {
    return this.#collection.configs[0]!.rounding;
  }
  /** How a bag pools its rows. */
  get pooling(): Pooling {
    return this.#collection.configs[0]!.pooling;
  }
  /** The optimizer updating the rows. */
  get optimizer(): SparseOptimizer {
    return this.#collection.configs[0]!.optimizer;
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
   * averaged, into bags x dim float32 values on the backend. Indices and offsets are checked
   * first. Returns the forward: `outputs[0]` is the pooled tensor, `read()` / `readSync()` give
   * `[values]`, and `backward(forward, gradient)` trains on it. Indices and offsets may be int64
   * (`BigInt64Array`, as PyTorch makes them) or arrays of bigints: each value is checked and
   * converted.
   * @throws TypeError naming the argument when `indices` or `offsets` is missing or not an array;
   *   BadInputError naming the table, the argument, the position and the value.
   */
  forward(
    indices: IndexArray,
    offsets: IndexArray,
    perSampleWeights?: Float32Array,
  ): EmbeddingForward<[Float32Array]> {
    return this.#collection.forward([
      perSampleWeights === undefined
        ? { indices, offsets }
        : { indices, offsets, perSampleWeights },
    ]);
  }

  /**
   * Back-propagates `gradOutput` (bags x dim, a host array or a tensor on the backend) through
   * `forward` and updates the rows it touched (duplicates summed exactly first). Rejects, changing
   * nothing, when the gradient is not finite (policy 'error').
   * @throws BadInputError for a gradient of the wrong length; Error for a spent or stale forward.
   */
  backward(
    forward: EmbeddingForward,
    gradOutput: Float32Array | Tensor,
  ): StepResult<BagUpdateResult> {
    const results = this.#collection.backward(forward, [gradOutput]);
    return new StepResult(async () => (await results)[0]!);
  }

  /** The decoded float32 values of `rows` (all by default), rows x dim. */
  readRows(rows?: Int32Array | ArrayLike<number>): Promise<Float32Array> {
    return this.#collection.readRows(0, rows);
  }

  /** The same, synchronously, on backends whose memory the host can see (js, wasm). */
  readRowsSync(rows?: Int32Array | ArrayLike<number>): Float32Array {
    return this.#collection.readRowsSync(0, rows);
  }

  /**
   * Stores float32 values into rows (all by default), rounded to nearest-even; a NaN or infinite
   * value throws a RangeError, writing nothing, unless `options.allowNonFinite`.
   */
  writeRows(
    values: Float32Array,
    rows?: Int32Array | ArrayLike<number>,
    options?: WriteRowsOptions,
  ): void {
    this.#collection.writeRows(0, values, rows, options);
  }

  /**
   * Saves weights, optimizer state, step and seed to a safetensors file, atomically, with a
   * checksum of every tensor (see `EmbeddingBagCollection.save`). Node.js only: in a browser it
   * rejects with a `CheckpointError` (reason `unsupported`); use {@link toSafetensors} there.
   */
  save(path: string): Promise<void> {
    return this.#collection.save(path);
  }

  /**
   * Restores what `save` wrote, after checking it (see `EmbeddingBagCollection.load`); training
   * then continues bit-identically.
   */
  load(path: string, options?: LoadOptions): Promise<void> {
    return this.#collection.load(path, options);
  }

  /**
   * The checkpoint `save` writes, as bytes (a safetensors file in memory): for browsers, which
   * have no file system for `save(path)`; keep it in IndexedDB or offer it as a download.
   *
   * @example
   * ```ts
   * import { createEmbeddingBag } from '@halfstep/embedding';
   * import { sgd } from '@halfstep/optim';
   *
   * const bag = await createEmbeddingBag({ rows: 100, dim: 4, optimizer: sgd({ lr: 0.1 }) });
   * await bag.backward(bag.forward([1, 2], [0]), new Float32Array(4).fill(0.5));
   * const bytes = await bag.toSafetensors(); // Uint8Array: weights, optimizer state, step, seed
   * const copy = await createEmbeddingBag({ rows: 100, dim: 4, optimizer: sgd({ lr: 0.1 }) });
   * await copy.loadSafetensors(bytes);
   * console.log(copy.step); // 1
   * ```
   */
  toSafetensors(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#collection.toSafetensors();
  }

  /**
   * Restores what `toSafetensors` (or `save`) produced, from its bytes, with every check of
   * `load` (see `EmbeddingBagCollection.loadSafetensors`).
   */
  loadSafetensors(bytes: Uint8Array, options?: LoadOptions): Promise<void> {
    return this.#collection.loadSafetensors(bytes, options);
  }

  /**
   * Resolves when the backend has finished every step enqueued so far; rejects with the first
   * error of a step nobody awaited.
   */
  flush(): Promise<void> {
    return this.#collection.flush();
  }

  /** Frees the table's memory on the backend. */
  dispose(): void {
    this.#collection.dispose();
  }
}

const BAG_CONFIG_KEYS = Object.freeze([...TABLE_CONFIG_KEYS, ...COLLECTION_OPTION_KEYS]);

/**
 * Creates an embedding bag (see `EmbeddingBagConfig` for the defaults: float16 storage,
 * stochastic rounding, sum pooling, seed 0, the "js" backend, uniform init of bound 1/sqrt(dim)).
 * @throws TypeError naming the field for a config that is not an object, a wrong type (a missing
 *   `rows`, `dim` or `optimizer` included) or an unknown key (with a suggestion for PyTorch's
 *   names: `num_embeddings` -> `rows`, `mode` -> `pooling`...); RangeError naming the field for a
 *   value out of range.
 *
 * @example
 * ```ts
 * import { createEmbeddingBag } from '@halfstep/embedding';
 * import { sgd } from '@halfstep/optim';
 *
 * const bag = await createEmbeddingBag({ rows: 1000, dim: 4, optimizer: sgd({ lr: 0.5 }) });
 * const forward = bag.forward([7, 7, 42], [0, 2]); // bags [7, 7] and [42]
 * const [pooled] = await forward.read(); // 2 x 4 values
 * await bag.backward(forward, new Float32Array(8).fill(0.1));
 * console.log(bag.step, bag.weightBytes); // 1 8000
 * ```
 */
export async function createEmbeddingBag(config: EmbeddingBagConfig): Promise<EmbeddingBag> {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw argumentError(
      'createEmbeddingBag: config',
      'a config { rows, dim, optimizer, ... }',
      config,
    );
  }
  checkOptions('createEmbeddingBag', config, BAG_CONFIG_KEYS, {
    argument: 'config',
    hints: CONFIG_HINTS,
  });
  const { seed, backend, ...table } = config;
  const collection = await createCollection(
    'createEmbeddingBag',
    [{ name: 'embedding', ...table }],
    { seed, backend },
  );
  return new EmbeddingBag(collection);
}
