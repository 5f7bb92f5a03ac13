/** The optimizers halfstep knows, by kind. */
export type OptimizerKind = 'sgd' | 'momentum' | 'adagrad' | 'rowwise-adagrad' | 'adam';

/** The formats optimizer state may be stored in. */
export type StateStorage = 'float32' | 'float16' | 'bfloat16';

/**
 * One named piece of per-row optimizer state: `perElement` slots hold `dim` values per row
 * (Adagrad's sum of squares, Adam's moments), the others one value per row (row-wise Adagrad).
 */
export interface StateSlot {
  readonly name: string;
  readonly perElement: boolean;
  /** The value every state element starts at (0, or Adagrad's `initialAccumulator`). */
  readonly initial: number;
}

/** Weight decay: `l2` adds `rate * w` to the gradient; `decoupled` shrinks w by `lr * rate * w` first. */
export interface WeightDecay {
  readonly mode: 'l2' | 'decoupled';
  /** >= 0, and finite in float32. */
  readonly rate: number;
}

/**
 * Options every optimizer accepts. Every number is checked as given and again as the float32 value
 * the kernels use (`Math.fround`): a value that rounds to Infinity, to 0 where 0 is not allowed, or
 * to 1 for a factor in [0, 1) throws a RangeError naming the factory, the option and both values.
 */
export interface CommonOptions {
  /** Learning rate, > 0, and finite and > 0 in float32. */
  readonly lr: number;
  /** Weight decay; none by default. */
  readonly weightDecay?: WeightDecay | undefined;
  /**
   * After the update, a row whose L2 norm exceeds this (> 0, finite and > 0 in float32) is scaled
   * down to it. Off by default.
   */
  readonly maxNorm?: number | undefined;
  /**
   * Storage of the state: float32 (default) or a 16-bit format, stored with stochastic rounding
   * (by the backend, with its own random-bit domain) like the weights.
   */
  readonly stateStorage?: StateStorage | undefined;
}

/**
 * A sparse optimizer: a pure description of its per-row state layout, and the float32 rule that
 * updates one row. Backends loop `updateRow` over the unique rows a batch touched; nothing in it
 * allocates.
 *
 * Float32 semantics: every multiply, add, divide and square root of the rules is rounded to
 * float32 (`Math.fround`) before it is used, in the order the TSDoc of each factory writes it, so
 * that any backend implementing the same formulas in IEEE float32 without contraction (no FMA)
 * gets bit-identical results.
 */
export interface SparseOptimizer {
  readonly kind: OptimizerKind;
  /** The options as normalised (defaults filled in). */
  readonly options: Readonly<Record<string, number | string | undefined>>;
  /** The state slots, in storage order. */
  readonly slots: readonly StateSlot[];
  readonly stateStorage: StateStorage;
  /**
   * Whether `updateRow` writes the gradient row (L2 weight decay adds `rate * w` to it in
   * place); when false a backend may pass a view of the caller's gradient without copying.
   */
  readonly writesGradient: boolean;
  /** The maximum L2 norm of a row after the update, or 0 for none. */
  readonly maxNorm: number;
  /** The number of state values per row for rows of width `dim`. */
  stateSize(dim: number): number;
  /** The number of per-step scalars `stepScalars` writes (see `updateRow`). */
  readonly scalarCount: number;
  /**
   * Writes the scalars the rule needs at optimizer step `step` (0 for the first update) into
   * `out` (length `scalarCount`), as float32. The host computes them once per step, so that every
   * backend uses the same values (e.g. Adam's bias corrections, whose `Math.pow` is not
   * correctly rounded).
   */
  stepScalars(step: number, out: Float32Array): void;
  /**
   * Updates one row in place, in float32: `w[wo .. wo+dim)` with gradient `g[go .. go+dim)`
   * (duplicates already summed) and state `s[so .. so+stateSize(dim))` (decoded to float32,
   * slots one after another), using `scalars` from `stepScalars`. Weight decay and the max-norm
   * clip are applied here too. Writes only `w` and `s` (and `g`, for L2 weight decay).
   */
  updateRow(
    w: Float32Array,
    wo: number,
    g: Float32Array,
    go: number,
    s: Float32Array,
    so: number,
    dim: number,
    scalars: Float32Array,
  ): void;
}
