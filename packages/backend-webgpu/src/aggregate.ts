import { type BagUpdate, nonFiniteRowGradient } from '@halfstep/backend';

/** A batch's gradient summed per distinct row. */
export interface RowGradients {
  /** Distinct rows with a finite summed gradient, ascending. */
  readonly rows: Uint32Array;
  /** Their summed gradients, row u at u x dim. */
  readonly grads: Float32Array;
  /** Distinct rows skipped because their sum is not finite ('skip-rows' only). */
  readonly skipped: number;
}

/**
 * Sums the gradient of every position per distinct row, in the reference order of
 * `@halfstep/backend-js` (the package README's contract): position i of bag b contributes
 * `gradOutput[b, c]`, times `perSampleWeights[i]` (rounded to float32), or divided by the bag's
 * size (rounded) for mean pooling; a row's contributions are added in ascending position order,
 * each add rounded to float32, starting from the first contribution. A row whose sum is not
 * finite throws under the 'error' policy, and is left out under 'skip-rows'.
 * The GPU backward sums on the GPU (`groupRows`, `AGGREGATE_WGSL`); this CPU version checks the
 * CPU tables of a call that also has GPU tables, and gives the device check its kernel inputs.
 * @throws BadInputError for a non-finite row sum ('error'); RangeError when rows x lookups
 *   reaches 2^53.
 */
export function aggregateRows(update: BagUpdate): RowGradients {
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
  const bagOf = new Int32Array(n);
  for (let b = 0; b < bags; b++) {
    const end = b + 1 < bags ? offsets[b + 1] : n;
    for (let i = offsets[b]; i < end; i++) bagOf[i] = b;
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = indices[i] * n + i;
  keys.sort();
  const rows = new Uint32Array(n);
  const grads = new Float32Array(n * dim);
  const skip = (update.nonFinite ?? 'error') === 'skip-rows';
  const contribution = new Float32Array(dim);
  let count = 0;
  let skipped = 0;
  let previous = -1;
  const finish = () => {
    if (count === 0) return;
    const o = (count - 1) * dim;
    let sum = 0;
    for (let c = 0; c < dim; c++) sum += grads[o + c] - grads[o + c];
    if (sum === 0) return;
    if (!skip) throw nonFiniteRowGradient(table.name, rows[count - 1]);
    count--;
    skipped++;
  };
  for (let k = 0; k < n; k++) {
    const key = keys[k];
    let row = Math.floor(key / n);
    if (row * n > key) row--;
    const i = key - row * n;
    const b = bagOf[i];
    const g = b * dim;
    if (perSampleWeights !== undefined) {
      const s = perSampleWeights[i];
      for (let c = 0; c < dim; c++) contribution[c] = gradOutput[g + c] * s;
    } else if (pooling === 'mean') {
      const size = (b + 1 < bags ? offsets[b + 1] : n) - offsets[b];
      for (let c = 0; c < dim; c++) contribution[c] = gradOutput[g + c] / size;
    } else {
      for (let c = 0; c < dim; c++) contribution[c] = gradOutput[g + c];
    }
    if (row !== previous) {
      finish();
      previous = row;
      rows[count] = row;
      grads.set(contribution, count * dim);
      count++;
      continue;
    }
    const o = (count - 1) * dim;
    for (let c = 0; c < dim; c++) grads[o + c] = grads[o + c] + contribution[c];
  }
  finish();
  return { rows: rows.subarray(0, count), grads: grads.subarray(0, count * dim), skipped };
}
