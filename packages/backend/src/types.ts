import type { FormatName, Overflow, RoundingStrategy } from '@halfstep/codecs';
import type { SparseOptimizer } from '@halfstep/optim';
import type { StepResult } from './step-result.js';

/** How a table stores its weights: plain float32, or one of the codecs formats. */
export type StorageName = 'float32' | FormatName;

/** How updated weights (and 16-bit optimizer state) are rounded into storage. */
export type RoundingMode = 'stochastic' | 'nearest-even';

/** How an embedding bag pools its rows. */
export type Pooling = 'sum' | 'mean';

/**
 * What a fused backward does with a row whose summed gradient, or whose new float32 weights or
 * optimizer state, are not finite: 'error' refuses the whole step (no table of the call changes),
 * 'skip-rows' leaves those rows unchanged and updates the others.
 */
export type NonFinitePolicy = 'error' | 'skip-rows';

/**
 * A table's initial weights: zeros; uniform on [-bound, bound) drawn from the counter-based
 * generator (the same seed gives the same table on every backend); or explicit rows x dim values.
 * Stored rounded to nearest-even. See `initialRows` for the exact values.
 */
export type TableInit = 'zeros' | { readonly uniform: number } | Float32Array;

/** What a backend needs to allocate a table. */
export interface TableSpec {
  /** The table's name, used in error messages. */
  readonly name: string;
  /** The table number t in the random-bit counter (see the package README), 0..2^24 - 1. */
  readonly index: number;
  readonly rows: number;
  readonly dim: number;
  readonly storage: StorageName;
  /** Rounding of the weights' store (float32 storage ignores it). */
  readonly rounding: RoundingMode;
  readonly optimizer: SparseOptimizer;
  /** The 64-bit key of the counter-based random bits, as an unsigned bigint < 2^64. */
  readonly seed: bigint;
  /**
   * The initial weights, written by `createTable` (default zeros). A shared store writes them
   * only when it creates the table, not when it attaches to an existing one.
   */
  readonly init?: TableInit;
  /**
   * Observes the initialisation of a new table (for a progress display): called with `done`
   * rows of `total` (= `rows`) written so far, `done` strictly increasing, at least
   * `initProgressRows(dim)` rows apart and always once at the end with `done === total` (for
   * zeros, which write nothing, only that last call). The js, wasm and webgpu backends call it
   * synchronously inside `createTable` (through `initializeTable`); a store backend creates its
   * tables later, and its store calls it while writing a table it creates, never for one it
   * attaches to. It should not throw: an exception propagates out of the creation (out of
   * `createTable`, with the table's memory held until `dispose`). Not part of the table's
   * identity, and not kept by the handle.
   */
  readonly onProgress?: ((done: number, total: number) => void) | undefined;
}

/**
 * A table a backend allocated: its spec plus exact memory figures. The backend owns the memory;
 * the handle is valid until `disposeTable` or `dispose`.
 */
export interface TableHandle extends TableSpec {
  /** A backend-unique id. */
  readonly id: number;
  /** Exact bytes of the weights: rows x dim x (4, 2 or 1). */
  readonly weightBytes: number;
  /** Exact bytes of the optimizer state: rows x stateSize(dim) x (4 or 2). */
  readonly stateBytes: number;
}

/** The raw stored bytes of a table (little-endian codes), for checkpoints. */
export interface TableData {
  /** rows x dim codes in the storage format. */
  readonly weights: Uint8Array;
  /** rows x stateSize(dim) codes in the optimizer's state storage (empty when stateless). */
  readonly state: Uint8Array;
}

/**
 * The lookups of one batch for one table, as PyTorch's `EmbeddingBag` takes them: bag b pools
 * `indices[offsets[b] .. offsets[b+1])` (the last bag runs to the end); `offsets[0]` is 0.
 */
export interface BagInput {
  readonly indices: Int32Array;
  readonly offsets: Int32Array;
  /** One weight per index, multiplying its row (sum pooling only). */
  readonly perSampleWeights?: Float32Array | undefined;
}

/**
 * A float32 buffer owned by a backend (JS heap, WASM memory, a GPU buffer): the operands and
 * results of the dense kernels and the pooled output of `embeddingBagForward`. Row-major; a kernel
 * says how it reads the `size` values. Valid until `disposeTensor` or `dispose`; a tensor works
 * only with the backend that made it.
 */
export interface Tensor {
  /** The name of the backend that owns it. */
  readonly backend: string;
  /** A backend-unique id. */
  readonly id: number;
  /** Number of float32 values. */
  readonly size: number;
}

/** One table's part of a fused backward + update. */
export interface BagUpdate {
  readonly table: TableHandle;
  /** The batch the forward pass saw. */
  readonly input: BagInput;
  readonly pooling: Pooling;
  /** d loss / d output: bags x dim, row-major, on this backend. */
  readonly gradOutput: Tensor;
  /** The optimizer step (0 for the first update): selects the random bits and Adam's scalars. */
  readonly step: number;
  /**
   * What to do with a row whose summed gradient, or whose new float32 weights or optimizer
   * state, are not finite. Default 'error'.
   */
  readonly nonFinite?: NonFinitePolicy | undefined;
}

/** What a fused backward did, per table. */
export interface BagUpdateResult {
  /** Distinct rows updated. */
  readonly updatedRows: number;
  /**
   * Distinct rows left untouched ('skip-rows' only): their summed gradient, or their new float32
   * weights or state, were not finite.
   */
  readonly skippedRows: number;
}

/** Arguments of `matmul`: C = alpha * op(A) op(B) + beta * C, all row-major float32 tensors. */
export interface MatmulArgs {
  /** Rows of op(A) and C. */
  readonly m: number;
  /** Columns of op(B) and C. */
  readonly n: number;
  /** Columns of op(A), rows of op(B). */
  readonly k: number;
  /** m x k, or k x m when `transA` (at least that many values; the first ones are read). */
  readonly a: Tensor;
  /** k x n, or n x k when `transB`. */
  readonly b: Tensor;
  /** m x n; read only when beta != 0. */
  readonly c: Tensor;
  readonly transA?: boolean;
  readonly transB?: boolean;
  /** Default 1. */
  readonly alpha?: number;
  /** Default 0. */
  readonly beta?: number;
}

/**
 * Traffic between the host (JavaScript arrays) and the backend's memory since the backend was
 * created. Uploads are copies of host arrays into tensors, tables and (on a device) batches;
 * downloads are reads, exports and (on a device) step results; submissions are GPU queue
 * submissions (WebGPU), hand-offs to worker threads (WASM) or store calls (a table store), and
 * stay 0 on the JS backend. The JS and WASM backends count what the JS backend counts: their
 * copies into WASM linear memory inside a kernel call are not traffic.
 */
export interface BackendStats {
  /** Bytes copied from host arrays into backend memory (tensors, tables, batches). */
  readonly uploadBytes: number;
  /** Bytes copied from backend memory into host arrays (reads, exports, results). */
  readonly downloadBytes: number;
  /** Device submissions (WebGPU queue submits) or worker hand-offs (WASM threads). */
  readonly submissions: number;
}

/** Options of `Backend.writeRows`. */
export interface WriteRowsOptions {
  /**
   * Store NaN and infinities as given (in a 16- or 8-bit format: as that format's nearest-even,
   * saturating store encodes them). Default false: a non-finite value throws, nothing written.
   */
  readonly allowNonFinite?: boolean | undefined;
}

/**
 * A backend: owns the memory of its tables and tensors and runs the kernels on it (contract v2).
 *
 * Data lives where the backend computes. Kernels take handles (`TableHandle`, `Tensor`) and
 * enqueue work; they return before the work is done on an asynchronous device, so a whole
 * training step (forward, dense ops, loss, backward, fused update) runs without a host round
 * trip. Values come back only when asked: `read`, `readRows`, `exportTable` (promises), or the
 * `...Sync` twins where the memory is host-visible (js, wasm). Work runs in the order it was
 * enqueued; a read sees every earlier write.
 *
 * Every backend gives results bit-identical to `@halfstep/backend-js` for the embedding kernels
 * and the linear dense ops (see the README for the exact arithmetic), and the same errors for bad
 * input (the checks of this package), thrown before any write. A non-finite gradient, which only
 * the device may see, rejects the backward's promise instead and leaves every table unchanged.
 *
 * @example
 * ```ts
 * import { createBackend, registerBackend } from '@halfstep/backend';
 * import { jsBackend } from '@halfstep/backend-js';
 *
 * registerBackend(jsBackend);
 * const backend = await createBackend('js');
 * const a = backend.tensor(new Float32Array([1, 2, 3, 4])); // 2 x 2
 * const c = backend.tensor(4);
 * backend.matmul({ m: 2, n: 2, k: 2, a, b: a, c });
 * console.log(await backend.read(c)); // Float32Array [7, 10, 15, 22]
 * ```
 */
export interface Backend {
  /** The registered name, e.g. "js". */
  readonly name: string;

  /** Host <-> backend traffic and submissions since creation (see `BackendStats`). */
  stats(): BackendStats;
  /**
   * Resolves when every enqueued kernel has finished; rejects with the first error of an earlier
   * backward that nobody observed (a non-finite gradient found on the device).
   */
  flush(): Promise<void>;

  /**
   * A new tensor: `size` zeros, or a copy of `values` (an upload).
   * @throws RangeError for a size that is not a non-negative integer.
   */
  tensor(valuesOrSize: Float32Array | number): Tensor;
  /**
   * Copies `values` into `tensor` starting at value `offset` (default 0), enqueued after the work
   * before it. @throws RangeError when they do not fit.
   */
  write(tensor: Tensor, values: Float32Array, offset?: number): void;
  /** The tensor's values once every earlier kernel is done (a download). */
  read(tensor: Tensor): Promise<Float32Array>;
  /** The same, synchronously: only backends whose memory the host can see (js, wasm). */
  readSync?(tensor: Tensor): Float32Array;
  /** Frees a tensor; the handle is dead afterwards. */
  disposeTensor(tensor: Tensor): void;

  /**
   * Allocates a table: weights from `spec.init` (zeros by default; `initializeTable`),
   * optimizer state at each slot's `initial`.
   * @throws RangeError for a bad spec (see `checkTableSpec`).
   */
  createTable(spec: TableSpec): TableHandle;
  /** Frees a table's memory; the handle is dead afterwards. */
  disposeTable(table: TableHandle): void;
  /**
   * Decodes rows to float32: `rows` (every row when omitted) x dim values, row-major.
   * @throws RangeError for a row out of range.
   */
  readRows(table: TableHandle, rows?: Int32Array): Promise<Float32Array>;
  /** The same, synchronously (js, wasm). */
  readRowsSync?(table: TableHandle, rows?: Int32Array): Float32Array;
  /**
   * Stores float32 values into rows (every row when `rows` is omitted), rounded to nearest-even.
   * @throws RangeError for values of the wrong length, a row out of range, or a NaN or infinite
   *   value unless `options.allowNonFinite` (see `checkWriteRows`); nothing is written then.
   */
  writeRows(
    table: TableHandle,
    values: Float32Array,
    rows?: Int32Array,
    options?: WriteRowsOptions,
  ): void;
  /** A copy of the stored bytes (codes, little-endian). */
  exportTable(table: TableHandle): Promise<TableData>;
  /** The same, synchronously (js, wasm). */
  exportTableSync?(table: TableHandle): TableData;
  /** Replaces the stored bytes. @throws RangeError when a length does not match the table. */
  importTable(table: TableHandle, data: TableData): void;

  /** Bulk encode of host arrays with a rounding strategy (the codecs contract). */
  encode(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): Promise<void>;
  /** Bulk decode of host arrays (exact). */
  decode(format: FormatName, codes: Uint16Array | Uint8Array, out: Float32Array): Promise<void>;

  /**
   * Embedding-bag forward into `out` (bags x dim values): bag b is the sum over its positions i
   * of row(indices[i]) (times perSampleWeights[i]), divided by its size for 'mean'. The batch is
   * host data (uploaded).
   * @throws BadInputError for bad indices/offsets/weights (see `checkBagInput`), RangeError when
   *   `out` does not hold bags x dim values.
   */
  embeddingBagForward(table: TableHandle, input: BagInput, pooling: Pooling, out: Tensor): void;
  /**
   * Fused backward + optimizer update + rounded store, for one or more tables. Checks every
   * update's batch and shapes first (throws; nothing written). Resolves with what each table's
   * update did; rejects with a `BadInputError` when a gradient is not finite (policy 'error'),
   * in which case no table changed. The result is lazy (`StepResult`): on an asynchronous device
   * it is read back only when awaited; an error nobody awaited is reported by `flush()`.
   */
  embeddingBagBackward(updates: readonly BagUpdate[]): StepResult<BagUpdateResult[]>;

  /** C = alpha * op(A) op(B) + beta * C (see the README for the summation order). */
  matmul(args: MatmulArgs): void;
  /** x[r, c] += bias[c] for a rows x cols x, in place. */
  addBias(x: Tensor, bias: Tensor, rows: number, cols: number): void;
  /** out = max(x, 0) over x's values (out may be x). */
  relu(x: Tensor, out: Tensor): void;
  /** out = x > 0 ? grad : 0 over grad's values (out may be grad). */
  reluBackward(grad: Tensor, x: Tensor, out: Tensor): void;
  /** out = 1 / (1 + exp(-x)) over x's values (out may be x). */
  sigmoid(x: Tensor, out: Tensor): void;
  /**
   * Mean binary cross-entropy of the logits against 0/1 labels (same size) into `loss[0]`;
   * writes d loss / d logits into `grad` when given: (sigmoid(x) - y) / n.
   */
  bceWithLogits(logits: Tensor, labels: Tensor, loss: Tensor, grad?: Tensor): void;
  /** out[c] = sum over r ascending of x[r, c]: the bias gradient. */
  sumRows(x: Tensor, rows: number, cols: number, out: Tensor): void;

  /** Frees every table, tensor and scratch buffer; the backend is unusable afterwards. */
  dispose(): void;
}
