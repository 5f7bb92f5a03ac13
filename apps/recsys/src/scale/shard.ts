import type { Batch } from '../data/batch.js';
import type { DataSource } from '../train/data-source.js';

/** The training batches one worker trains on, per epoch. */
export interface Shard {
  /** The first batch (of the whole data, in data order) of this worker. */
  readonly firstBatch: number;
  /** Batches of this worker per epoch. */
  readonly batches: number;
  /** Batches of the whole data per epoch. */
  readonly totalBatches: number;
  /** Batches per epoch of the worker with the fewest (every worker has this many or one more). */
  readonly minBatches: number;
}

/**
 * Worker `rank` of `workers` trains on the contiguous batches
 * `floor(rank B / workers) .. floor((rank + 1) B / workers) - 1` of the `B` batches of an epoch,
 * so the shards differ by at most one batch and one worker has all of them.
 * @throws RangeError when there are fewer batches than workers.
 */
export function shardOf(examples: number, batchSize: number, rank: number, workers: number): Shard {
  const totalBatches = Math.ceil(examples / batchSize);
  const minBatches = Math.floor(totalBatches / workers);
  if (minBatches === 0) {
    throw new RangeError(
      `--workers ${workers} is more than the ${totalBatches} training batches of ${examples} examples at batch size ${batchSize}`,
    );
  }
  const firstBatch = Math.floor((rank * totalBatches) / workers);
  const end = Math.floor(((rank + 1) * totalBatches) / workers);
  return { firstBatch, batches: end - firstBatch, totalBatches, minBatches };
}

/** One epoch of `shard`'s batches from `data`. */
export async function* shardBatches(
  data: DataSource,
  batchSize: number,
  shard: Shard,
): AsyncGenerator<Batch> {
  if (shard.batches === 0) return;
  let n = 0;
  for await (const batch of data.trainBatches(batchSize, shard.firstBatch * batchSize)) {
    yield batch;
    if (++n === shard.batches) return;
  }
}
