import type { FormatName, Overflow, RoundingStrategy } from '@halfstep/codecs';
import type { SparseOptimizer } from '@halfstep/optim';

/** How a table stores its weights: plain float32, or one of the codecs formats. */
export type StorageName = 'float32' | FormatName;

/** How updated weights (and 16-bit optimizer state) are rounded into storage. */
export type RoundingMode = 'stochastic' | 'nearest-even';

/** How an embedding bag pools its rows. */
export type Pooling = 'sum' | 'mean';

/** What a fused backward does with a non-finite gradient: throw (nothing written), or skip those rows. */
export type NonFinitePolicy = 'error' | 'skip-rows';

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

/** One table's part of a fused backward + update. */
export interface BagUpdate {
  readonly table: TableHandle;
  /** The batch the forward pass saw. */
  readonly input: BagInput;
  readonly pooling: Pooling;
  /** d loss / d output: bags x dim, row-major. */
  readonly gradOutput: Float32Array;
  /** The optimizer step (0 for the first update): selects the random bits and Adam's scalars. */
  readonly step: number;
  /** Default 'error'. */
  readonly nonFinite?: NonFinitePolicy;
}

/** What a fused backward did, per table. */
export interface BagUpdateResult {
  /** Distinct rows updated. */
  readonly updatedRows: number;
  /** Distinct rows left untouched because their gradient was not finite ('skip-rows' only). */
  readonly skippedRows: number;
}

/** Arguments of `matmul`: C = alpha * op(A) op(B) + beta * C, all row-major float32. */
export interface MatmulArgs {
  /** Rows of op(A) and C. */
  readonly m: number;
  /** Columns of op(B) and C. */
  readonly n: number;
  /** Columns of op(A), rows of op(B). */
  readonly k: number;
  /** m x k, or k x m when `transA`. */
  readonly a: Float32Array;
  /** k x n, or n x k when `transB`. */
  readonly b: Float32Array;
  /** m x n; read only when beta != 0. */
  readonly c: Float32Array;
  readonly transA?: boolean;
  readonly transB?: boolean;
  /** Default 1. */
  readonly alpha?: number;
  /** Default 0. */
  readonly beta?: number;
}

/**
 * A backend: owns the memory of its tables and runs the kernels. Every backend gives results
 * bit-identical to `@halfstep/backend-js` for the embedding kernels and the linear dense ops (see
 * the README for the exact arithmetic), and throws the same errors for bad input (the checks of
 * this package).
 */
export interface Backend {
  /** The registered name, e.g. "js". */
  readonly name: string;

  /**
   * Allocates a table: weights zero, optimizer state at each slot's `initial`.
   * @throws RangeError for a bad spec (see `checkTableSpec`).
   */
  createTable(spec: TableSpec): TableHandle;
  /** Frees a table's memory; the handle is dead afterwards. */
  disposeTable(table: TableHandle): void;
  /**
   * Decodes rows to float32: `rows` (every row when omitted) x dim values, row-major.
   * @throws RangeError for a row out of range.
   */
  readRows(table: TableHandle, rows?: Int32Array, out?: Float32Array): Float32Array;
  /** Stores float32 values into rows (every row when `rows` is omitted), rounded to nearest-even. */
  writeRows(table: TableHandle, values: Float32Array, rows?: Int32Array): void;
  /** A copy of the stored bytes (codes, little-endian). */
  exportTable(table: TableHandle): TableData;
  /** Replaces the stored bytes. @throws RangeError when a length does not match the table. */
  importTable(table: TableHandle, data: TableData): void;

  /** Bulk encode with a rounding strategy (the codecs contract, on backend memory). */
  encode(
    format: FormatName,
    src: Float32Array,
    out: Uint16Array | Uint8Array,
    rounding: RoundingStrategy,
    overflow?: Overflow,
  ): void;
  /** Bulk decode (exact). */
  decode(format: FormatName, codes: Uint16Array | Uint8Array, out: Float32Array): void;

  /**
   * Embedding-bag forward: bags x dim float32; bag b is the sum over its positions i of
   * row(indices[i]) (times perSampleWeights[i]), divided by its size for 'mean'.
   * @throws BadInputError for bad indices/offsets/weights (see `checkBagInput`).
   */
  embeddingBagForward(table: TableHandle, input: BagInput, pooling: Pooling): Float32Array;
  /**
   * Fused backward + optimizer update + rounded store, for one or more tables. Validates every
   * update first (shapes, finiteness); a throw leaves every table unchanged.
   */
  embeddingBagBackward(updates: readonly BagUpdate[]): BagUpdateResult[];

  /** C = alpha * op(A) op(B) + beta * C (see the README for the summation order). */
  matmul(args: MatmulArgs): void;
  /** x[r, c] += bias[c] for a rows x cols x, in place. */
  addBias(x: Float32Array, bias: Float32Array, rows: number, cols: number): void;
  /** out = max(x, 0) (out may be x). */
  relu(x: Float32Array, out: Float32Array): void;
  /** out = x > 0 ? grad : 0 (out may be grad). */
  reluBackward(grad: Float32Array, x: Float32Array, out: Float32Array): void;
  /** out = 1 / (1 + exp(-x)) (out may be x). */
  sigmoid(x: Float32Array, out: Float32Array): void;
  /**
   * Mean binary cross-entropy of logits against 0/1 labels; writes d loss / d logits into `grad`
   * when given: (sigmoid(x) - y) / n.
   */
  bceWithLogits(logits: Float32Array, labels: Float32Array, grad?: Float32Array): number;
  /** out[c] = sum over r ascending of x[r, c]: the bias gradient. */
  sumRows(x: Float32Array, rows: number, cols: number, out: Float32Array): void;

  /** Frees every table and scratch buffer; the backend is unusable afterwards. */
  dispose(): void;
}
