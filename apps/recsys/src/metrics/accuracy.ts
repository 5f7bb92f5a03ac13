import { checkSameLength } from './check.js';

/**
 * Fraction of examples whose prediction `p_i > threshold ? 1 : 0` equals the label (labels 0/1).
 * With the default 0.5 this is DLRM's `np.round(p)` rule (0.5 rounds to even, i.e. to 0).
 * NaN for empty input.
 */
export function accuracy(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  threshold = 0.5,
): number {
  checkSameLength(labels, probabilities);
  return accuracyCount(labels, probabilities, threshold) / labels.length;
}

/** The number (not the fraction) of correct predictions of {@link accuracy}. */
export function accuracyCount(
  labels: ArrayLike<number>,
  probabilities: ArrayLike<number>,
  threshold = 0.5,
): number {
  let correct = 0;
  for (let i = 0; i < labels.length; i++) {
    if (probabilities[i]! > threshold === labels[i]! > 0.5) correct++;
  }
  return correct;
}
