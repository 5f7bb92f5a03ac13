/** Dense (integer) features per Criteo example: I1..I13. */
export const NUM_DENSE = 13;

/** Categorical features per Criteo example: C1..C26. */
export const NUM_SPARSE = 26;

/** Tab-separated fields per Criteo line: label, I1..I13, C1..C26. */
export const NUM_FIELDS = 1 + NUM_DENSE + NUM_SPARSE;

/**
 * Distinct values per categorical column C1..C26 in Criteo Kaggle's `train.txt` (45,840,617 rows),
 * as counted by facebookresearch/dlrm's preprocessing (missing counted as one value).
 */
export const KAGGLE_CARDINALITIES: readonly number[] = Object.freeze([
  1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992,
  5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572,
]);
