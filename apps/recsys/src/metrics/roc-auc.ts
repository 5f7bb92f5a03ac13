import { checkSameLength } from './check.js';

/**
 * Exact area under the ROC curve: the Mann-Whitney statistic `U / (n_pos * n_neg)`, where
 * `U = R_pos - n_pos (n_pos + 1) / 2` and `R_pos` is the sum of the positives' ranks among all
 * scores, tied scores sharing their average rank. Equals the probability that a random positive
 * scores above a random negative, ties counting one half (sklearn's `roc_auc_score`). O(n log n).
 * A label counts as positive when it is > 0.5.
 * @returns NaN when all labels are of one class (AUC undefined).
 * @throws RangeError for a NaN score or mismatched lengths.
 */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>): number {
  checkSameLength(labels, scores);
  const n = scores.length;
  const s = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = scores[i]!;
    if (Number.isNaN(v)) throw new RangeError(`score ${i} is NaN`);
    s[i] = v;
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => s[a]! - s[b]!);

  let nPos = 0;
  let rankSumPos = 0;
  let i = 0;
  while (i < n) {
    let j = i + 1;
    const v = s[order[i]!];
    while (j < n && s[order[j]!] === v) j++;
    // 1-based ranks i+1 .. j share their average.
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if (labels[order[k]!]! > 0.5) {
        nPos++;
        rankSumPos += avgRank;
      }
    }
    i = j;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return Number.NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}
