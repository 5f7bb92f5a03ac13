import type { OptimizerKind, SparseOptimizer } from './types.js';

/**
 * The number of each optimizer kind in the kernels' parameter words (the WASM and WGSL fused
 * updates, the Redis store's Lua): declared here once; the other languages are generated from it.
 */
export const OPTIMIZER_CODES: Readonly<Record<OptimizerKind, number>> = Object.freeze({
  sgd: 0,
  momentum: 1,
  adagrad: 2,
  'rowwise-adagrad': 3,
  adam: 4,
});

/**
 * The float32 scalars a kernel of the optimizer's rule reads at one step, derived here once from
 * the normalised options and `stepScalars`, so that every backend passes the same values. A
 * scalar the optimizer does not use is 0 (`oneMinusBeta1`/`oneMinusBeta2`: 1).
 */
export interface KernelConstants {
  /** Learning rate. */
  readonly lr: number;
  /** L2 weight decay rate (added to the gradient as `l2 * w`), or 0. */
  readonly l2: number;
  /** Decoupled weight decay rate, or 0. */
  readonly decoupled: number;
  /** Decoupled decay's factor `fround(lr * decoupled)`, rounded once (optim's `applyDecay`). */
  readonly shrink: number;
  /** The max-norm clip, or 0 for none. */
  readonly maxNorm: number;
  /** Adagrad's and Adam's epsilon. */
  readonly eps: number;
  /** Momentum's factor mu. */
  readonly momentum: number;
  /** Adam's beta1. */
  readonly beta1: number;
  /** Adam's beta2. */
  readonly beta2: number;
  /** `fround(1 - beta1)`. */
  readonly oneMinusBeta1: number;
  /** `fround(1 - beta2)`. */
  readonly oneMinusBeta2: number;
  /** Adam's bias correction `fround(1 - beta1^t)` of this step (`stepScalars`' word 0). */
  readonly biasCorrection1: number;
  /** Adam's bias correction `fround(1 - beta2^t)` of this step (`stepScalars`' word 1). */
  readonly biasCorrection2: number;
}

/**
 * The float32 constants of `optimizer`'s rule at optimizer step `step` (0 for the first update),
 * for a kernel in another language: every value is already rounded to float32.
 *
 * @example
 * ```ts
 * import { adam, kernelConstants } from '@halfstep/optim';
 *
 * const k = kernelConstants(adam({ lr: 0.01 }), 0);
 * console.log(k.oneMinusBeta1, k.biasCorrection1); // 0.10000002384185791 0.10000002384185791
 * ```
 */
export function kernelConstants(optimizer: SparseOptimizer, step: number): KernelConstants {
  const o = optimizer.options;
  const num = (name: string): number => {
    const v = o[name];
    return typeof v === 'number' ? Math.fround(v) : 0;
  };
  const lr = num('lr');
  const decoupled = num('decoupled');
  const beta1 = num('beta1');
  const beta2 = num('beta2');
  const scalars = new Float32Array(Math.max(2, optimizer.scalarCount));
  optimizer.stepScalars(step, scalars);
  return {
    lr,
    l2: num('l2'),
    decoupled,
    shrink: decoupled === 0 ? 0 : Math.fround(lr * decoupled),
    maxNorm: Math.fround(optimizer.maxNorm),
    eps: num('eps'),
    momentum: num('momentum'),
    beta1,
    beta2,
    oneMinusBeta1: Math.fround(1 - beta1),
    oneMinusBeta2: Math.fround(1 - beta2),
    biasCorrection1: scalars[0] ?? 0,
    biasCorrection2: scalars[1] ?? 0,
  };
}
