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
  P_EPS,
  P_GRADS,
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
  P_STATE,
  P_STATE_SIZE,
  P_STEP,
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
 * Clamps `width` float32 at `values` to +-max (NaN stays), encodes them with nearest-even or the
 * thresholds at `thresholds` (overflow to infinity, as the reference's store), and writes the
 * codes to `target` (u16 for 16-bit kinds, u8 otherwise).
 */
function storeRow(
  values: usize,
  width: i32,
  max: f32,
  wide: bool,
  stochastic: bool,
  thresholds: usize,
  target: usize,
): void {
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    // pmin/pmax keep NaN (the comparison is false) and -0, like the scalar clamp below.
    const hi = f32x4.splat(max);
    const lo = f32x4.splat(-max);
    for (; c + 4 <= width; c += 4) {
      const p = values + (<usize>c << 2);
      v128.store(p, f32x4.pmax(f32x4.pmin(v128.load(p), hi), lo));
    }
  }
  for (; c < width; c++) {
    const p = values + (<usize>c << 2);
    const v = load<f32>(p);
    if (v > max) store<f32>(p, max);
    else if (v < -max) store<f32>(p, -max);
  }
  encode(values, target, width, wide, stochastic ? RULE_STOCHASTIC : RULE_NEAREST_EVEN, thresholds);
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

/**
 * The whole SGD update of one float16 (`f16`, shift 13) or bfloat16 (shift 16) row of `dim` = 8 or
 * 16 elements with stochastic rounding and 2 random words per 4 elements (9..16 bits), in
 * registers (SIMD build): decode, w - lr * g, clamp to +-max, thresholds from the row's words,
 * encode, store. The same operations in the same order as decodeRow, the SGD rule, storeRow and
 * encode16Stochastic (elements outside the fast encode range take encodeOne, through `spill`).
 * Returns false, having written nothing, when a float16 code is an infinity or NaN (the caller
 * then takes the general path).
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
): bool {
  const mask = i16x8.splat(0x7fff);
  if (f16) {
    const infCode = i16x8.splat(0x7c00);
    let special = i16x8.ge_u(v128.and(v128.load(target), mask), infCode);
    if (dim == 16) special = v128.or(special, i16x8.ge_u(v128.and(v128.load(target, 16), mask), infCode));
    if (v128.any_true(special)) return false;
  }
  const vlr = f32x4.splat(lr);
  const hi = f32x4.splat(max);
  const lo = f32x4.splat(-max);
  const lowMask = i32x4.splat(0x7fff);
  const scale = f32x4.splat(reinterpret<f32>(<u32>0x77800000)); // 2^112
  const magnitude = i32x4.splat(0x7fffffff);
  const signBit = i32x4.splat(0x8000);
  const tScale = i32x4(1, 1 << bits, 1, 1 << bits);
  const tLow = i32x4.splat(0xffffffff >>> bits);
  const lowest = i32x4.splat(encoderLowest());
  const span = i32x4.splat(encoderSpan());
  const rebias = i32x4.splat(encoderRebias());
  for (let c = 0; c < dim; c += 8) {
    const p = target + (<usize>c << 1);
    const codes = v128.load(p);
    const h0 = i32x4.extend_low_i16x8_u(codes);
    const h1 = i32x4.extend_high_i16x8_u(codes);
    let x0: v128;
    let x1: v128;
    if (f16) {
      x0 = v128.or(f32x4.mul(i32x4.shl(v128.and(h0, lowMask), 13), scale), i32x4.shl(i32x4.shr_u(h0, 15), 31));
      x1 = v128.or(f32x4.mul(i32x4.shl(v128.and(h1, lowMask), 13), scale), i32x4.shl(i32x4.shr_u(h1, 15), 31));
    } else {
      x0 = i32x4.shl(h0, 16);
      x1 = i32x4.shl(h1, 16);
    }
    const gp = g + (<usize>c << 2);
    x0 = f32x4.sub(x0, f32x4.mul(vlr, v128.load(gp)));
    x1 = f32x4.sub(x1, f32x4.mul(vlr, v128.load(gp, 16)));
    x0 = f32x4.pmax(f32x4.pmin(x0, hi), lo);
    x1 = f32x4.pmax(f32x4.pmin(x1, hi), lo);
    // Elements c .. c + 7 take slots 0, 1 of words c / 2 .. c / 2 + 3.
    const wp = words + (<usize>c << 1);
    const pair0 = v128.load64_zero(wp);
    const pair1 = v128.load64_zero(wp, 8);
    const t0 = v128.or(i32x4.mul(v128.shuffle<i32>(pair0, pair0, 0, 0, 1, 1), tScale), tLow);
    const t1 = v128.or(i32x4.mul(v128.shuffle<i32>(pair1, pair1, 0, 0, 1, 1), tScale), tLow);
    const a0 = v128.and(x0, magnitude);
    const a1 = v128.and(x1, magnitude);
    const ok = v128.and(i32x4.lt_u(i32x4.sub(a0, lowest), span), i32x4.lt_u(i32x4.sub(a1, lowest), span));
    if (i32x4.all_true(ok)) {
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
  return true;
}

/**
 * The fused update of `count` distinct rows (rows at P_ROWS, their summed gradients at P_GRADS,
 * count x dim): decode each row and its state to float32, apply weight decay, the optimizer's
 * rule and the max-norm clip exactly as @halfstep/optim's updateRow, then store (rounded) or
 * write back (float32).
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
  const wMax = pf(p, P_W_MAX);
  for (let u = 0; u < count; u++) {
    const row = <usize>load<i32>(rowsPtr + (<usize>u << 2));
    const g = grads + ((<usize>u * d) << 2);
    if (wholeRow) {
      if ((u & 1) == 0) {
        const next = u + 1 < count ? <u32>load<i32>(rowsPtr + (<usize>(u + 1) << 2)) : <u32>row;
        philoxPair(<u32>row, next, step, tdWeights, schedule, words);
      }
      const rowWords = words + (<usize>(u & 1) << 5);
      const target = weights + ((row * d) << 1);
      const done = wKind == F16
        ? sgdRow16(target, g, dim, true, 13, lr, wMax, rowWords, wBits, thresholds)
        : sgdRow16(target, g, dim, false, 16, lr, wMax, rowWords, wBits, thresholds);
      if (done) continue;
    }
    // Decode (or point at) the weights and the state.
    const w = wKind == F32 ? weights + ((row * d) << 2) : wRow;
    if (wKind != F32) decodeRow(weights, row * d, dim, wKind, wLut, wRow);
    const s = sKind == F32 ? state + ((row * stateSize) << 2) : sRow;
    if (sKind != F32) decodeRow(state, row * stateSize, <i32>stateSize, sKind, sLut, sRow);
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
    // Rounded stores.
    if (wKind != F32) {
      loadEncoder(<usize>pi(p, P_W_ENCODER));
      if (paired) {
        if ((u & 1) == 0 && !wholeRow) {
          // This row's words at `words`, the next row's at `words + 32` (for the next iteration).
          const next = u + 1 < count ? <u32>load<i32>(rowsPtr + (<usize>(u + 1) << 2)) : <u32>row;
          philoxPair(<u32>row, next, step, tdWeights, schedule, words);
        }
        thresholdsFromWords(words + (<usize>(u & 1) << 5), wBits, thresholds, dim);
      } else if (stochastic) {
        rowThresholds(schedule, <u32>row, step, tdWeights, wBits, dim, words, thresholds);
      }
      const target = wWide ? weights + ((row * d) << 1) : weights + row * d;
      storeRow(wRow, dim, wMax, wWide, stochastic, thresholds, target);
    }
    if (sKind != F32 && stateSize > 0) {
      loadEncoder(<usize>pi(p, P_S_ENCODER));
      const width = <i32>stateSize;
      rowThresholds(schedule, <u32>row, step, <u32>pi(p, P_TD_STATE), pi(p, P_S_BITS), width, words, thresholds);
      storeRow(sRow, width, pf(p, P_S_MAX), true, true, thresholds, state + ((row * stateSize) << 1));
    }
  }
}
