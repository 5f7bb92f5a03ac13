// Input checks and duplicate-index aggregation of the fused backward, in WASM. The checks only
// answer "all good?": on a "no" the JS side runs @halfstep/backend's checks, which throw the
// exact error. The aggregation is @halfstep/backend-js' aggregate (same sums, same order).

/** 1 when every float32 of `values` (n) is finite, else 0. */
export function allFinite(values: usize, n: i32): bool {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const exponent = i32x4.splat(0x7f800000);
    let bad = i32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      bad = v128.or(bad, i32x4.eq(v128.and(v128.load(values + (<usize>i << 2)), exponent), exponent));
    }
    if (v128.any_true(bad)) return false;
  }
  for (; i < n; i++) {
    if ((load<u32>(values + (<usize>i << 2)) & 0x7f800000) == 0x7f800000) return false;
  }
  return true;
}

/**
 * 1 when a batch passes checkBagInput's element checks: every index in [0, rows); offsets start
 * at 0 (when there is a bag), never decrease, none past n; no indices without bags.
 */
export function checkBag(indices: usize, n: i32, offsets: usize, bags: i32, rows: i32): bool {
  for (let i = 0; i < n; i++) {
    const v = load<i32>(indices + (<usize>i << 2));
    if (v < 0 || v >= rows) return false;
  }
  if (bags == 0) return n == 0;
  if (load<i32>(offsets) != 0) return false;
  let previous = 0;
  for (let b = 0; b < bags; b++) {
    const o = load<i32>(offsets + (<usize>b << 2));
    if (o > n || o < previous) return false;
    previous = o;
  }
  return true;
}

/** Sorts `n` u64 at `keys` ascending (bottom-up merge sort through `tmp`); returns the buffer holding the result. */
function sortKeys(keys: usize, tmp: usize, n: i32): usize {
  // Insertion sort runs of 16, then merge.
  const RUN = 16;
  for (let s = 0; s < n; s += RUN) {
    const e = s + RUN < n ? s + RUN : n;
    for (let i = s + 1; i < e; i++) {
      const k = load<u64>(keys + (<usize>i << 3));
      let j = i - 1;
      while (j >= s && load<u64>(keys + (<usize>j << 3)) > k) {
        store<u64>(keys + (<usize>(j + 1) << 3), load<u64>(keys + (<usize>j << 3)));
        j--;
      }
      store<u64>(keys + (<usize>(j + 1) << 3), k);
    }
  }
  let src = keys;
  let dst = tmp;
  for (let width = RUN; width < n; width <<= 1) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = lo + width < n ? lo + width : n;
      const hi = lo + 2 * width < n ? lo + 2 * width : n;
      let a = lo;
      let b = mid;
      let o = lo;
      while (a < mid && b < hi) {
        const ka = load<u64>(src + (<usize>a << 3));
        const kb = load<u64>(src + (<usize>b << 3));
        if (ka <= kb) {
          store<u64>(dst + (<usize>o << 3), ka);
          a++;
        } else {
          store<u64>(dst + (<usize>o << 3), kb);
          b++;
        }
        o++;
      }
      for (; a < mid; a++, o++) store<u64>(dst + (<usize>o << 3), load<u64>(src + (<usize>a << 3)));
      for (; b < hi; b++, o++) store<u64>(dst + (<usize>o << 3), load<u64>(src + (<usize>b << 3)));
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}

// Results of the last `aggregate` call.
let badCount: i32 = 0;
let firstBadRow: i32 = -1;

/** Rows of the last aggregate whose summed gradient is not finite. */
export function aggregateBadCount(): i32 {
  return badCount;
}

/** The smallest row whose summed gradient is not finite in the last aggregate, or -1. */
export function aggregateFirstBadRow(): i32 {
  return firstBadRow;
}

/**
 * Sums the gradient per distinct row (backend-js' aggregate): position i of bag b contributes
 * grad[b, c] (times psw[i], rounded; or divided by the bag's size, rounded, for mean pooling); a
 * row's contributions are added in ascending position order from the first one. Writes the
 * distinct rows ascending to `outRows`, their sums to `outGrads` (count x dim), 1/0 "not finite"
 * flags to `outBad`; returns the count. Scratch: `keys` and `tmp` of n u64, `bagOf` of n i32.
 */
export function aggregate(
  indices: usize,
  n: i32,
  offsets: usize,
  bags: i32,
  grad: usize,
  dim: i32,
  psw: usize,
  hasPsw: bool,
  mean: bool,
  keys: usize,
  tmp: usize,
  bagOf: usize,
  outRows: usize,
  outGrads: usize,
  outBad: usize,
): i32 {
  const d = <usize>dim;
  for (let b = 0; b < bags; b++) {
    const end = b + 1 < bags ? load<i32>(offsets + (<usize>(b + 1) << 2)) : n;
    for (let i = load<i32>(offsets + (<usize>b << 2)); i < end; i++) store<i32>(bagOf + (<usize>i << 2), b);
  }
  for (let i = 0; i < n; i++) {
    store<u64>(keys + (<usize>i << 3), ((<u64>load<u32>(indices + (<usize>i << 2))) << 32) | <u64>i);
  }
  const sorted = sortKeys(keys, tmp, n);
  let count = 0;
  let previous: i64 = -1;
  let o: usize = 0;
  badCount = 0;
  firstBadRow = -1;
  for (let k = 0; k < n; k++) {
    const key = load<u64>(sorted + (<usize>k << 3));
    const row = <i64>(key >>> 32);
    const i = <i32>(key & 0xffffffff);
    const b = load<i32>(bagOf + (<usize>i << 2));
    const g = grad + ((<usize>b * d) << 2);
    const first = row != previous;
    if (first) {
      if (count > 0) finishRow(outRows, outGrads, outBad, count - 1, d);
      previous = row;
      store<i32>(outRows + (<usize>count << 2), <i32>row);
      o = outGrads + ((<usize>count * d) << 2);
      count++;
    }
    let s: f32 = 1;
    if (hasPsw) s = load<f32>(psw + (<usize>i << 2));
    let size: f32 = 1;
    if (mean) {
      const end = b + 1 < bags ? load<i32>(offsets + (<usize>(b + 1) << 2)) : n;
      size = <f32>(end - load<i32>(offsets + (<usize>b << 2)));
    }
    let c: usize = 0;
    if (ASC_FEATURE_SIMD && !mean) {
      const vs = f32x4.splat(s);
      for (; c + 4 <= d; c += 4) {
        let v = v128.load(g + (c << 2));
        if (hasPsw) v = f32x4.mul(v, vs);
        const p = o + (c << 2);
        v128.store(p, first ? v : f32x4.add(v128.load(p), v));
      }
    }
    for (; c < d; c++) {
      let v = load<f32>(g + (c << 2));
      if (hasPsw) v = v * s;
      else if (mean) v = v / size;
      const p = o + (c << 2);
      store<f32>(p, first ? v : load<f32>(p) + v);
    }
  }
  if (count > 0) finishRow(outRows, outGrads, outBad, count - 1, d);
  return count;
}

function finishRow(outRows: usize, outGrads: usize, outBad: usize, u: i32, d: usize): void {
  const bad = !allFinite(outGrads + ((<usize>u * d) << 2), <i32>d);
  store<u8>(outBad + <usize>u, bad ? 1 : 0);
  if (bad) {
    if (badCount == 0) firstBadRow = load<i32>(outRows + (<usize>u << 2));
    badCount++;
  }
}
