import {
  type BagInput,
  checkBagInput,
  checkIndexArray,
  type IndexArray,
  toIndices,
  toOffsets,
} from '@halfstep/backend';
import { argumentError, checkOptions, optionKeys } from '@halfstep/codecs';
import type { ResolvedTableConfig } from './config.js';

/**
 * One table's lookups for a batch (see `EmbeddingBag.forward`). Indices and offsets may be
 * Int32Arrays, int64 (`BigInt64Array`, as PyTorch makes them) or any array of integers (numbers
 * or bigints); each value is checked and converted to int32.
 */
export interface BagBatch {
  readonly indices: IndexArray;
  readonly offsets: IndexArray;
  readonly perSampleWeights?: Float32Array | ArrayLike<number> | undefined;
}

const BATCH_KEYS = optionKeys<BagBatch>({ indices: true, offsets: true, perSampleWeights: true });
const BATCH_HINTS = Object.freeze({
  input: 'indices',
  index: 'indices',
  offset: 'offsets',
  weights: 'perSampleWeights',
  per_sample_weights: 'perSampleWeights',
});

/**
 * The backend inputs of one batch per table, each copied into typed arrays and checked against
 * its table (indices integers in range, offsets from 0, non-decreasing, within the indices), all
 * before any lookup: shared by the in-memory and the store-backed collections so that both
 * reject the same batches with the same errors.
 * @throws TypeError naming the argument when `batches` is not an array, a batch not an object
 *   (or with an unknown key), its indices or offsets missing or not arrays, its perSampleWeights
 *   not an array; RangeError when there is not one batch per table; BadInputError naming the
 *   table, the argument, the position and the value.
 */
export function checkedBagInputs(
  configs: readonly ResolvedTableConfig[],
  batches: readonly BagBatch[],
): BagInput[] {
  if (!Array.isArray(batches)) {
    throw argumentError(
      'forward: batches',
      `an array of ${configs.length} batches { indices, offsets } (one per table)`,
      batches,
    );
  }
  if (batches.length !== configs.length) {
    throw new RangeError(
      `forward: expected ${configs.length} batches (one per table), got ${batches.length}`,
    );
  }
  return batches.map((batch, t) => {
    const c = configs[t]!;
    checkOptions('forward', batch, BATCH_KEYS, {
      argument: `batches[${t}]`,
      optional: false,
      hints: BATCH_HINTS,
    });
    const where = `forward: table "${c.name}"`;
    checkIndexArray(batch.indices, `${where}: indices`);
    checkIndexArray(batch.offsets, `${where}: offsets`);
    const indices = Int32Array.from(toIndices(c.name, c.rows, batch.indices));
    const offsets = Int32Array.from(toOffsets(c.name, batch.offsets));
    const weights = batch.perSampleWeights;
    if (
      weights !== undefined &&
      (typeof weights !== 'object' ||
        weights === null ||
        typeof (weights as { length?: unknown }).length !== 'number')
    ) {
      throw argumentError(`${where}: perSampleWeights`, 'a Float32Array', weights);
    }
    const perSampleWeights = weights === undefined ? undefined : Float32Array.from(weights);
    const input: BagInput = { indices, offsets, perSampleWeights };
    checkBagInput(c.name, c.rows, input, c.pooling);
    return input;
  });
}
