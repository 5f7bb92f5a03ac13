import { checkSameLength } from './check.js';

/** Default clamp of {@link logLoss}. */
export const LOG_LOSS_EPS = 1e-7;

/**
 * Mean binary cross-entropy `-(1/n) sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)]`, each `p_i`
 * first clamped to `[eps, 1 - eps]` (as sklearn's `log_loss`, which DLRM reports). Accumulated in
 * double precision. NaN for empty input.
 */
export function logLoss(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  eps: number = LOG_LOSS_EPS,
): number {
  checkSameLength(labels, probabilities);
  return logLossSum(labels, probabilities, eps) / labels.length;
}

/** The sum (not the mean) of the terms of {@link logLoss}. */
export function logLossSum(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  eps: number = LOG_LOSS_EPS,
): number {
  const hi = 1 - eps;
  let sum = 0;
  for (let i = 0; i < labels.length; i++) {
    let p = probabilities[i]!;
    if (p < eps) p = eps;
    else if (p > hi) p = hi;
    const y = labels[i]!;
    sum -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
  }
  return sum;
}
