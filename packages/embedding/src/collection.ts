import {
  type Backend,
  BadInputError,
  type BagUpdate,
  type BagUpdateResult,
  type StepResult,
  type TableHandle,
  type Tensor,
  toIndices,
  type WriteRowsOptions,
} from '@halfstep/backend';
import { argumentError, checkOptions } from '@halfstep/codecs';
import { resolveBackend } from './backend.js';
import { type BagBatch, checkedBagInputs } from './batches.js';
import {
  COLLECTION_OPTION_KEYS,
  CONFIG_HINTS,
  type CollectionOptions,
  type ResolvedTableConfig,
  resolveSeed,
  resolveTableConfig,
  type TableConfig,
} from './config.js';
import { type AnyForward, EmbeddingForward } from './forward.js';
import {
  checkpointBytes,
  type LoadOptions,
  loadCheckpoint,
  loadCheckpointBytes,
  saveCheckpoint,
} from './persist.js';
import { TensorPool } from './tensor-pool.js';

/**
 * Many embedding bags trained together, as table-batched embeddings: one forward and one fused
 * backward for all tables per step, one seed, one step counter. Table t's random bits are keyed
 * by (seed, step, t, row, column). The tables live on the backend; `forward` and `backward`
 * enqueue work there and return without waiting for it, so on a GPU a training step moves only
 * its batch (and the gradients, when they are host arrays).
 *
 * @example
 * ```ts
 * import { createEmbeddingBagCollection } from '@halfstep/embedding';
 * import { sgd } from '@halfstep/optim';
 *
 * const tables = await createEmbeddingBagCollection(
 *   [
 *     { name: 'users', rows: 1000, dim: 8, optimizer: sgd({ lr: 0.1 }) },
 *     { name: 'items', rows: 500, dim: 8, optimizer: sgd({ lr: 0.1 }) },
 *   ],
 *   { seed: 7 },
 * );
 * const forward = tables.forward([
 *   { indices: [3, 14], offsets: [0, 1] }, // users: 2 bags of 1
 *   { indices: [15, 9, 2], offsets: [0, 2] }, // items: bags [15, 9] and [2]
 * ]);
 * const [users, items] = await forward.read(); // 2 x 8 values each
 * await tables.backward(forward, [new Float32Array(16).fill(0.5), new Float32Array(16).fill(-0.5)]);
 * console.log(tables.step); // 1
 * ```
 */
export class EmbeddingBagCollection {
  /** The backend that runs the kernels (its `name` says which one ran). */
  readonly backend: Backend;
  /** The 64-bit key of the counter-based random bits. */
  readonly seed: bigint;
  /** The resolved table configs. */
  readonly configs: readonly ResolvedTableConfig[];
  /** The tables' handles on the backend (for backend-level access, e.g. `exportTable`). */
  readonly handles: readonly TableHandle[];
  readonly #pool: TensorPool;
  readonly #giveBack = (outputs: readonly Tensor[], forward?: AnyForward) => {
    if (forward) this.#open.delete(forward);
    for (const t of outputs) this.#pool.release(t);
  };
  /** Forwards not yet spent: their outputs are freed with the collection. */
  readonly #open = new Set<AnyForward>();
  /** Checkpoints loaded so far: a forward from before a load cannot train. */
  #loads = 0;
  /** Whether the collection made its backend (from a registered name) and so disposes it. */
  readonly #ownsBackend: boolean;
  #step = 0;
  #disposed = false;

  /** @internal Use `createEmbeddingBagCollection`. */
  constructor(
    backend: Backend,
    seed: bigint,
    configs: readonly ResolvedTableConfig[],
    ownsBackend = false,
  ) {
    this.backend = backend;
    this.seed = seed;
    this.configs = configs;
    this.#ownsBackend = ownsBackend;
    this.#pool = new TensorPool(backend);
    const handles: TableHandle[] = [];
    try {
      configs.forEach((c, t) => {
        handles.push(
          backend.createTable({
            name: c.name,
            index: t,
            rows: c.rows,
            dim: c.dim,
            storage: c.storage,
            rounding: c.rounding,
            optimizer: c.optimizer,
            seed,
            init: c.init,
          }),
        );
      });
    } catch (error) {
      // A table the backend refused: free the ones made before it (and a backend made for us).
      for (const h of handles) backend.disposeTable(h);
      if (ownsBackend) backend.dispose();
      throw error;
    }
    this.handles = handles;
  }

  /** The name of the backend running the kernels. */
  get backendName(): string {
    return this.backend.name;
  }

  /**
   * Optimizer steps taken: backward calls enqueued. A step whose gradient turns out not to be
   * finite still counts (its promise rejects and no table changed; its random bits are never
   * reused).
   */
  get step(): number {
    return this.#step;
  }

  /** Exact bytes of all tables' weights. */
  get weightBytes(): number {
    return this.handles.reduce((sum, h) => sum + h.weightBytes, 0);
  }

  /** Exact bytes of all tables' optimizer state. */
  get stateBytes(): number {
    return this.handles.reduce((sum, h) => sum + h.stateBytes, 0);
  }

  #live(): void {
    if (this.#disposed) throw new Error('this embedding collection was disposed');
  }

  /** The table number of `table` (a number or a name). @throws RangeError when there is none. */
  tableIndex(table: number | string): number {
    const t = typeof table === 'number' ? table : this.configs.findIndex((c) => c.name === table);
    if (!Number.isInteger(t) || t < 0 || t >= this.configs.length)
      throw new RangeError(`no table ${String(table)}`);
    return t;
  }

  /**
   * Pools every table's lookups: `batches[t]` for table t. Every batch is checked (indices
   * integers in range, offsets from 0, non-decreasing, within the indices) before any lookup.
   * Returns the forward: its `outputs` (one bags x dim tensor per table) and what its one
   * `backward` needs. For a list of batches written out, `read()` gives a tuple of as many
   * arrays (`const [users, items] = await forward.read()` needs no checks for undefined).
   * @throws BadInputError naming the table, the argument, the position and the value.
   */
  forward<Batches extends readonly BagBatch[] | []>(
    batches: Batches,
  ): EmbeddingForward<{ -readonly [K in keyof Batches]: Float32Array }> {
    this.#live();
    const inputs = checkedBagInputs(this.configs, batches);
    const outputs = inputs.map((input, t) => {
      const out = this.#pool.take(input.offsets.length * this.configs[t]!.dim);
      this.backend.embeddingBagForward(this.handles[t]!, input, this.configs[t]!.pooling, out);
      return out;
    });
    const forward = new EmbeddingForward<{ -readonly [K in keyof Batches]: Float32Array }>(
      this,
      this.backend,
      { step: this.#step, loads: this.#loads },
      inputs,
      outputs,
      this.#giveBack,
    );
    this.#open.add(forward);
    return forward;
  }

  /**
   * The fused backward of `forward`: for each table, sums the gradient of duplicate rows exactly
   * (ascending position), applies the optimizer to the touched rows only, and stores them with
   * the table's rounding. `gradOutputs[t]` is d loss / d outputs[t] (bags x dim), a tensor on
   * this backend or a host array (uploaded). Shapes are checked before anything is enqueued; a
   * gradient that is not finite (policy 'error') rejects the returned promise and changes no
   * table. Advances the step and spends the forward (its outputs are reused).
   * @throws TypeError when `forward` is not a forward or `gradOutputs` not an array of
   *   Float32Arrays or tensors; Error when `forward` is not an unspent forward of this collection
   *   at the current step; RangeError/BadInputError for gradients of the wrong number or size.
   */
  backward(
    forward: EmbeddingForward,
    gradOutputs: readonly (Tensor | Float32Array)[],
  ): StepResult<BagUpdateResult[]> {
    this.#live();
    if (!(forward instanceof EmbeddingForward)) {
      throw argumentError(
        'backward: forward',
        'a forward of this collection (from its forward())',
        forward,
      );
    }
    if (forward.owner !== this)
      throw new Error('backward: expected a forward of this collection (from its forward())');
    forward.checkOpen('backward');
    if (forward.loads !== this.#loads)
      throw new Error('backward: this forward was made before load(); run forward again');
    if (forward.step !== this.#step) {
      throw new Error(
        `backward: this forward saw the tables at step ${forward.step}, but they are at step ${this.#step} now; run forward again`,
      );
    }
    if (!Array.isArray(gradOutputs)) {
      throw argumentError(
        'backward: gradOutputs',
        `an array of ${this.configs.length} gradients (one per table)`,
        gradOutputs,
      );
    }
    if (gradOutputs.length !== this.configs.length) {
      throw new RangeError(
        `backward: expected ${this.configs.length} gradients (one per table), got ${gradOutputs.length}`,
      );
    }
    gradOutputs.forEach((g, t) => {
      const isTensor =
        typeof g === 'object' && g !== null && typeof (g as { size?: unknown }).size === 'number';
      if (!(g instanceof Float32Array) && !isTensor) {
        throw argumentError(
          `backward: table "${this.configs[t]!.name}": gradOutput`,
          'a Float32Array or a tensor of this backend',
          g,
        );
      }
    });
    // Host gradients: every length checked before any tensor is taken from the pool.
    forward.inputs.forEach((input, t) => {
      const g = gradOutputs[t];
      const expected = input.offsets.length * this.configs[t]!.dim;
      if (g instanceof Float32Array && g.length !== expected) {
        throw new BadInputError(
          this.configs[t]!.name,
          'gradOutput',
          -1,
          g.length,
          `gradOutput: expected ${input.offsets.length} bags x ${this.configs[t]!.dim} = ${expected} values, got ${g.length}`,
        );
      }
    });
    const uploaded: Tensor[] = [];
    const updates: BagUpdate[] = forward.inputs.map((input, t) => {
      const g = gradOutputs[t];
      let gradOutput: Tensor;
      if (g instanceof Float32Array) {
        gradOutput = this.#pool.take(g.length);
        uploaded.push(gradOutput);
      } else gradOutput = g as Tensor;
      return {
        table: this.handles[t]!,
        input,
        pooling: this.configs[t]!.pooling,
        gradOutput,
        step: this.#step,
        nonFinite: this.configs[t]!.nonFinite,
      };
    });
    let results: StepResult<BagUpdateResult[]>;
    try {
      for (let t = 0; t < updates.length; t++) {
        const g = gradOutputs[t];
        if (g instanceof Float32Array) this.backend.write(updates[t]!.gradOutput, g);
      }
      results = this.backend.embeddingBagBackward(updates);
    } finally {
      this.#giveBack(uploaded);
    }
    // Enqueued: the forward is spent and its outputs free for the next one.
    this.#giveBack(forward.consume('used', 'backward'), forward);
    this.#step++;
    return results;
  }

  /** Decoded float32 values of table `table`'s rows (all rows by default), rows x dim. */
  async readRows(
    table: number | string,
    rows?: Int32Array | ArrayLike<number>,
  ): Promise<Float32Array> {
    this.#live();
    const t = this.tableIndex(table);
    return this.backend.readRows(this.handles[t]!, this.#rowIds(t, rows));
  }

  /**
   * The same, synchronously, on backends whose memory the host can see (js, wasm).
   * @throws Error on a backend without `readRowsSync` (WebGPU): use `readRows`.
   */
  readRowsSync(table: number | string, rows?: Int32Array | ArrayLike<number>): Float32Array {
    this.#live();
    const t = this.tableIndex(table);
    if (this.backend.readRowsSync === undefined) {
      throw new Error(
        `readRowsSync: backend "${this.backend.name}" reads asynchronously; use readRows()`,
      );
    }
    return this.backend.readRowsSync(this.handles[t]!, this.#rowIds(t, rows));
  }

  #rowIds(t: number, rows: Int32Array | ArrayLike<number> | undefined): Int32Array | undefined {
    return rows === undefined
      ? undefined
      : toIndices(this.configs[t]!.name, this.configs[t]!.rows, rows, 'rows');
  }

  /**
   * Stores float32 values into rows of a table (rounded to nearest-even).
   * @throws RangeError, writing nothing, for a NaN or infinite value unless
   *   `options.allowNonFinite` (and for values of the wrong length or a row out of range).
   */
  writeRows(
    table: number | string,
    values: Float32Array,
    rows?: Int32Array | ArrayLike<number>,
    options?: WriteRowsOptions,
  ): void {
    this.#live();
    const t = this.tableIndex(table);
    this.backend.writeRows(this.handles[t]!, values, this.#rowIds(t, rows), options);
  }

  /**
   * Saves every table's weights and optimizer state, the step and the seed to a safetensors file,
   * with a SHA-256 checksum of every tensor and of the metadata in its metadata, atomically
   * (temporary file, fsync, rename): a crash midway leaves the previous file intact, and the next
   * save removes the temporary files that killed saves of the same path left behind. Node.js
   * only: in a browser it rejects with a `CheckpointError` of reason `unsupported`; use
   * {@link toSafetensors} and {@link loadSafetensors} there.
   */
  async save(path: string): Promise<void> {
    this.#live();
    await saveCheckpoint(path, this);
  }

  /**
   * Restores weights, optimizer state, step and seed from a file `save` wrote for tables of the
   * same names, shapes, storage, rounding, pooling and optimizer (kind and options); training
   * then continues bit-identically. Everything is checked before any table is written: the
   * checksums, the metadata (a strict step), finite weights and state, non-negative sums of
   * squares. A file without checksums (e.g. rewritten by PyTorch) loads with a warning, given to
   * `options.onWarning` or else `process.emitWarning`. Forwards made before the load can no
   * longer be used for a backward.
   * @throws CheckpointError when the file is truncated, corrupted (`checksum-mismatch`) or holds
   *   invalid values (`invalid-value`) or metadata (`invalid-metadata`).
   * @throws CheckpointMismatchError when it was saved from other tables (the field is named).
   */
  async load(path: string, options?: LoadOptions): Promise<void> {
    this.#live();
    const step = await loadCheckpoint(path, this, options);
    this.#step = step;
    this.#loads++;
  }

  /**
   * The checkpoint `save` writes, as the bytes of a safetensors file: weights, optimizer state,
   * step, seed and the checksums. Works everywhere (browsers included, where `save(path)` has no
   * file system): keep the bytes in IndexedDB, offer them as a download, or send them anywhere;
   * `loadSafetensors(bytes)` restores them, and Python's safetensors reads them.
   *
   * @example
   * ```ts
   * import { createEmbeddingBagCollection } from '@halfstep/embedding';
   * import { sgd } from '@halfstep/optim';
   *
   * const config = [{ name: 'users', rows: 100, dim: 4, optimizer: sgd({ lr: 0.1 }) }];
   * const tables = await createEmbeddingBagCollection(config, { seed: 1 });
   * const bytes = await tables.toSafetensors(); // Uint8Array
   * // In a browser: new Blob([bytes]) for a download, or store it in IndexedDB.
   * const restored = await createEmbeddingBagCollection(config, { seed: 1 });
   * await restored.loadSafetensors(bytes);
   * ```
   */
  async toSafetensors(): Promise<Uint8Array<ArrayBuffer>> {
    this.#live();
    return checkpointBytes(this);
  }

  /**
   * Restores a checkpoint from the bytes of a safetensors file (from `toSafetensors()`, or a
   * file `save` wrote, read by any means), with every check of `load(path)`; errors name the
   * source "checkpoint bytes". Forwards made before it can no longer be used for a backward.
   * @throws TypeError when `bytes` is not a Uint8Array.
   * @throws CheckpointError / CheckpointMismatchError as `load` does.
   */
  async loadSafetensors(bytes: Uint8Array, options?: LoadOptions): Promise<void> {
    this.#live();
    const step = await loadCheckpointBytes(bytes, this, options);
    this.#step = step;
    this.#loads++;
  }

  /**
   * Resolves when the backend has finished every step enqueued so far; rejects with the first
   * error of a step nobody awaited (e.g. a non-finite gradient found on the device).
   */
  flush(): Promise<void> {
    this.#live();
    return this.backend.flush();
  }

  /**
   * Frees every table and pooled tensor on the backend. A backend given as an instance stays
   * usable; one the collection made from a registered name is disposed with it.
   */
  dispose(): void {
    if (this.#disposed) return;
    for (const h of this.handles) this.backend.disposeTable(h);
    for (const forward of this.#open) if (!forward.consumed) forward.release();
    this.#pool.dispose();
    if (this.#ownsBackend) this.backend.dispose();
    this.#disposed = true;
  }
}

/**
 * Creates tables that train together (table-batched): one step counter and seed, table t keyed
 * by its position. Initialises the backend when given by name (async), then every table.
 * @throws TypeError naming the argument for a wrong type, a missing `rows`, `dim` or `optimizer`,
 *   or an unknown key in a config or the options; RangeError naming it for a value out of range.
 * @example
 * ```ts
 * import { createEmbeddingBagCollection } from '@halfstep/embedding';
 * import { rowwiseAdagrad, sgd } from '@halfstep/optim';
 *
 * const tables = await createEmbeddingBagCollection(
 *   [
 *     { name: 'users', rows: 1000, dim: 8, optimizer: rowwiseAdagrad({ lr: 0.05 }) },
 *     { name: 'items', rows: 500, dim: 8, optimizer: sgd({ lr: 0.1 }), pooling: 'mean' },
 *   ],
 *   { seed: 1 }, // and `backend`: an instance or a registered name; "js" by default
 * );
 * console.log(tables.weightBytes); // 24000: float16 storage by default
 * ```
 */
export async function createEmbeddingBagCollection(
  configs: readonly TableConfig[],
  options: CollectionOptions = {},
): Promise<EmbeddingBagCollection> {
  return createCollection('createEmbeddingBagCollection', configs, options);
}

/** @internal `createEmbeddingBagCollection`, with `fn` the function its messages name. */
export async function createCollection(
  fn: string,
  configs: readonly TableConfig[],
  options: CollectionOptions = {},
): Promise<EmbeddingBagCollection> {
  if (!Array.isArray(configs))
    throw argumentError(`${fn}: configs`, 'an array of table configs', configs);
  if (configs.length === 0) throw new RangeError(`${fn}: expected at least one table config`);
  checkOptions(fn, options, COLLECTION_OPTION_KEYS, { hints: CONFIG_HINTS });
  const resolved = configs.map((c, t) => resolveTableConfig(c, t, `table${t}`, fn));
  const names = new Set(resolved.map((c) => c.name));
  if (names.size !== resolved.length) throw new RangeError(`${fn}: table names must be distinct`);
  const seed = resolveSeed(options.seed, fn);
  if (
    options.backend !== undefined &&
    typeof options.backend !== 'string' &&
    (typeof options.backend !== 'object' || options.backend === null)
  ) {
    throw argumentError(`${fn}: backend`, 'a Backend or a registered name', options.backend);
  }
  const ownsBackend = typeof options.backend !== 'object' || options.backend === null;
  const backend = await resolveBackend(options.backend);
  const collection = new EmbeddingBagCollection(backend, seed, resolved, ownsBackend);
  // Table creation may be asynchronous (a store opening tables, a device uploading the initial
  // weights): its errors belong here, not to the first step.
  try {
    await backend.flush();
  } catch (error) {
    collection.dispose();
    throw error;
  }
  return collection;
}
