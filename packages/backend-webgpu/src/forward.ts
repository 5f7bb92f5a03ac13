import type { BagInput, Pooling } from '@halfstep/backend';
import type { GpuRunner } from './gpu.js';
import { FORWARD_LAYOUT, formatValues } from './layouts.js';
import { FORWARD_WGSL } from './shaders/kernels.js';
import type { GpuTable } from './tables.js';

/** The largest bag size mean pooling divides by: float32 holds every integer up to 2^24. */
export const MAX_MEAN_BAG = 2 ** 24;

/**
 * Records the embedding-bag forward of a checked batch into `out` (at least bags x dim values):
 * uploads the indices, offsets and per-sample weights, and dispatches one invocation per (bag,
 * column), which sums the bag's decoded rows (times the weights) in position order in float32
 * and, for mean pooling, divides by the bag's size correctly rounded: the JS reference's
 * arithmetic. Nothing is read back.
 * @throws RangeError for mean pooling over a bag of more than 2^24 lookups (float32 cannot hold
 *   its size; the JS backend divides by it in float64).
 */
export function recordForward(
  runner: GpuRunner,
  t: GpuTable,
  input: BagInput,
  pooling: Pooling,
  out: GPUBuffer,
): void {
  const { indices, offsets, perSampleWeights } = input;
  const dim = t.handle.dim;
  const bags = offsets.length;
  const n = indices.length;
  if (bags * dim === 0) return;
  if (pooling === 'mean') checkMeanBags(t.handle.name, offsets, n);
  const params = FORWARD_LAYOUT.block({
    ...formatValues(t.format, true),
    bags,
    dim,
    lookups: n,
    weighted: perSampleWeights === undefined ? 0 : 1,
    mean: pooling === 'mean' ? 1 : 0,
  });
  runner.dispatch(
    'forward',
    () => FORWARD_WGSL,
    [
      runner.input(params),
      t.weights,
      runner.input(indices),
      runner.input(offsets),
      perSampleWeights === undefined ? runner.output(4) : runner.input(perSampleWeights),
      out,
    ],
    bags * dim,
  );
}

/** @throws RangeError when a bag holds more than `MAX_MEAN_BAG` lookups (mean pooling). */
export function checkMeanBags(table: string, offsets: Int32Array, n: number): void {
  const bags = offsets.length;
  for (let b = 0; b < bags; b++) {
    const size = (b + 1 < bags ? offsets[b + 1]! : n) - offsets[b]!;
    if (size > MAX_MEAN_BAG) {
      throw new RangeError(
        `table "${table}": bag ${b} has ${size} lookups; mean pooling on the WebGPU backend takes at most 2^24 per bag`,
      );
    }
  }
}
