/** Throws unless `labels` and `values` have the same length. */
export function checkSameLength(labels: ArrayLike<number>, values: ArrayLike<number>): void {
  if (labels.length !== values.length) {
    throw new RangeError(
      `labels and predictions differ in length: ${labels.length} vs ${values.length}`,
    );
  }
}
