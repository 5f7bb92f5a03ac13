import { KAGGLE_CARDINALITIES } from '../schema.js';

/** The default cap on synthetic table sizes. */
export const DEFAULT_CAP = 100_000;

/**
 * Per dense column I1..I13: probability of an empty field, median and log-scale spread of the
 * log-normal count. Rough figures read off Criteo Kaggle's `train.txt` (shape, not exact values).
 */
export const DENSE_PROFILE: readonly { missing: number; median: number; sigma: number }[] = [
  { missing: 0.45, median: 1, sigma: 1.2 },
  { missing: 0, median: 3, sigma: 1.8 },
  { missing: 0.21, median: 6, sigma: 1.5 },
  { missing: 0.22, median: 4, sigma: 1 },
  { missing: 0.026, median: 2800, sigma: 1.8 },
  { missing: 0.22, median: 30, sigma: 1.6 },
  { missing: 0.043, median: 3, sigma: 1.5 },
  { missing: 0.0005, median: 8, sigma: 1 },
  { missing: 0.043, median: 40, sigma: 1.3 },
  { missing: 0.45, median: 0.5, sigma: 0.8 },
  { missing: 0.043, median: 1, sigma: 1 },
  { missing: 0.77, median: 0.2, sigma: 1 },
  { missing: 0.22, median: 4, sigma: 1.1 },
];

/** Probability that I2 is negative (as in the real data, where I2 alone has values -1..-3). */
export const I2_NEGATIVE_RATE = 0.05;

/** Probability of an empty field per categorical column C1..C26 (rough Kaggle figures). */
export const SPARSE_MISSING: readonly number[] = [
  0, 0, 0.034, 0.034, 0, 0.12, 0, 0, 0, 0, 0, 0.034, 0, 0, 0, 0.034, 0, 0, 0.44, 0.44, 0.034, 0.76,
  0, 0.034, 0.44, 0.44,
];

/** Zipf exponent of every categorical column's value frequencies. */
export const ZIPF_EXPONENT = 1.05;

/** Pairs of categorical columns (0-based) whose joint value carries an extra planted effect. */
export const INTERACTION_PAIRS: readonly (readonly [number, number])[] = [
  [0, 1],
  [5, 8],
  [13, 16],
  [19, 22],
  [4, 10],
];

/** The click rate the planted model's intercept is calibrated to (Criteo Kaggle: about 25.6%). */
export const TARGET_CLICK_RATE = 0.25;

/**
 * Rows of the 26 embedding tables for the built-in synthetic data: `min(kaggle, cap)` per column,
 * with Kaggle's cardinalities ({@link KAGGLE_CARDINALITIES}). Reading synthetic data with
 * `{ tableSizes: tableSizes(cap) }` gives every distinct value its own row (no collisions);
 * row 0 of each table is "missing".
 */
export function tableSizes(cap: number = DEFAULT_CAP): number[] {
  if (!Number.isInteger(cap) || cap < 2 || cap > 2 ** 31) {
    throw new RangeError(`cap must be an integer in [2, 2^31], got ${String(cap)}`);
  }
  return KAGGLE_CARDINALITIES.map((c) => Math.min(c, cap));
}
