import { type BagUpdate, nonFiniteRowGradient } from '@halfstep/backend';

/** A `BagUpdate` whose gradient is a host array (the CPU backends and the stores read it). */
export type HostBagUpdate = Omit<BagUpdate, 'gradOutput'> & { readonly gradOutput: Float32Array };

/** A batch's gradient summed per distinct row: the rows ascending, and their gradient rows. */
export interface Aggregated {
  /** Distinct rows, ascending; the first `count` entries are valid. */
  readonly rows: Int32Array;
  /** Summed gradients of rows with several (or scaled) contributions: row u at u x dim. */
  readonly grads: Float32Array;
  /** 1 where row u's gradient is read straight from `gradOutput` (one plain contribution). */
  readonly direct: Uint8Array;
  /** Where row u's gradient starts: in `gradOutput` when `direct[u]`, else in `grads`. */
  readonly offsetOf: Int32Array;
  /** 1 where the row's summed gradient is not finite (to be skipped), else 0. */
  readonly bad: Uint8Array;
  readonly count: number;
  readonly badCount: number;
}

/** Reusable scratch for `aggregate`, grown on demand. */
export class AggregateScratch {
  /** Sort keys `row * n + position`. */
  keys = new Float64Array(0);
  /** The bag of each position. */
  bagOf = new Int32Array(0);
  /** Backs `Aggregated.rows`. */
  rows = new Int32Array(0);
  /** Backs `Aggregated.grads`. */
  grads = new Float32Array(0);
  /** Backs `Aggregated.bad`. */
  bad = new Uint8Array(0);
  /** Backs `Aggregated.direct`. */
  direct = new Uint8Array(0);
  /** Backs `Aggregated.offsetOf`. */
  offsetOf = new Int32Array(0);

  /** Grows the buffers for `n` lookups of rows of width `dim`. */
  ensure(n: number, dim: number): void {
    if (this.keys.length < n) {
      const size = Math.max(n, 2 * this.keys.length);
      this.keys = new Float64Array(size);
      this.bagOf = new Int32Array(size);
      this.rows = new Int32Array(size);
      this.bad = new Uint8Array(size);
      this.direct = new Uint8Array(size);
      this.offsetOf = new Int32Array(size);
    }
    if (this.grads.length < n * dim)
      this.grads = new Float32Array(Math.max(n * dim, 2 * this.grads.length));
  }
}

/**
 * Sums the gradient of every position per distinct row, exactly as the README specifies:
 * position i of bag b contributes `gradOutput[b, c]`, times `perSampleWeights[i]` (rounded to
 * float32) when given, divided by the bag's size (rounded) for mean pooling; a row's
 * contributions are added in ascending position order, each add rounded to float32, starting
 * from the first contribution. Rows come out ascending. With the 'error' policy a row whose sum
 * is not finite throws (nothing has been written); with 'skip-rows' it is marked bad.
 *
 * The sort: keys `row * n + position` in a Float64Array (exact below 2^53), sorted natively.
 */
export function aggregate(update: HostBagUpdate, scratch: AggregateScratch): Aggregated {
  const { table, input, gradOutput, pooling } = update;
  const { indices, offsets, perSampleWeights } = input;
  const dim = table.dim;
  const n = indices.length;
  const bags = offsets.length;
  if (table.rows * n > 2 ** 53) {
    throw new RangeError(
      `table "${table.name}": rows x lookups = ${table.rows * n} must stay below 2^53 (sort keys)`,
    );
  }
  scratch.ensure(n, dim);
  const { bagOf } = scratch;
  for (let b = 0; b < bags; b++) {
    const end = b + 1 < bags ? offsets[b + 1]! : n;
    for (let i = offsets[b]!; i < end; i++) bagOf[i] = b;
  }
  const keys = scratch.keys.subarray(0, n);
  for (let i = 0; i < n; i++) keys[i] = indices[i]! * n + i;
  keys.sort();
  const { rows, grads, bad, direct, offsetOf } = scratch;
  const mean = pooling === 'mean';
  // A row with one plain (sum pooling) contribution reads gradOutput directly, unless the rule
  // writes its gradient (L2 decay).
  const allowDirect = !mean && perSampleWeights === undefined && !table.optimizer.writesGradient;
  let count = 0;
  let badCount = 0;
  let previous = -1;
  let o = -dim;
  // Under the 'error' policy the gradient was checked finite, so a row with a single plain (sum
  // pooling) contribution is finite too: only sums, products and quotients can overflow.
  const mustCheck =
    (update.nonFinite ?? 'error') !== 'error' || perSampleWeights !== undefined || mean;
  let multiple = false;
  for (let k = 0; k < n; k++) {
    const key = keys[k]!;
    let row = Math.floor(key / n);
    if (row * n > key) row--;
    const i = key - row * n;
    const b = bagOf[i]!;
    const g = b * dim;
    if (row !== previous) {
      if (count > 0) badCount += finishRow(update, scratch, count - 1, dim, mustCheck || multiple);
      multiple = false;
      previous = row;
      rows[count] = row;
      o += dim;
      count++;
      if (allowDirect) {
        direct[count - 1] = 1;
        offsetOf[count - 1] = g;
        continue;
      }
      direct[count - 1] = 0;
      offsetOf[count - 1] = o;
      if (perSampleWeights !== undefined) {
        const s = perSampleWeights[i]!;
        for (let c = 0; c < dim; c++) grads[o + c] = Math.fround(gradOutput[g + c]! * s);
      } else if (mean) {
        const size = (b + 1 < bags ? offsets[b + 1]! : n) - offsets[b]!;
        for (let c = 0; c < dim; c++) grads[o + c] = gradOutput[g + c]! / size;
      } else {
        for (let c = 0; c < dim; c++) grads[o + c] = gradOutput[g + c]!;
      }
      continue;
    }
    multiple = true;
    if (perSampleWeights !== undefined) {
      const s = perSampleWeights[i]!;
      for (let c = 0; c < dim; c++)
        grads[o + c] = grads[o + c]! + Math.fround(gradOutput[g + c]! * s);
    } else if (mean) {
      const size = (b + 1 < bags ? offsets[b + 1]! : n) - offsets[b]!;
      for (let c = 0; c < dim; c++)
        grads[o + c] = grads[o + c]! + Math.fround(gradOutput[g + c]! / size);
    } else if (direct[count - 1] === 1) {
      // The second contribution: the sum starts from the first one, still in gradOutput.
      const first = offsetOf[count - 1]!;
      for (let c = 0; c < dim; c++) grads[o + c] = gradOutput[first + c]! + gradOutput[g + c]!;
      direct[count - 1] = 0;
      offsetOf[count - 1] = o;
    } else {
      for (let c = 0; c < dim; c++) grads[o + c] = grads[o + c]! + gradOutput[g + c]!;
    }
  }
  if (count > 0) badCount += finishRow(update, scratch, count - 1, dim, mustCheck || multiple);
  return { rows, grads, bad, direct, offsetOf, count, badCount };
}

/** Marks row u bad when its summed gradient is not finite (throws under the 'error' policy). */
function finishRow(
  update: HostBagUpdate,
  scratch: AggregateScratch,
  u: number,
  dim: number,
  check: boolean,
): number {
  scratch.bad[u] = 0;
  if (!check) return 0;
  const values = scratch.direct[u] === 1 ? update.gradOutput : scratch.grads;
  const o = scratch.offsetOf[u]!;
  let sum = 0;
  for (let c = 0; c < dim; c++) sum += values[o + c]! - values[o + c]!;
  if (sum === 0) return 0;
  if ((update.nonFinite ?? 'error') === 'error') {
    throw nonFiniteRowGradient(update.table.name, scratch.rows[u]!);
  }
  scratch.bad[u] = 1;
  return 1;
}
