import { type BagInput, checkBagInput, toIndices, toOffsets } from '@halfstep/backend';
import type { ResolvedTableConfig } from './config.js';

/** One table's lookups for a batch (see `EmbeddingBag.forward`). */
export interface BagBatch {
  readonly indices: Int32Array | ArrayLike<number>;
  readonly offsets: Int32Array | ArrayLike<number>;
  readonly perSampleWeights?: Float32Array | undefined;
}

/**
 * The backend inputs of one batch per table, each copied into typed arrays and checked against
 * its table (indices integers in range, offsets from 0, non-decreasing, within the indices), all
 * before any lookup: shared by the in-memory and the store-backed collections so that both
 * reject the same batches with the same errors.
 * @throws RangeError when there is not one batch per table; BadInputError naming the table, the
 *   argument, the position and the value.
 */
export function checkedBagInputs(
  configs: readonly ResolvedTableConfig[],
  batches: readonly BagBatch[],
): BagInput[] {
  if (!Array.isArray(batches) || batches.length !== configs.length) {
    throw new RangeError(
      `forward: expected ${configs.length} batches (one per table), got ${batches?.length}`,
    );
  }
  return batches.map((batch, t) => {
    const c = configs[t]!;
    const indices = Int32Array.from(toIndices(c.name, c.rows, batch.indices));
    const offsets = Int32Array.from(toOffsets(c.name, batch.offsets));
    const perSampleWeights =
      batch.perSampleWeights === undefined ? undefined : Float32Array.from(batch.perSampleWeights);
    const input: BagInput = { indices, offsets, perSampleWeights };
    checkBagInput(c.name, c.rows, input, c.pooling);
    return input;
  });
}
