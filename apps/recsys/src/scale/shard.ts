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

/**
 * `data` as one worker sees it: the training examples of `shard` (its batches of `batchSize`,
 * which its `trainBatches` must be asked for), and the whole validation set. What the trainer
 * loops over in a data-parallel run, as it loops over the whole data in a single-process one.
 */
export function shardSource(data: DataSource, batchSize: number, shard: Shard): DataSource {
  const start = shard.firstBatch * batchSize;
  const end = Math.min(data.trainExamples, (shard.firstBatch + shard.batches) * batchSize);
  return {
    description: `${data.description}; batches ${shard.firstBatch}..${shard.firstBatch + shard.batches - 1} of ${shard.totalBatches} per epoch`,
    tableSizes: data.tableSizes,
    trainExamples: end - start,
    validationExamples: data.validationExamples,
    trainBatches: (size, from) =>
      firstBatches(data.trainBatches(size, start + from), Math.ceil((end - start - from) / size)),
    validationBatches: (size) => data.validationBatches(size),
  };
}

/** The first `count` batches of `batches` (stops reading there). */
async function* firstBatches(batches: AsyncIterable<Batch>, count: number): AsyncGenerator<Batch> {
  if (count <= 0) return;
  let n = 0;
  for await (const batch of batches) {
    yield batch;
    if (++n === count) return;
  }
}
