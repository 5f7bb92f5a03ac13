import type { BagInput } from '@halfstep/backend';
import type { Aggregated } from '@halfstep/backend-js';

/** A copy of a batch (the caller may reuse its arrays before the queued work runs). */
export function copyBatch(input: BagInput): BagInput {
  return {
    indices: input.indices.slice(),
    offsets: input.offsets.slice(),
    perSampleWeights: input.perSampleWeights?.slice(),
  };
}

/** The distinct values of `indices`, ascending. */
export function distinctRows(indices: Int32Array): Int32Array {
  const sorted = Int32Array.from(indices).sort();
  let n = 0;
  for (let i = 0; i < sorted.length; i++)
    if (i === 0 || sorted[i] !== sorted[n - 1]) sorted[n++] = sorted[i]!;
  return sorted.slice(0, n);
}

/** For each index, its position in the ascending distinct `rows`. */
export function positionsIn(rows: Int32Array, indices: Int32Array): Int32Array {
  const where = new Map<number, number>();
  for (let k = 0; k < rows.length; k++) where.set(rows[k]!, k);
  return Int32Array.from(indices, (i) => where.get(i) as number);
}

/** One table's gradients as a store takes them. */
export interface DistinctGradients {
  /** The distinct rows to update, ascending. */
  readonly rows: Int32Array;
  /** Their summed gradients, rows x dim. */
  readonly gradients: Float32Array;
  /** Rows skipped for a non-finite sum ('skip-rows'). */
  readonly skipped: number;
}

/** The aggregated rows that are not skipped, with their summed gradients packed row by row. */
export function distinctGradients(
  agg: Aggregated,
  gradOutput: Float32Array,
  dim: number,
): DistinctGradients {
  const good = agg.count - agg.badCount;
  const rows = new Int32Array(good);
  const gradients = new Float32Array(good * dim);
  for (let k = 0, j = 0; k < agg.count; k++) {
    if (agg.bad[k] !== 0) continue;
    rows[j] = agg.rows[k]!;
    const source = agg.direct[k] === 1 ? gradOutput : agg.grads;
    const o = agg.offsetOf[k]!;
    gradients.set(source.subarray(o, o + dim), j * dim);
    j++;
  }
  return { rows, gradients, skipped: agg.badCount };
}
