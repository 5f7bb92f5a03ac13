import { NUM_DENSE, NUM_SPARSE } from './schema.js';

/** One example after the transforms: what a model consumes. */
export interface Example {
  /** 0 or 1. */
  label: number;
  /** I1..I13 after DLRM's transform (negatives to 0, then log(x + 1)). */
  dense: Float32Array;
  /** C1..C26 as row indices into tables 0..25. */
  sparse: Int32Array;
}

/** A batch of examples in flat row-major arrays. */
export interface Batch {
  /** Number of examples. */
  size: number;
  /** `size` labels, 0 or 1. */
  labels: Float32Array;
  /** `size x 13`, row-major, already log(x + 1): `dense[i * 13 + j]` is I_{j+1} of example i. */
  dense: Float32Array;
  /** `size x 26`, row-major: `sparse[i * 26 + t]` is the row index into table t. */
  sparse: Int32Array;
}

/** A zero-filled {@link Batch} of `size` examples with fresh arrays. */
export function createBatch(size: number): Batch {
  return {
    size,
    labels: new Float32Array(size),
    dense: new Float32Array(size * NUM_DENSE),
    sparse: new Int32Array(size * NUM_SPARSE),
  };
}

/** The first `size` examples of `batch`, copied into fresh arrays of exactly that length. */
export function truncateBatch(batch: Batch, size: number): Batch {
  return {
    size,
    labels: batch.labels.slice(0, size),
    dense: batch.dense.slice(0, size * NUM_DENSE),
    sparse: batch.sparse.slice(0, size * NUM_SPARSE),
  };
}

/**
 * Groups examples into batches of `batchSize` (the last one smaller unless `dropLast`). Every
 * batch owns fresh arrays: nothing is reused, so a consumer may keep or hand off a batch while
 * iterating on.
 */
export async function* batches(
  examples: Iterable<Example> | AsyncIterable<Example>,
  batchSize: number,
  options: { dropLast?: boolean } = {},
): AsyncGenerator<Batch> {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${String(batchSize)}`);
  }
  let batch = createBatch(batchSize);
  let n = 0;
  for await (const example of examples) {
    batch.labels[n] = example.label;
    batch.dense.set(example.dense, n * NUM_DENSE);
    batch.sparse.set(example.sparse, n * NUM_SPARSE);
    if (++n === batchSize) {
      yield batch;
      batch = createBatch(batchSize);
      n = 0;
    }
  }
  if (n > 0 && !options.dropLast) yield truncateBatch(batch, n);
}
