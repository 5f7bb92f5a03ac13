// Float32 <-> float16/bfloat16/float8 conversion kernels: a port of @halfstep/codecs' encode.ts
// (encodeOne and its fast paths) onto raw pointers in linear memory. The SIMD build takes v128
// paths for the common normal range, eight elements at a time, and falls back to the scalar
// encoder for any group of eight that holds a value outside it.

import {
  E_KEEPS_PAYLOAD,
  E_MAX_FINITE_CODE,
  E_MIN_NORMAL_BITS,
  E_NAN_CODE,
  E_NORMAL_SHIFT,
  E_OVERFLOW_CODE,
  E_REBIAS,
  E_SIGN_MASK,
  E_SIGN_SHIFT,
  E_SUBNORMAL_SHIFT_BASE,
  RULE_NEAREST_AWAY,
  RULE_NEAREST_EVEN,
  RULE_STOCHASTIC,
  RULE_TO_ODD,
  RULE_TOWARD_NEGATIVE,
  RULE_TOWARD_POSITIVE,
  RULE_TOWARD_ZERO,
} from './layouts.generated';

// Encoder constants of the current format and overflow mode (see `setEncoder`).
let normalShift: u32 = 13;
let rebias: u32 = 0;
let minNormalBits: u32 = 0;
let subnormalShiftBase: i32 = 0;
let maxFiniteCode: u32 = 0;
let overflowCode: u32 = 0;
let signShift: u32 = 16;
let signMask: u32 = 0x8000;
let nanCode: u32 = 0;
let keepsPayload: bool = true;

/** Sets the encoder constants (computed on the JS side exactly as codecs' `encoderFor`). */
export function setEncoder(
  normalShift_: u32,
  rebias_: u32,
  minNormalBits_: u32,
  subnormalShiftBase_: i32,
  maxFiniteCode_: u32,
  overflowCode_: u32,
  signShift_: u32,
  signMask_: u32,
  nanCode_: u32,
  keepsPayload_: bool,
): void {
  normalShift = normalShift_;
  rebias = rebias_;
  minNormalBits = minNormalBits_;
  subnormalShiftBase = subnormalShiftBase_;
  maxFiniteCode = maxFiniteCode_;
  overflowCode = overflowCode_;
  signShift = signShift_;
  signMask = signMask_;
  nanCode = nanCode_;
  keepsPayload = keepsPayload_;
}

/** codecs' encodeOne: the code of float32 bits `x` under rule `rule` (a RULE_* code). */
export function encodeOne(x: u32, rule: i32, threshold: u32): u32 {
  const a = x & 0x7fffffff;
  const sign = (x >>> signShift) & signMask;
  let lower: u32;
  let fraction: u32;
  if (a >= minNormalBits) {
    if (a >= 0x7f800000) {
      if (a == 0x7f800000) return sign | overflowCode;
      return sign | (keepsPayload ? nanCode | ((a & 0x7fffff) >>> normalShift) : nanCode);
    }
    const d = a - rebias;
    lower = d >>> normalShift;
    fraction = d << (32 - normalShift);
    if (lower > maxFiniteCode) {
      const away =
        rule == RULE_NEAREST_EVEN ||
        rule == RULE_NEAREST_AWAY ||
        rule == RULE_STOCHASTIC ||
        (sign == 0 ? rule == RULE_TOWARD_POSITIVE : rule == RULE_TOWARD_NEGATIVE);
      return sign | (away ? overflowCode : maxFiniteCode);
    }
  } else {
    const e = a >>> 23;
    const significand: u32 = e == 0 ? a : (a & 0x7fffff) | 0x800000;
    const shift: i32 = subnormalShiftBase - (e == 0 ? 1 : <i32>e);
    if (shift < 32) {
      lower = significand >>> shift;
      // JS's `<< (32 - shift)` takes the shift count mod 32: shift = 0 gives the significand.
      fraction = significand << ((32 - shift) & 31);
    } else {
      const drop = shift - 32;
      lower = 0;
      if (drop >= 24) fraction = significand == 0 ? 0 : 1;
      else {
        const sticky: u32 = (significand & ((<u32>1 << drop) - 1)) == 0 ? 0 : 1;
        fraction = (significand >>> drop) | sticky;
      }
    }
  }
  let up: bool;
  switch (rule) {
    case RULE_NEAREST_EVEN:
      up = fraction > 0x80000000 || (fraction == 0x80000000 && (lower & 1) == 1);
      break;
    case RULE_NEAREST_AWAY:
      up = fraction >= 0x80000000;
      break;
    case RULE_TOWARD_ZERO:
      up = false;
      break;
    case RULE_TOWARD_POSITIVE:
      up = fraction != 0 && sign == 0;
      break;
    case RULE_TOWARD_NEGATIVE:
      up = fraction != 0 && sign != 0;
      break;
    case RULE_TO_ODD:
      up = fraction != 0 && (lower & 1) == 0;
      break;
    default:
      up = fraction > threshold;
  }
  const code = up ? lower + 1 : lower;
  if (code > maxFiniteCode) return sign | (rule == RULE_TO_ODD ? maxFiniteCode : overflowCode);
  return sign | code;
}

// @ts-ignore: decorator
@inline
function storeCode(dst: usize, i: usize, wide: bool, code: u32): void {
  if (wide) store<u16>(dst + (i << 1), code);
  else store<u8>(dst + i, code);
}

/**
 * Encodes `n` float32 values at `src` into codes at `dst` (u16 when `wide`, else u8) with rule
 * `rule`; the stochastic rule (RULE_STOCHASTIC) reads one u32 threshold per element at `thresholds`.
 */
export function encode(src: usize, dst: usize, n: i32, wide: bool, rule: i32, thresholds: usize): void {
  if (rule == RULE_STOCHASTIC) {
    if (wide) {
      encode16Stochastic(src, dst, n, thresholds);
      return;
    }
    for (let i = 0; i < n; i++) {
      const t = load<u32>(thresholds + (<usize>i << 2));
      store<u8>(dst + i, encodeOne(load<u32>(src + (<usize>i << 2)), RULE_STOCHASTIC, t));
    }
    return;
  }
  if (rule == RULE_NEAREST_EVEN && wide && overflowCode != maxFiniteCode) {
    if (normalShift == 13) encodeFloat16NearestEven(src, dst, n);
    else encodeBfloat16NearestEven(src, dst, n);
    return;
  }
  for (let i = 0; i < n; i++) {
    storeCode(dst, i, wide, encodeOne(load<u32>(src + (<usize>i << 2)), rule, 0));
  }
}

/** codecs' encodeFloat16NearestEven. */
function encodeFloat16NearestEven(src: usize, dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const lowest = i32x4.splat(0x38800000);
    const span = i32x4.splat(0x0f000000);
    const unbias = i32x4.splat(0x38000000 - 0xfff);
    const one = i32x4.splat(1);
    const signBit = i32x4.splat(0x8000);
    const magnitude = i32x4.splat(0x7fffffff);
    for (; i + 8 <= n; i += 8) {
      const x0 = v128.load(src + (<usize>i << 2));
      const x1 = v128.load(src + (<usize>i << 2), 16);
      const a0 = v128.and(x0, magnitude);
      const a1 = v128.and(x1, magnitude);
      const ok = v128.and(
        i32x4.lt_u(i32x4.sub(a0, lowest), span),
        i32x4.lt_u(i32x4.sub(a1, lowest), span),
      );
      if (!i32x4.all_true(ok)) {
        for (let j = i; j < i + 8; j++) {
          store<u16>(dst + (<usize>j << 1), encodeOne(load<u32>(src + (<usize>j << 2)), 0, 0));
        }
        continue;
      }
      const r0 = v128.or(
        v128.and(i32x4.shr_u(x0, 16), signBit),
        i32x4.shr_u(i32x4.add(i32x4.sub(a0, unbias), v128.and(i32x4.shr_u(a0, 13), one)), 13),
      );
      const r1 = v128.or(
        v128.and(i32x4.shr_u(x1, 16), signBit),
        i32x4.shr_u(i32x4.add(i32x4.sub(a1, unbias), v128.and(i32x4.shr_u(a1, 13), one)), 13),
      );
      v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(r0, r1));
    }
  }
  for (; i < n; i++) {
    const x = load<u32>(src + (<usize>i << 2));
    const a = x & 0x7fffffff;
    let code: u32;
    if (a - 0x38800000 < 0x0f000000) {
      code = ((x >>> 16) & 0x8000) | ((a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13);
    } else {
      code = encodeOne(x, RULE_NEAREST_EVEN, 0);
    }
    store<u16>(dst + (<usize>i << 1), code);
  }
}

/** codecs' encodeBfloat16NearestEven. */
function encodeBfloat16NearestEven(src: usize, dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const magnitude = i32x4.splat(0x7fffffff);
    const infinity = i32x4.splat(0x7f800001);
    const half = i32x4.splat(0x7fff);
    const one = i32x4.splat(1);
    for (; i + 8 <= n; i += 8) {
      const x0 = v128.load(src + (<usize>i << 2));
      const x1 = v128.load(src + (<usize>i << 2), 16);
      const ok = v128.and(
        i32x4.lt_u(v128.and(x0, magnitude), infinity),
        i32x4.lt_u(v128.and(x1, magnitude), infinity),
      );
      if (!i32x4.all_true(ok)) {
        for (let j = i; j < i + 8; j++) {
          store<u16>(dst + (<usize>j << 1), encodeOne(load<u32>(src + (<usize>j << 2)), 0, 0));
        }
        continue;
      }
      const r0 = i32x4.shr_u(i32x4.add(i32x4.add(x0, half), v128.and(i32x4.shr_u(x0, 16), one)), 16);
      const r1 = i32x4.shr_u(i32x4.add(i32x4.add(x1, half), v128.and(i32x4.shr_u(x1, 16), one)), 16);
      v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(r0, r1));
    }
  }
  for (; i < n; i++) {
    const x = load<u32>(src + (<usize>i << 2));
    const code = (x & 0x7fffffff) <= 0x7f800000 ? (x + 0x7fff + ((x >>> 16) & 1)) >>> 16 : encodeOne(x, RULE_NEAREST_EVEN, 0);
    store<u16>(dst + (<usize>i << 1), code);
  }
}

/**
 * codecs' encode16Stochastic: in the normal range below the top step, adding the top `shift`
 * bits of ~threshold carries into the code exactly when fraction > threshold.
 */
export function encode16Stochastic(src: usize, dst: usize, n: i32, thresholds: usize): void {
  const shift = normalShift;
  const complementShift = 32 - shift;
  const lowest = minNormalBits;
  const span = (maxFiniteCode << shift) + rebias - lowest;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vLowest = i32x4.splat(lowest);
    const vSpan = i32x4.splat(span);
    const vRebias = i32x4.splat(rebias);
    const magnitude = i32x4.splat(0x7fffffff);
    const signBit = i32x4.splat(0x8000);
    for (; i + 8 <= n; i += 8) {
      const x0 = v128.load(src + (<usize>i << 2));
      const x1 = v128.load(src + (<usize>i << 2), 16);
      const a0 = v128.and(x0, magnitude);
      const a1 = v128.and(x1, magnitude);
      const ok = v128.and(
        i32x4.lt_u(i32x4.sub(a0, vLowest), vSpan),
        i32x4.lt_u(i32x4.sub(a1, vLowest), vSpan),
      );
      if (!i32x4.all_true(ok)) {
        for (let j = i; j < i + 8; j++) {
          const t = load<u32>(thresholds + (<usize>j << 2));
          store<u16>(dst + (<usize>j << 1), encodeOne(load<u32>(src + (<usize>j << 2)), RULE_STOCHASTIC, t));
        }
        continue;
      }
      const t0 = i32x4.shr_u(v128.not(v128.load(thresholds + (<usize>i << 2))), complementShift);
      const t1 = i32x4.shr_u(v128.not(v128.load(thresholds + (<usize>i << 2), 16)), complementShift);
      const r0 = v128.or(
        v128.and(i32x4.shr_u(x0, 16), signBit),
        i32x4.shr_u(i32x4.add(i32x4.sub(a0, vRebias), t0), shift),
      );
      const r1 = v128.or(
        v128.and(i32x4.shr_u(x1, 16), signBit),
        i32x4.shr_u(i32x4.add(i32x4.sub(a1, vRebias), t1), shift),
      );
      v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(r0, r1));
    }
  }
  for (; i < n; i++) {
    const x = load<u32>(src + (<usize>i << 2));
    const a = x & 0x7fffffff;
    const t = load<u32>(thresholds + (<usize>i << 2));
    let code: u32;
    if (a - lowest < span) {
      code = ((x >>> 16) & 0x8000) | ((a - rebias + (~t >>> complementShift)) >>> shift);
    } else {
      code = encodeOne(x, RULE_STOCHASTIC, t);
    }
    store<u16>(dst + (<usize>i << 1), code);
  }
}

/**
 * Decodes `n` codes at `src` (u16 when `wide`, else u8) into float32 bits at `dst` through the
 * 2^bits-entry table of float32 bits at `table` (codecs' decodeTable).
 */
export function decodeTable(src: usize, dst: usize, n: i32, wide: bool, table: usize): void {
  if (wide) {
    for (let i = 0; i < n; i++) {
      const code = <usize>load<u16>(src + (<usize>i << 1));
      store<u32>(dst + (<usize>i << 2), load<u32>(table + (code << 2)));
    }
  } else {
    for (let i = 0; i < n; i++) {
      const code = <usize>load<u8>(src + <usize>i);
      store<u32>(dst + (<usize>i << 2), load<u32>(table + (code << 2)));
    }
  }
}

/** bfloat16 decode: float32 bits = code << 16. */
export function decodeBfloat16(src: usize, dst: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 8 <= n; i += 8) {
      const codes = v128.load(src + (<usize>i << 1));
      v128.store(dst + (<usize>i << 2), i32x4.shl(i32x4.extend_low_i16x8_u(codes), 16));
      v128.store(dst + (<usize>i << 2), i32x4.shl(i32x4.extend_high_i16x8_u(codes), 16), 16);
    }
  }
  for (; i < n; i++) {
    store<u32>(dst + (<usize>i << 2), (<u32>load<u16>(src + (<usize>i << 1))) << 16);
  }
}

/**
 * float16 decode (SIMD build): magnitude << 13 read as a float32 times 2^112 is the exact value
 * of every finite code, subnormals included; infinities and NaNs (quiet bit set, payload kept,
 * as F16C) are blended in. The scalar build reads the table.
 */
export function decodeFloat16(src: usize, dst: usize, n: i32, table: usize): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const mask = i32x4.splat(0x7fff);
    const scale = f32x4.splat(reinterpret<f32>(<u32>0x77800000)); // 2^112
    const infCode = i32x4.splat(0x7c00);
    const nanBits = i32x4.splat(0x7fc00000);
    const infBits = i32x4.splat(0x7f800000);
    for (; i + 8 <= n; i += 8) {
      const codes = v128.load(src + (<usize>i << 1));
      for (let half = 0; half < 2; half++) {
        const h = half == 0 ? i32x4.extend_low_i16x8_u(codes) : i32x4.extend_high_i16x8_u(codes);
        const m = v128.and(h, mask);
        const sign = i32x4.shl(i32x4.shr_u(h, 15), 31);
        const finite = f32x4.mul(i32x4.shl(m, 13), scale);
        const special = v128.bitselect(
          infBits,
          v128.or(nanBits, i32x4.shl(v128.and(m, i32x4.splat(0x3ff)), 13)),
          i32x4.eq(m, infCode),
        );
        const value = v128.bitselect(special, finite, i32x4.ge_u(m, infCode));
        v128.store(dst + (<usize>(i + half * 4) << 2), v128.or(value, sign));
      }
    }
  }
  decodeTable(src + (<usize>i << 1), dst + (<usize>i << 2), n - i, true, table);
}

/** Loads a format's encoder block at `p` (src/layouts.ts' ENCODER_LAYOUT, the E_* words). */
export function loadEncoder(p: usize): void {
  normalShift = load<u32>(p, E_NORMAL_SHIFT << 2);
  rebias = load<u32>(p, E_REBIAS << 2);
  minNormalBits = load<u32>(p, E_MIN_NORMAL_BITS << 2);
  subnormalShiftBase = load<i32>(p, E_SUBNORMAL_SHIFT_BASE << 2);
  maxFiniteCode = load<u32>(p, E_MAX_FINITE_CODE << 2);
  overflowCode = load<u32>(p, E_OVERFLOW_CODE << 2);
  signShift = load<u32>(p, E_SIGN_SHIFT << 2);
  signMask = load<u32>(p, E_SIGN_MASK << 2);
  nanCode = load<u32>(p, E_NAN_CODE << 2);
  keepsPayload = load<u32>(p, E_KEEPS_PAYLOAD << 2) != 0;
}

/**
 * The code of float32 bits `x` under the stochastic rule with `threshold` for a 16-bit format
 * (encode16Stochastic's per-element formula, which equals encodeOne).
 */
// @ts-ignore: decorator
@inline
export function encode16StochasticOne(x: u32, threshold: u32): u32 {
  const a = x & 0x7fffffff;
  const shift = normalShift;
  if (a - minNormalBits < (maxFiniteCode << shift) + rebias - minNormalBits) {
    return ((x >>> 16) & 0x8000) | ((a - rebias + (~threshold >>> (32 - shift))) >>> shift);
  }
  return encodeOne(x, RULE_STOCHASTIC, threshold);
}

// The current encoder's constants, for the fused kernels of other modules.

// @ts-ignore: decorator
@inline
export function encoderShift(): u32 {
  return normalShift;
}

// @ts-ignore: decorator
@inline
export function encoderRebias(): u32 {
  return rebias;
}

// @ts-ignore: decorator
@inline
export function encoderLowest(): u32 {
  return minNormalBits;
}

/** The width of the 16-bit stochastic fast path: normal range below the top step. */
// @ts-ignore: decorator
@inline
export function encoderSpan(): u32 {
  return (maxFiniteCode << normalShift) + rebias - minNormalBits;
}
