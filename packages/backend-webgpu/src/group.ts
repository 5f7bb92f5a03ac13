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
 * The radix sort's working arrays, reused from call to call (grow-only; `groupRows` is
 * synchronous, so no two calls share them at once): allocating and zeroing them on every step
 * was a good part of the grouping's time.
 */
let scratch = new Uint32Array(0);

/**
 * The lookups sorted by row, ties in ascending position order, each with a payload: its bag, or
 * with `positions` its position. A stable least-significant-digit radix sort of (row, payload)
 * pairs over the bits that `rows` needs (two passes for up to 4M rows), which gives the order of
 * the reference's sort on the keys `row x n + position`. One read of the lookups counts the
 * digits of every pass; the first pass reads them in position order, bag by bag, so the bag
 * comes free and no pass looks anything up at random. The results are views of the shared
 * scratch: valid until the next call.
 */
function sortByRow(
  input: { readonly indices: Int32Array; readonly offsets: Int32Array },
  rows: number,
  positions: boolean,
): { keys: Uint32Array; payloads: Uint32Array } {
  const { indices, offsets } = input;
  const n = indices.length;
  if (scratch.length < 4 * n) scratch = new Uint32Array(4 * n);
  let keys = scratch.subarray(0, n);
  let payloads = scratch.subarray(n, 2 * n);
  let keysOut = scratch.subarray(2 * n, 3 * n);
  let payloadsOut = scratch.subarray(3 * n, 4 * n);
  const bits = rows <= 1 ? 1 : 32 - Math.clz32(rows - 1);
  const passes = Math.ceil(bits / DIGIT);
  const size = 1 << DIGIT;
  const mask = size - 1;
  const counts = new Uint32Array(passes * size);
  for (let i = 0; i < n; i++) {
    const key = indices[i]!;
    for (let p = 0; p < passes; p++) counts[p * size + ((key >>> (p * DIGIT)) & mask)]!++;
  }
  for (let p = 0; p < passes; p++) {
    let sum = 0;
    for (let d = p * size; d < (p + 1) * size; d++) {
      const c = counts[d]!;
      counts[d] = sum;
      sum += c;
    }
  }
  const bags = offsets.length;
  let i = 0;
  for (let b = 0; b < bags; b++) {
    const end = b + 1 < bags ? offsets[b + 1]! : n;
    for (; i < end; i++) {
      const key = indices[i]!;
      const at = counts[key & mask]!++;
      keysOut[at] = key;
      payloadsOut[at] = positions ? i : b;
    }
  }
  [keys, keysOut] = [keysOut, keys];
  [payloads, payloadsOut] = [payloadsOut, payloads];
  for (let p = 1; p < passes; p++) {
    const shift = p * DIGIT;
    const base = p * size;
    for (let k = 0; k < n; k++) {
      const key = keys[k]!;
      const at = counts[base + ((key >>> shift) & mask)]!++;
      keysOut[at] = key;
      payloadsOut[at] = payloads[k]!;
    }
    [keys, keysOut] = [keysOut, keys];
    [payloads, payloadsOut] = [payloadsOut, payloads];
  }
  return { keys, payloads };
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
  // Mean pooling's factor: the bag's size, which float32 must hold exactly.
  const sizeBits = new Uint32Array(mode === 2 ? bags : 0);
  if (mode === 2) {
    const view = new Float32Array(1);
    const viewBits = new Uint32Array(view.buffer);
    for (let b = 0; b < bags; b++) {
      const size = (b + 1 < bags ? offsets[b + 1]! : n) - offsets[b]!;
      view[0] = size;
      if (view[0] !== size) return null;
      sizeBits[b] = viewBits[0]!;
    }
  }
  // Per-sample weights belong to positions: sort those, and find each one's bag.
  const { keys, payloads } = sortByRow(input, table.rows, mode === 1);
  const rows = new Uint32Array(n);
  const starts = new Uint32Array(n + 1);
  let count = 0;
  let previous = -1;
  for (let k = 0; k < n; k++) {
    const row = keys[k]!;
    if (row !== previous) {
      rows[count] = row;
      starts[count] = k;
      count++;
      previous = row;
    }
  }
  starts[count] = n;
  let entries: Uint32Array;
  if (mode === 0) {
    entries = payloads.slice();
  } else if (mode === 2) {
    entries = new Uint32Array(2 * n);
    for (let k = 0; k < n; k++) {
      const b = payloads[k]!;
      entries[2 * k] = b;
      entries[2 * k + 1] = sizeBits[b]!;
    }
  } else {
    const bagOf = new Uint32Array(n);
    for (let b = 0; b < bags; b++) {
      const end = b + 1 < bags ? offsets[b + 1]! : n;
      for (let i = offsets[b]!; i < end; i++) bagOf[i] = b;
    }
    const weightBits = new Uint32Array(perSampleWeights!.buffer, perSampleWeights!.byteOffset, n);
    entries = new Uint32Array(2 * n);
    for (let k = 0; k < n; k++) {
      const p = payloads[k]!;
      entries[2 * k] = bagOf[p]!;
      entries[2 * k + 1] = weightBits[p]!;
    }
  }
  return {
    rows: rows.subarray(0, count),
    starts: starts.subarray(0, count + 1),
    entries,
    mode,
    stride,
  };
}
