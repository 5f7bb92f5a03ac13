import {
  type Backend,
  type BagInput,
  type BagUpdateResult,
  type TableHandle,
  toIndices,
} from '@halfstep/backend';
import { resolveBackend } from './backend.js';
import { type BagBatch, checkedBagInputs } from './batches.js';
import {
  type CollectionOptions,
  type ResolvedTableConfig,
  resolveSeed,
  resolveTableConfig,
  type TableConfig,
} from './config.js';
import { initializeTable } from './init.js';
import { loadCheckpoint, saveCheckpoint } from './persist.js';

/**
 * Many embedding bags trained together, as table-batched embeddings: one forward and one fused
 * backward for all tables per step, one seed, one step counter. Table t's random bits are keyed
 * by (seed, step, t, row, column).
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
  #step = 0;
  #pending: BagInput[] | null = null;
  #disposed = false;

  /** @internal Use `createEmbeddingBagCollection`. */
  constructor(backend: Backend, seed: bigint, configs: readonly ResolvedTableConfig[]) {
    this.backend = backend;
    this.seed = seed;
    this.configs = configs;
    this.handles = configs.map((c, t) =>
      backend.createTable({
        name: c.name,
        index: t,
        rows: c.rows,
        dim: c.dim,
        storage: c.storage,
        rounding: c.rounding,
        optimizer: c.optimizer,
        seed,
      }),
    );
    for (let t = 0; t < configs.length; t++)
      initializeTable(backend, this.handles[t], configs[t].init);
  }

  /** The name of the backend running the kernels. */
  get backendName(): string {
    return this.backend.name;
  }

  /** Optimizer steps taken (backward calls that succeeded). */
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
   * Pools every table's lookups: `batches[t]` for table t; returns one bags x dim Float32Array
   * per table. Every batch is checked (indices integers in range, offsets from 0, non-decreasing,
   * within the indices) before any lookup; the batches are kept for the next `backward`.
   * @throws BadInputError naming the table, the argument, the position and the value.
   */
  forward(batches: readonly BagBatch[]): Float32Array[] {
    this.#live();
    const inputs = checkedBagInputs(this.configs, batches);
    const outputs = inputs.map((input, t) =>
      this.backend.embeddingBagForward(this.handles[t], input, this.configs[t].pooling),
    );
    this.#pending = inputs;
    return outputs;
  }

  /**
   * The fused backward: for each table, sums the gradient of duplicate rows exactly (ascending
   * position), applies the optimizer to the touched rows only, and stores them with the table's
   * rounding. Every gradient is checked (length bags x dim; finite, unless the table's policy is
   * 'skip-rows') before any row is written, so a rejected call changes nothing. Advances the step.
   * @throws BadInputError; Error when no forward preceded it.
   */
  backward(gradOutputs: readonly Float32Array[]): BagUpdateResult[] {
    this.#live();
    const pending = this.#pending;
    if (pending === null)
      throw new Error('backward: call forward first (each forward allows one backward)');
    if (!Array.isArray(gradOutputs) || gradOutputs.length !== this.configs.length) {
      throw new RangeError(
        `backward: expected ${this.configs.length} gradients (one per table), got ${gradOutputs?.length}`,
      );
    }
    const results = this.backend.embeddingBagBackward(
      pending.map((input, t) => ({
        table: this.handles[t],
        input,
        pooling: this.configs[t].pooling,
        gradOutput: gradOutputs[t],
        step: this.#step,
        nonFinite: this.configs[t].nonFinite,
      })),
    );
    this.#pending = null;
    this.#step++;
    return results;
  }

  /** Decoded float32 values of table `table`'s rows (all rows by default), rows x dim. */
  readRows(table: number | string, rows?: Int32Array | ArrayLike<number>): Float32Array {
    this.#live();
    const t = this.tableIndex(table);
    const ids =
      rows === undefined ? undefined : toIndices(this.configs[t].name, this.configs[t].rows, rows);
    return this.backend.readRows(this.handles[t], ids);
  }

  /** Stores float32 values into rows of a table (rounded to nearest-even). */
  writeRows(
    table: number | string,
    values: Float32Array,
    rows?: Int32Array | ArrayLike<number>,
  ): void {
    this.#live();
    const t = this.tableIndex(table);
    const ids =
      rows === undefined ? undefined : toIndices(this.configs[t].name, this.configs[t].rows, rows);
    this.backend.writeRows(this.handles[t], values, ids);
  }

  /**
   * Saves every table's weights and optimizer state, the step and the seed to a safetensors file,
   * atomically (temporary file, fsync, rename): a crash midway leaves the previous file intact.
   */
  async save(path: string): Promise<void> {
    this.#live();
    await saveCheckpoint(path, this);
  }

  /**
   * Restores weights, optimizer state, step and seed from a file `save` wrote for tables of the
   * same shapes, storage and optimizer; training then continues bit-identically.
   * @throws CheckpointError when the file is truncated, corrupted or does not match.
   */
  async load(path: string): Promise<void> {
    this.#live();
    const step = await loadCheckpoint(path, this);
    this.#step = step;
    this.#pending = null;
  }

  /** Frees every table on the backend (the backend itself stays usable). */
  dispose(): void {
    if (this.#disposed) return;
    for (const h of this.handles) this.backend.disposeTable(h);
    this.#disposed = true;
  }
}

/**
 * Creates tables that train together (table-batched): one step counter and seed, table t keyed
 * by its position. Initialises the backend when given by name (async), then every table.
 * @throws RangeError/TypeError for a bad config.
 */
export async function createEmbeddingBagCollection(
  configs: readonly TableConfig[],
  options: CollectionOptions = {},
): Promise<EmbeddingBagCollection> {
  if (!Array.isArray(configs) || configs.length === 0)
    throw new RangeError('expected at least one table config');
  const resolved = configs.map((c, t) => resolveTableConfig(c, t, `table${t}`));
  const names = new Set(resolved.map((c) => c.name));
  if (names.size !== resolved.length) throw new RangeError('table names must be distinct');
  const seed = resolveSeed(options.seed);
  const backend = await resolveBackend(options.backend);
  return new EmbeddingBagCollection(backend, seed, resolved);
}
