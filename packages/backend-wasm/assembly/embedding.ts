// Embedding-bag forward and the fused backward update (optimizer rule + rounded store), ports of
// @halfstep/backend-js' forward.ts and update.ts and @halfstep/optim's rules, in float32 without
// contraction, so that results are bit-identical.

import { encode, encodeOne, encoderLowest, encoderRebias, encoderSpan, loadEncoder } from './codec';
import { thresholdsFromWords } from './rng';
import {
  OPTIMIZER_ADAGRAD,
  OPTIMIZER_MOMENTUM,
  OPTIMIZER_ROWWISE_ADAGRAD,
  OPTIMIZER_SGD,
  P_A1,
  P_A2,
  P_B1,
  P_B2,
  P_BC1,
  P_BC2,
  P_COUNT,
  P_DIM,
  P_DONE,
  P_EPS,
  P_GRADS,
  P_JOURNAL,
  P_JOURNAL_STATE,
  P_JOURNAL_STRIDE,
  P_KIND,
  P_L2,
  P_LR,
  P_MAX_NORM,
  P_MU,
  P_ROWS,
  P_S_BITS,
  P_S_ENCODER,
  P_S_KIND,
  P_S_LUT,
  P_S_MAX,
  P_SCHEDULE,
  P_SCRATCH,
  P_SHRINK,
  P_SKIPPED,
  P_STATE,
  P_STATE_SIZE,
  P_STEP,
  P_STOP,
  P_STOCHASTIC,
  P_TD_STATE,
  P_TD_WEIGHTS,
  P_W_BITS,
  P_W_ENCODER,
  P_W_KIND,
  P_W_LUT,
  P_W_MAX,
  P_WEIGHTS,
  RULE_NEAREST_EVEN,
  RULE_STOCHASTIC,
  STORAGE_BFLOAT16,
  STORAGE_FLOAT16,
  STORAGE_FLOAT32,
} from './layouts.generated';
import { b0, b1, b2, b3, M0, M1, philoxBlock, storeBlocks } from './philox-block';

/** Storage kinds (src/layouts.ts' STORAGE_KINDS, through layouts.generated.ts). */
const F32: i32 = STORAGE_FLOAT32;
const F16: i32 = STORAGE_FLOAT16;
const BF16: i32 = STORAGE_BFLOAT16;

/** The float32 value of element `i` of a table stored as `kind`, through `lut` for table formats. */
// @ts-ignore: decorator
@inline
function loadValue(base: usize, i: usize, kind: i32, lut: usize): f32 {
  if (kind == F32) return load<f32>(base + (i << 2));
  if (kind == BF16) return reinterpret<f32>((<u32>load<u16>(base + (i << 1))) << 16);
  if (kind == F16) return load<f32>(lut + ((<usize>load<u16>(base + (i << 1))) << 2));
  return load<f32>(lut + ((<usize>load<u8>(base + i)) << 2));
}

/**
 * Embedding-bag forward: for bag b and column c, positions i ascending, acc = acc + v (each add
 * in float32, from +0), v the stored element or fround(psw[i] * element); mean pooling divides
 * by the bag's size. Writes bags x dim float32 at `out`.
 */
export function embeddingBagForward(
  weights: usize,
  kind: i32,
  lut: usize,
  dim: i32,
  indices: usize,
  n: i32,
  offsets: usize,
  bags: i32,
  psw: usize,
  hasPsw: bool,
  mean: bool,
  out: usize,
): void {
  const d = <usize>dim;
  for (let b = 0; b < bags; b++) {
    const start = load<i32>(offsets + (<usize>b << 2));
    const end = b + 1 < bags ? load<i32>(offsets + (<usize>(b + 1) << 2)) : n;
    const o = out + ((<usize>b * d) << 2);
    memory.fill(o, 0, d << 2);
    for (let i = start; i < end; i++) {
      const r = <usize>load<i32>(indices + (<usize>i << 2)) * d;
      let c: usize = 0;
      let s: f32 = 1;
      if (hasPsw) s = load<f32>(psw + (<usize>i << 2));
      if (ASC_FEATURE_SIMD && kind <= BF16) {
        const vs = f32x4.splat(s);
        const mask = i32x4.splat(0x7fff);
        const scale = f32x4.splat(reinterpret<f32>(<u32>0x77800000)); // 2^112
        const infCode = i32x4.splat(0x7c00);
        for (; c + 4 <= d; c += 4) {
          let v: v128;
          if (kind == F32) v = v128.load(weights + ((r + c) << 2));
          else {
            const h = i32x4.extend_low_i16x8_u(v128.load64_zero(weights + ((r + c) << 1)));
            if (kind == BF16) v = i32x4.shl(h, 16);
            else {
              // float16: exact for finite codes; infinities and NaNs take the scalar path.
              const m = v128.and(h, mask);
              if (v128.any_true(i32x4.ge_u(m, infCode))) break;
              v = v128.or(f32x4.mul(i32x4.shl(m, 13), scale), i32x4.shl(i32x4.shr_u(h, 15), 31));
            }
          }
          if (hasPsw) v = f32x4.mul(vs, v);
          const p = o + (c << 2);
          v128.store(p, f32x4.add(v128.load(p), v));
        }
      }
      for (; c < d; c++) {
        const p = o + (c << 2);
        const v = loadValue(weights, r + c, kind, lut);
        store<f32>(p, load<f32>(p) + (hasPsw ? s * v : v));
      }
    }
    if (mean && end > start) {
      const size = <f32>(end - start);
      for (let c: usize = 0; c < d; c++) {
        const p = o + (c << 2);
        store<f32>(p, load<f32>(p) / size);
      }
    }
  }
}

// @ts-ignore: decorator
@inline
function pi(p: usize, slot: i32): i32 {
  return load<i32>(p + (<usize>slot << 2));
}

// @ts-ignore: decorator
@inline
function pf(p: usize, slot: i32): f32 {
  return load<f32>(p + (<usize>slot << 2));
}

/**
 * Philox4x32-10 of four counters at once (lane i of x0..x3 is counter i; SIMD build), the four
 * output blocks written one after the other to `out`.
 */
@inline
function philoxLanes(x0: v128, x1: v128, x2: v128, x3: v128, schedule: usize, out: usize): void {
  const vM0 = i32x4.splat(M0);
  const vM1 = i32x4.splat(M1);
  for (let r = 0; r < 10; r++) {
    const k = schedule + (<usize>r << 3);
    const p0lo = i64x2.extmul_low_i32x4_u(x0, vM0);
    const p0hi = i64x2.extmul_high_i32x4_u(x0, vM0);
    const p1lo = i64x2.extmul_low_i32x4_u(x2, vM1);
    const p1hi = i64x2.extmul_high_i32x4_u(x2, vM1);
    x0 = v128.xor(v128.xor(v128.shuffle<i32>(p1lo, p1hi, 1, 3, 5, 7), x1), i32x4.splat(load<u32>(k)));
    x1 = v128.shuffle<i32>(p1lo, p1hi, 0, 2, 4, 6);
    x2 = v128.xor(v128.xor(v128.shuffle<i32>(p0lo, p0hi, 1, 3, 5, 7), x3), i32x4.splat(load<u32>(k, 4)));
    x3 = v128.shuffle<i32>(p0lo, p0hi, 0, 2, 4, 6);
  }
  storeBlocks(out, x0, x1, x2, x3);
}

/**
 * Philox4x32-10 on counters (c0, c1 + lane, c2, c3) for lanes 0..3, the 16 output words written
 * block after block to `out` (SIMD build).
 */
function philox4(c0: u32, c1: u32, c2: u32, c3: u32, schedule: usize, out: usize): void {
  philoxLanes(
    i32x4.splat(c0),
    i32x4(c1, c1 + 1, c1 + 2, c1 + 3),
    i32x4.splat(c2),
    i32x4.splat(c3),
    schedule,
    out,
  );
}

/**
 * Philox4x32-10 blocks 0 and 1 of two rows at once (SIMD build): lanes (rowA, 0), (rowA, 1),
 * (rowB, 0), (rowB, 1) with counters (row, block, step, td); writes row A's 8 words, then row B's.
 */
function philoxPair(rowA: u32, rowB: u32, step: u32, td: u32, schedule: usize, out: usize): void {
  philoxLanes(
    i32x4(rowA, rowA, rowB, rowB),
    i32x4(0, 1, 0, 1),
    i32x4.splat(step),
    i32x4.splat(td),
    schedule,
    out,
  );
}

/**
 * Writes the stochastic thresholds of elements 0..count-1 of a row (backend's fillRowThresholds):
 * word j is lane j % 4 of Philox4x32-10 block (row, j / 4, step, td); element e takes slot
 * e % P of word e / P; threshold = (word << slot * bits) | (2^(32 - bits) - 1).
 */
function rowThresholds(
  schedule: usize,
  row: u32,
  step: u32,
  td: u32,
  bits: i32,
  count: i32,
  words: usize,
  out: usize,
): void {
  const perWord: i32 = bits <= 16 ? 32 / bits : 1;
  const wordCount = (count + perWord - 1) / perWord;
  let j = 0;
  let b: u32 = 0;
  if (ASC_FEATURE_SIMD) {
    // Four blocks (c1 = b .. b + 3) side by side, one per lane.
    for (; j < wordCount; j += 16, b += 4) {
      philox4(row, b, step, td, schedule, words + (<usize>j << 2));
    }
  }
  for (; j < wordCount; j += 4, b++) {
    philoxBlock(row, b, step, td, schedule, 10);
    const p = words + (<usize>j << 2);
    store<u32>(p, b0);
    store<u32>(p, b1, 4);
    store<u32>(p, b2, 8);
    store<u32>(p, b3, 12);
  }
  const low: u32 = 0xffffffff >>> bits;
  let e = 0;
  for (let w: usize = 0; e < count; w++) {
    const word = load<u32>(words + (w << 2));
    for (let shift: u32 = 0, slot = 0; slot < perWord && e < count; slot++, e++, shift += <u32>bits) {
      store<u32>(out + (<usize>e << 2), (word << shift) | low);
    }
  }
}

/**
 * Clamps `width` float32 at `values` to +-max (NaN stays; the reference's store saturates) and
 * returns whether they were all finite before: x - x is +0 for a finite x and NaN otherwise, so
 * the OR of the differences is zero iff all are. The check rides on the clamp's loads.
 */
function clampRow(values: usize, width: i32, max: f32): bool {
  let c = 0;
  let finite = true;
  if (ASC_FEATURE_SIMD) {
    // pmin/pmax keep NaN (the comparison is false) and -0, like the scalar clamp below.
    const hi = f32x4.splat(max);
    const lo = f32x4.splat(-max);
    let acc = i32x4.splat(0);
    for (; c + 4 <= width; c += 4) {
      const p = values + (<usize>c << 2);
      const x = v128.load(p);
      acc = v128.or(acc, f32x4.sub(x, x));
      v128.store(p, f32x4.pmax(f32x4.pmin(x, hi), lo));
    }
    finite = !v128.any_true(acc);
  }
  for (; c < width; c++) {
    const p = values + (<usize>c << 2);
    const v = load<f32>(p);
    if (v - v != 0) finite = false;
    if (v > max) store<f32>(p, max);
    else if (v < -max) store<f32>(p, -max);
  }
  return finite;
}

/** Decodes `count` stored elements from element `start` of `base` (kind `kind`) into float32 at `out`. */
function decodeRow(base: usize, start: usize, count: i32, kind: i32, lut: usize, out: usize): void {
  let c = 0;
  if (kind == F16) {
    if (ASC_FEATURE_SIMD) {
      const mask = i32x4.splat(0x7fff);
      const scale = f32x4.splat(reinterpret<f32>(<u32>0x77800000)); // 2^112
      const infCode = i32x4.splat(0x7c00);
      for (; c + 4 <= count; c += 4) {
        const h = i32x4.extend_low_i16x8_u(v128.load64_zero(base + ((start + <usize>c) << 1)));
        const m = v128.and(h, mask);
        if (v128.any_true(i32x4.ge_u(m, infCode))) break;
        const value = f32x4.mul(i32x4.shl(m, 13), scale);
        v128.store(out + (<usize>c << 2), v128.or(value, i32x4.shl(i32x4.shr_u(h, 15), 31)));
      }
    }
    for (; c < count; c++) {
      const code = <usize>load<u16>(base + ((start + <usize>c) << 1));
      store<f32>(out + (<usize>c << 2), load<f32>(lut + (code << 2)));
    }
  } else if (kind == BF16) {
    for (; c < count; c++) {
      store<u32>(out + (<usize>c << 2), (<u32>load<u16>(base + ((start + <usize>c) << 1))) << 16);
    }
  } else {
    for (; c < count; c++) {
      const code = <usize>load<u8>(base + start + <usize>c);
      store<f32>(out + (<usize>c << 2), load<f32>(lut + (code << 2)));
    }
  }
}

/** The float32 values of four 16-bit codes (zero-extended in i32 lanes): float16 (finite) or bfloat16. */
// @ts-ignore: decorator
@inline
function decode4(h: v128, f16: bool): v128 {
  if (!f16) return i32x4.shl(h, 16);
  const scale = f32x4.splat(reinterpret<f32>(<u32>0x77800000)); // 2^112
  return v128.or(f32x4.mul(i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13), scale), i32x4.shl(i32x4.shr_u(h, 15), 31));
}

/**
 * Whether the `n` float32 at `values` are all finite: x - x is +0 for a finite x and NaN for an
 * infinity or NaN, so the OR of the differences is zero iff all are (cheaper in the update's
 * loop than comparing exponent bits).
 */
function finiteRow(values: usize, n: i32): bool {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    let acc = i32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const x = v128.load(values + (<usize>i << 2));
      acc = v128.or(acc, f32x4.sub(x, x));
    }
    if (v128.any_true(acc)) return false;
  }
  for (; i < n; i++) {
    const x = load<f32>(values + (<usize>i << 2));
    if (x - x != 0) return false;
  }
  return true;
}

/**
 * Clamps the new values x0, x1 of elements c .. c + 7 of a 16-bit row (`shift` 13: float16, 16:
 * bfloat16) to +-max, rounds them with the thresholds of slots 0, 1 of the 4 words at `wp`, and
 * stores the 8 codes at `p` (elements outside the fast encode range take encodeOne, through
 * `spill`): clampRow and encode16Stochastic's operations, in registers.
 */
// @ts-ignore: decorator
@inline
function storeChunk16(p: usize, x0: v128, x1: v128, wp: usize, shift: i32, max: f32, bits: i32, spill: usize): void {
  const hi = f32x4.splat(max);
  const lo = f32x4.splat(-max);
  x0 = f32x4.pmax(f32x4.pmin(x0, hi), lo);
  x1 = f32x4.pmax(f32x4.pmin(x1, hi), lo);
  const tScale = i32x4(1, 1 << bits, 1, 1 << bits);
  const tLow = i32x4.splat(0xffffffff >>> bits);
  const pair0 = v128.load64_zero(wp);
  const pair1 = v128.load64_zero(wp, 8);
  const t0 = v128.or(i32x4.mul(v128.shuffle<i32>(pair0, pair0, 0, 0, 1, 1), tScale), tLow);
  const t1 = v128.or(i32x4.mul(v128.shuffle<i32>(pair1, pair1, 0, 0, 1, 1), tScale), tLow);
  const magnitude = i32x4.splat(0x7fffffff);
  const a0 = v128.and(x0, magnitude);
  const a1 = v128.and(x1, magnitude);
  const lowest = i32x4.splat(encoderLowest());
  const span = i32x4.splat(encoderSpan());
  const ok = v128.and(i32x4.lt_u(i32x4.sub(a0, lowest), span), i32x4.lt_u(i32x4.sub(a1, lowest), span));
  if (i32x4.all_true(ok)) {
    const signBit = i32x4.splat(0x8000);
    const rebias = i32x4.splat(encoderRebias());
    const r0 = v128.or(
      v128.and(i32x4.shr_u(x0, 16), signBit),
      i32x4.shr_u(i32x4.add(i32x4.sub(a0, rebias), i32x4.shr_u(v128.not(t0), 32 - shift)), shift),
    );
    const r1 = v128.or(
      v128.and(i32x4.shr_u(x1, 16), signBit),
      i32x4.shr_u(i32x4.add(i32x4.sub(a1, rebias), i32x4.shr_u(v128.not(t1), 32 - shift)), shift),
    );
    v128.store(p, i16x8.narrow_i32x4_u(r0, r1));
  } else {
    v128.store(spill, x0);
    v128.store(spill, x1, 16);
    v128.store(spill, t0, 32);
    v128.store(spill, t1, 48);
    for (let j: usize = 0; j < 8; j++) {
      const t = load<u32>(spill + 32 + (j << 2));
      store<u16>(p + (j << 1), encodeOne(load<u32>(spill + (j << 2)), RULE_STOCHASTIC, t));
    }
  }
}

/** sgdRow16 stored the row. */
const ROW_STORED: i32 = 0;
/** sgdRow16 left the row to the general path (a float16 infinity or NaN code): nothing written. */
const ROW_GENERAL: i32 = 1;
/** sgdRow16 found a new value that is not finite: the row journaled, not stored. */
const ROW_NON_FINITE: i32 = 2;

/**
 * The whole SGD update of one float16 (`f16`, shift 13) or bfloat16 (shift 16) row of `dim` = 8 or
 * 16 elements with stochastic rounding and 2 random words per 4 elements (9..16 bits), in
 * registers (SIMD build): decode, w - lr * g for the whole row, its old codes to `journal`
 * (when not 0), then (all finite) clamp to +-max, thresholds from the row's words, encode,
 * store. The same operations in the same order as decodeRow, the SGD rule, clampRow and
 * encode16Stochastic. Returns ROW_STORED, ROW_GENERAL (nothing written: a float16 code is an
 * infinity or NaN) or ROW_NON_FINITE (journaled, not stored).
 */
// @ts-ignore: decorator
@inline
function sgdRow16(
  target: usize,
  g: usize,
  dim: i32,
  f16: bool,
  shift: i32,
  lr: f32,
  max: f32,
  words: usize,
  bits: i32,
  spill: usize,
  journal: usize,
): i32 {
  const codes0 = v128.load(target);
  const codes1 = dim == 16 ? v128.load(target, 16) : codes0;
  if (f16) {
    const mask = i16x8.splat(0x7fff);
    const infCode = i16x8.splat(0x7c00);
    const special = v128.or(i16x8.ge_u(v128.and(codes0, mask), infCode), i16x8.ge_u(v128.and(codes1, mask), infCode));
    if (v128.any_true(special)) return ROW_GENERAL;
  }
  const vlr = f32x4.splat(lr);
  const g0 = f32x4.mul(vlr, v128.load(g));
  const g1 = f32x4.mul(vlr, v128.load(g, 16));
  let g2 = g0;
  let g3 = g1;
  if (dim == 16) {
    g2 = f32x4.mul(vlr, v128.load(g, 32));
    g3 = f32x4.mul(vlr, v128.load(g, 48));
  }
  // Every new value before any store: a row with a non-finite one is never written.
  const x0 = f32x4.sub(decode4(i32x4.extend_low_i16x8_u(codes0), f16), g0);
  const x1 = f32x4.sub(decode4(i32x4.extend_high_i16x8_u(codes0), f16), g1);
  let x2 = x0;
  let x3 = x1;
  if (dim == 16) {
    x2 = f32x4.sub(decode4(i32x4.extend_low_i16x8_u(codes1), f16), g2);
    x3 = f32x4.sub(decode4(i32x4.extend_high_i16x8_u(codes1), f16), g3);
  }
  // x - x is +0 for a finite x, NaN otherwise: OR-ed together, nonzero iff one is not finite.
  const sum = v128.or(v128.or(f32x4.sub(x0, x0), f32x4.sub(x1, x1)), v128.or(f32x4.sub(x2, x2), f32x4.sub(x3, x3)));
  // Journaled either way: a skipped row's entry must hold its codes too (a rollback restores
  // entries 0 .. done - 1).
  if (journal != 0) {
    v128.store(journal, codes0);
    if (dim == 16) v128.store(journal, codes1, 16);
  }
  if (v128.any_true(sum)) return ROW_NON_FINITE;
  // Elements c .. c + 7 take slots 0, 1 of words c / 2 .. c / 2 + 3.
  storeChunk16(target, x0, x1, words, shift, max, bits, spill);
  if (dim == 16) storeChunk16(target + 16, x2, x3, words + 16, shift, max, bits, spill);
  return ROW_STORED;
}

/**
 * Copies `bytes` bytes from `src` to `dst` (not overlapping) in the widest unit (16, 8, 4, 2 or
 * 1 bytes) that both addresses and the length are multiples of: a row of 2- or 4-byte elements
 * at aligned addresses is copied element-whole (never a torn code, even racing in hogwild mode).
 */
// @ts-ignore: decorator
@inline
function copyCodes(dst: usize, src: usize, bytes: usize): void {
  const a = dst | src | bytes;
  let i: usize = 0;
  if (ASC_FEATURE_SIMD && (a & 15) == 0) {
    for (; i < bytes; i += 16) v128.store(dst + i, v128.load(src + i));
  } else if ((a & 7) == 0) {
    for (; i < bytes; i += 8) store<u64>(dst + i, load<u64>(src + i));
  } else if ((a & 3) == 0) {
    for (; i < bytes; i += 4) store<u32>(dst + i, load<u32>(src + i));
  } else if ((a & 1) == 0) {
    for (; i < bytes; i += 2) store<u16>(dst + i, load<u16>(src + i));
  } else {
    for (; i < bytes; i++) store<u8>(dst + i, load<u8>(src + i));
  }
}

/** Bytes per stored element of storage kind `kind`. */
// @ts-ignore: decorator
@inline
function kindBytes(kind: i32): usize {
  return kind == F32 ? 4 : kind == F16 || kind == BF16 ? 2 : 1;
}

/**
 * Restores rows[0 .. done) of the update whose parameter block is at `p` from its journal (their
 * codes before the update): undoes a call refused for a non-finite result. Idempotent.
 */
export function rollbackUpdate(p: usize): void {
  const journal = <usize>pi(p, P_JOURNAL);
  if (journal == 0) return;
  const d = <usize>pi(p, P_DIM);
  const stateSize = <usize>pi(p, P_STATE_SIZE);
  const wRowBytes = d * kindBytes(pi(p, P_W_KIND));
  const sRowBytes = stateSize * kindBytes(pi(p, P_S_KIND));
  const stride = <usize>pi(p, P_JOURNAL_STRIDE);
  const stateAt = <usize>pi(p, P_JOURNAL_STATE);
  const weights = <usize>pi(p, P_WEIGHTS);
  const state = <usize>pi(p, P_STATE);
  const rowsPtr = <usize>pi(p, P_ROWS);
  const done = pi(p, P_DONE);
  for (let u = 0; u < done; u++) {
    const row = <usize>load<i32>(rowsPtr + (<usize>u << 2));
    const entry = journal + <usize>u * stride;
    copyCodes(weights + row * wRowBytes, entry, wRowBytes);
    if (sRowBytes > 0) copyCodes(state + row * sRowBytes, entry + stateAt, sRowBytes);
  }
}

/**
 * Plain SGD of a float32 row in one pass: w - lr * g for the `d` floats at `target` (gradients
 * at `g`) into `out` and the old row to `journal` (when not 0), then, when all new values are
 * finite, `out` over the row.
 * Returns false, the table untouched, for a non-finite value. The general path's float32
 * operations, without its copies through the work area.
 */
// @ts-ignore: decorator
@inline
function sgdRow32(target: usize, g: usize, d: usize, lr: f32, out: usize, journal: usize): bool {
  let c: usize = 0;
  let finite = true;
  if (ASC_FEATURE_SIMD) {
    const vlr = f32x4.splat(lr);
    // x - x is +0 for a finite x, NaN otherwise: OR-ed together, nonzero iff one is not finite.
    let bad = i32x4.splat(0);
    for (; c + 4 <= d; c += 4) {
      const w = v128.load(target + (c << 2));
      const x = f32x4.sub(w, f32x4.mul(vlr, v128.load(g + (c << 2))));
      if (journal != 0) v128.store(journal + (c << 2), w);
      v128.store(out + (c << 2), x);
      bad = v128.or(bad, f32x4.sub(x, x));
    }
    finite = !v128.any_true(bad);
  }
  for (; c < d; c++) {
    const w = load<f32>(target + (c << 2));
    const x = w - lr * load<f32>(g + (c << 2));
    if (journal != 0) store<f32>(journal + (c << 2), w);
    store<f32>(out + (c << 2), x);
    if (x - x != 0) finite = false;
  }
  if (!finite) return false;
  copyCodes(target, out, d << 2);
  return true;
}

/**
 * The fused update of `count` distinct rows (rows at P_ROWS, their summed gradients at P_GRADS,
 * count x dim): decode each row and its state to float32 (float32 ones copied) into the work
 * area, apply weight decay, the optimizer's rule and the max-norm clip exactly as
 * @halfstep/optim's updateRow, then, when every new weight and state value is finite, copy the
 * row's old codes to the journal (P_JOURNAL, when set) and store (rounded) or write back
 * (float32). A row with a non-finite result is never written: P_STOP set, the kernel returns
 * there (P_DONE = its index); else the row is skipped (counted in P_SKIPPED). Every other row
 * gets the same bits either way: its random bits depend only on (row, step, table).
 */
export function applyUpdate(p: usize): void {
  const kind = pi(p, P_KIND);
  const dim = pi(p, P_DIM);
  const d = <usize>dim;
  const stateSize = <usize>pi(p, P_STATE_SIZE);
  const wKind = pi(p, P_W_KIND);
  const sKind = pi(p, P_S_KIND);
  const stochastic = pi(p, P_STOCHASTIC) != 0;
  const weights = <usize>pi(p, P_WEIGHTS);
  const state = <usize>pi(p, P_STATE);
  const schedule = <usize>pi(p, P_SCHEDULE);
  const step = <u32>pi(p, P_STEP);
  const rowsPtr = <usize>pi(p, P_ROWS);
  const grads = <usize>pi(p, P_GRADS);
  const count = pi(p, P_COUNT);
  const wLut = <usize>pi(p, P_W_LUT);
  const sLut = <usize>pi(p, P_S_LUT);
  const scratch = <usize>pi(p, P_SCRATCH);
  const stop = pi(p, P_STOP) != 0;
  const journal = <usize>pi(p, P_JOURNAL);
  const lr = pf(p, P_LR);
  const l2 = pf(p, P_L2);
  const shrink = pf(p, P_SHRINK);
  const maxNorm = pf(p, P_MAX_NORM);
  const eps = pf(p, P_EPS);
  const mu = pf(p, P_MU);
  const b1 = pf(p, P_B1);
  const b2 = pf(p, P_B2);
  const a1 = pf(p, P_A1);
  const a2 = pf(p, P_A2);
  const bc1 = pf(p, P_BC1);
  const bc2 = pf(p, P_BC2);
  const width = d > stateSize ? d : stateSize;
  // Scratch: w row, s row, words, thresholds (at least 16 words: sgdRow16 spills a chunk there;
  // the JS side sizes it, updateScratchBytes).
  const wRow = scratch;
  const sRow = wRow + (width << 2);
  const words = sRow + (width << 2);
  const thresholds = words + ((width + 16) << 2); // philox4 writes whole groups of 16 words
  const wWide = wKind == F16 || wKind == BF16;
  const wRowBytes = d * kindBytes(wKind);
  const sRowBytes = stateSize * kindBytes(sKind);
  // Journal entry u: the row's old weight codes, then (at stateAt) its old state codes
  // (update-params.ts' journalLayout).
  const stride = <usize>pi(p, P_JOURNAL_STRIDE);
  const stateAt = <usize>pi(p, P_JOURNAL_STATE);
  const wBits = pi(p, P_W_BITS);
  const tdWeights = <u32>pi(p, P_TD_WEIGHTS);
  const wPerWord: i32 = wBits > 0 && wBits <= 16 ? 32 / wBits : 1;
  // Rows of at most 8 random words (2 Philox blocks; e.g. float16 up to dim 16) draw their bits
  // two rows at a time (one 4-lane Philox for both; the state's store would reuse `words`).
  const paired =
    ASC_FEATURE_SIMD && stochastic && wKind != F32 && (dim + wPerWord - 1) / wPerWord <= 8 && (sKind == F32 || stateSize == 0);
  // Plain SGD of 16-bit rows of 8 or 16 elements, 2 elements per word: the whole row in registers.
  const wholeRow =
    paired && kind == OPTIMIZER_SGD && l2 == 0 && shrink == 0 && maxNorm == 0 && (wKind == F16 || wKind == BF16) && wPerWord == 2 && (dim == 8 || dim == 16);
  if (wholeRow) loadEncoder(<usize>pi(p, P_W_ENCODER));
  // Plain SGD of float32 rows: one pass over the row (sgdRow32), no copy into the work area.
  const plain32 = wKind == F32 && kind == OPTIMIZER_SGD && l2 == 0 && shrink == 0 && maxNorm == 0;
  const wMax = pf(p, P_W_MAX);
  let skipped = 0;
  for (let u = 0; u < count; u++) {
    const row = <usize>load<i32>(rowsPtr + (<usize>u << 2));
    const g = grads + ((<usize>u * d) << 2);
    const target = weights + row * wRowBytes;
    const stored = state + row * sRowBytes;
    const entry = journal == 0 ? 0 : journal + <usize>u * stride;
    if (paired && (u & 1) == 0) {
      // This row's words at `words`, the next row's at `words + 32`, drawn before anything can
      // skip this row, so that the next one keeps its bits.
      const next = u + 1 < count ? <u32>load<i32>(rowsPtr + (<usize>(u + 1) << 2)) : <u32>row;
      philoxPair(<u32>row, next, step, tdWeights, schedule, words);
    }
    if (wholeRow) {
      const rowWords = words + (<usize>(u & 1) << 5);
      const how = wKind == F16
        ? sgdRow16(target, g, dim, true, 13, lr, wMax, rowWords, wBits, thresholds, entry)
        : sgdRow16(target, g, dim, false, 16, lr, wMax, rowWords, wBits, thresholds, entry);
      if (how == ROW_STORED) continue;
      if (how == ROW_NON_FINITE) {
        if (stop) {
          store<i32>(p + (<usize>P_DONE << 2), u);
          store<i32>(p + (<usize>P_SKIPPED << 2), skipped);
          return;
        }
        skipped++;
        continue;
      }
    }
    if (plain32) {
      // Journaled (every row, as below) in the same pass as the check.
      if (sgdRow32(target, g, d, lr, wRow, entry)) continue;
      if (stop) {
        store<i32>(p + (<usize>P_DONE << 2), u);
        store<i32>(p + (<usize>P_SKIPPED << 2), skipped);
        return;
      }
      skipped++;
      continue;
    }
    // Decode (or copy) the weights and the state into the work area: the table is written only
    // once the new values are known to be finite.
    const w = wRow;
    if (wKind == F32) copyCodes(wRow, target, wRowBytes);
    else decodeRow(weights, row * d, dim, wKind, wLut, wRow);
    const s = sRow;
    if (stateSize > 0) {
      if (sKind == F32) copyCodes(sRow, stored, sRowBytes);
      else decodeRow(state, row * stateSize, <i32>stateSize, sKind, sLut, sRow);
    }
    // Weight decay.
    if (l2 != 0) {
      for (let c: usize = 0; c < d; c++) {
        store<f32>(g + (c << 2), load<f32>(g + (c << 2)) + l2 * load<f32>(w + (c << 2)));
      }
    }
    if (shrink != 0) {
      for (let c: usize = 0; c < d; c++) {
        const wc = load<f32>(w + (c << 2));
        store<f32>(w + (c << 2), wc - shrink * wc);
      }
    }
    // The rule.
    if (kind == OPTIMIZER_SGD) {
      let c: usize = 0;
      if (ASC_FEATURE_SIMD) {
        const vlr = f32x4.splat(lr);
        for (; c + 4 <= d; c += 4) {
          const pw = w + (c << 2);
          v128.store(pw, f32x4.sub(v128.load(pw), f32x4.mul(vlr, v128.load(g + (c << 2)))));
        }
      }
      for (; c < d; c++) store<f32>(w + (c << 2), load<f32>(w + (c << 2)) - lr * load<f32>(g + (c << 2)));
    } else if (kind == OPTIMIZER_MOMENTUM) {
      for (let c: usize = 0; c < d; c++) {
        const m = mu * load<f32>(s + (c << 2)) + load<f32>(g + (c << 2));
        store<f32>(s + (c << 2), m);
        store<f32>(w + (c << 2), load<f32>(w + (c << 2)) - lr * m);
      }
    } else if (kind == OPTIMIZER_ADAGRAD) {
      for (let c: usize = 0; c < d; c++) {
        const gi = load<f32>(g + (c << 2));
        const acc = load<f32>(s + (c << 2)) + gi * gi;
        store<f32>(s + (c << 2), acc);
        store<f32>(w + (c << 2), load<f32>(w + (c << 2)) - (lr * gi) / (sqrt<f32>(acc) + eps));
      }
    } else if (kind == OPTIMIZER_ROWWISE_ADAGRAD) {
      let sum: f32 = 0;
      for (let c: usize = 0; c < d; c++) {
        const gi = load<f32>(g + (c << 2));
        sum = sum + gi * gi;
      }
      const acc = load<f32>(s) + sum / <f32>dim;
      store<f32>(s, acc);
      const rate = lr / (sqrt<f32>(acc) + eps);
      for (let c: usize = 0; c < d; c++) {
        store<f32>(w + (c << 2), load<f32>(w + (c << 2)) - rate * load<f32>(g + (c << 2)));
      }
    } else {
      // OPTIMIZER_ADAM
      const vo = s + (d << 2);
      for (let c: usize = 0; c < d; c++) {
        const gi = load<f32>(g + (c << 2));
        const m = b1 * load<f32>(s + (c << 2)) + a1 * gi;
        const v = b2 * load<f32>(vo + (c << 2)) + a2 * (gi * gi);
        store<f32>(s + (c << 2), m);
        store<f32>(vo + (c << 2), v);
        const denom = sqrt<f32>(v / bc2) + eps;
        store<f32>(w + (c << 2), load<f32>(w + (c << 2)) - lr * (m / bc1 / denom));
      }
    }
    // Max-norm clip.
    if (maxNorm != 0) {
      let n2: f32 = 0;
      for (let c: usize = 0; c < d; c++) {
        const wc = load<f32>(w + (c << 2));
        n2 = n2 + wc * wc;
      }
      const norm = sqrt<f32>(n2);
      if (!(norm <= maxNorm)) {
        const scale = maxNorm / norm;
        for (let c: usize = 0; c < d; c++) store<f32>(w + (c << 2), load<f32>(w + (c << 2)) * scale);
      }
    }
    // Rounded formats clamped to their range (a finite value beyond it saturates, as the
    // reference's store), and every new weight and state value checked before any store.
    let finite = wKind == F32 ? finiteRow(w, dim) : clampRow(wRow, dim, wMax);
    if (stateSize > 0) {
      const ss = <i32>stateSize;
      finite = finite && (sKind == F32 ? finiteRow(s, ss) : clampRow(sRow, ss, pf(p, P_S_MAX)));
    }
    if (!finite && stop) {
      store<i32>(p + (<usize>P_DONE << 2), u);
      store<i32>(p + (<usize>P_SKIPPED << 2), skipped);
      return;
    }
    // Journaled even when skipped, so that entries 0 .. done - 1 all hold codes to restore.
    if (entry != 0) {
      copyCodes(entry, target, wRowBytes);
      if (sRowBytes > 0) copyCodes(entry + stateAt, stored, sRowBytes);
    }
    if (!finite) {
      skipped++;
      continue;
    }
    // Rounded stores, or float32 write-backs.
    if (wKind == F32) copyCodes(target, wRow, wRowBytes);
    else {
      loadEncoder(<usize>pi(p, P_W_ENCODER));
      if (paired) {
        thresholdsFromWords(words + (<usize>(u & 1) << 5), wBits, thresholds, dim);
      } else if (stochastic) {
        rowThresholds(schedule, <u32>row, step, tdWeights, wBits, dim, words, thresholds);
      }
      encode(wRow, target, dim, wWide, stochastic ? RULE_STOCHASTIC : RULE_NEAREST_EVEN, thresholds);
    }
    if (stateSize == 0) continue;
    if (sKind == F32) copyCodes(stored, sRow, sRowBytes);
    else {
      loadEncoder(<usize>pi(p, P_S_ENCODER));
      const width = <i32>stateSize;
      rowThresholds(schedule, <u32>row, step, <u32>pi(p, P_TD_STATE), pi(p, P_S_BITS), width, words, thresholds);
      encode(sRow, stored, width, true, RULE_STOCHASTIC, thresholds);
    }
  }
  store<i32>(p + (<usize>P_DONE << 2), count);
  store<i32>(p + (<usize>P_SKIPPED << 2), skipped);
}
