import type { BagUpdate } from '@halfstep/backend';

/** A batch's lookup positions grouped by row: the integer half of the GPU aggregation. */
export interface RowGroups {
  /** Distinct rows, ascending (the order of `@halfstep/backend-js`). */
  readonly rows: Uint32Array;
  /** Row u's entries are `starts[u] .. starts[u + 1]`: `rows.length + 1` words. */
  readonly starts: Uint32Array;
  /**
   * One entry per lookup, grouped by row, positions ascending within a row: the position's bag,
   * followed (when `stride` is 2) by the float32 bits of its factor (the per-sample weight for
   * mode 1, the bag's size for mode 2).
   */
  readonly entries: Uint32Array;
  /** 0: plain gradients (sum pooling); 1: times per-sample weights; 2: divided by the bag size. */
  readonly mode: 0 | 1 | 2;
  /** Words per entry. */
  readonly stride: 1 | 2;
}

/** Bits of the radix sort's digit. */
const DIGIT = 11;

/**
 * The lookups sorted by row, ties in ascending position order: a stable least-significant-digit
 * radix sort of (row, position) pairs over the bits that `rows` needs (two passes for up to 4M
 * rows), which gives the order of the reference's sort on the keys `row x n + position`. The
 * rows travel with the positions so that every pass reads its keys in order.
 */
function sortByRow(
  indices: Int32Array,
  rows: number,
): { keys: Uint32Array; positions: Uint32Array } {
  const n = indices.length;
  let keys = new Uint32Array(n);
  keys.set(indices);
  let positions = new Uint32Array(n);
  for (let i = 0; i < n; i++) positions[i] = i;
  let keysOut = new Uint32Array(n);
  let positionsOut = new Uint32Array(n);
  const bits = rows <= 1 ? 1 : 32 - Math.clz32(rows - 1);
  const counts = new Uint32Array(1 << DIGIT);
  const mask = (1 << DIGIT) - 1;
  for (let shift = 0; shift < bits; shift += DIGIT) {
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(keys[i] >>> shift) & mask]++;
    let sum = 0;
    for (let d = 0; d <= mask; d++) {
      const c = counts[d];
      counts[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const key = keys[i];
      const at = counts[(key >>> shift) & mask]++;
      keysOut[at] = key;
      positionsOut[at] = positions[i];
    }
    [keys, keysOut] = [keysOut, keys];
    [positions, positionsOut] = [positionsOut, positions];
  }
  return { keys, positions };
}

/**
 * Groups the lookups of an update by row, on integers only (the float32 sums run on the GPU):
 * the distinct rows ascending and, per row, its positions ascending, each as its bag (and its
 * factor): the terms and order of `@halfstep/backend-js`' aggregation. Returns null when the
 * GPU cannot reproduce a term: mean pooling with a bag size that float32 cannot hold exactly
 * (above 2^24; the reference divides by the exact size in float64).
 * @throws RangeError when rows x lookups exceeds 2^53 (the reference's limit, same message).
 */
export function groupRows(update: BagUpdate): RowGroups | null {
  const { table, input, pooling } = update;
  const { indices, offsets, perSampleWeights } = input;
  const n = indices.length;
  const bags = offsets.length;
  if (table.rows * n > 2 ** 53) {
    throw new RangeError(
      `table "${table.name}": rows x lookups = ${table.rows * n} must stay below 2^53 (sort keys)`,
    );
  }
  const mode = perSampleWeights !== undefined ? 1 : pooling === 'mean' ? 2 : 0;
  const stride = mode === 0 ? 1 : 2;
  const bagOf = new Uint32Array(n);
  const sizeBits = new Uint32Array(mode === 2 ? bags : 0);
  const view = new Float32Array(1);
  const viewBits = new Uint32Array(view.buffer);
  for (let b = 0; b < bags; b++) {
    const end = b + 1 < bags ? offsets[b + 1] : n;
    for (let i = offsets[b]; i < end; i++) bagOf[i] = b;
    if (mode === 2) {
      const size = end - offsets[b];
      view[0] = size;
      if (view[0] !== size) return null;
      sizeBits[b] = viewBits[0];
    }
  }
  const { keys, positions } = sortByRow(indices, table.rows);
  const rows = new Uint32Array(n);
  const starts = new Uint32Array(n + 1);
  const entries = new Uint32Array(n * stride);
  const weightBits =
    perSampleWeights === undefined
      ? null
      : new Uint32Array(perSampleWeights.buffer, perSampleWeights.byteOffset, n);
  let count = 0;
  let previous = -1;
  for (let k = 0; k < n; k++) {
    const p = positions[k];
    const row = keys[k];
    if (row !== previous) {
      rows[count] = row;
      starts[count] = k;
      count++;
      previous = row;
    }
    const b = bagOf[p];
    if (stride === 1) {
      entries[k] = b;
    } else {
      entries[2 * k] = b;
      entries[2 * k + 1] = weightBits !== null ? weightBits[p] : sizeBits[b];
    }
  }
  starts[count] = n;
  return {
    rows: rows.subarray(0, count),
    starts: starts.subarray(0, count + 1),
    entries,
    mode,
    stride,
  };
}
