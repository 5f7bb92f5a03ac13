// The fused stochastic encode: random words drawn from a stream engine in linear memory,
// thresholds and rounding in one pass (rounding's `stochastic` layout, bit-identical).

import {
  encode16Stochastic,
  encodeOne,
  encoderLowest,
  encoderRebias,
  encoderShift,
  encoderSpan,
} from './codec';
import { RULE_STOCHASTIC } from './layouts.generated';
import { xorshift128PlusFill, xoshiro128PlusPlusFill, thresholdsFromWords } from './rng';
import {
  XORSHIFT_JUMP,
  XOSHIRO_JUMP,
  xorshift128PlusBlock,
  xorshiftJumpReady,
  xoshiro128PlusPlusBlock,
  xoshiroJumpReady,
} from './stream-jump';

/** Elements per chunk of the fused stochastic encode: its words and thresholds stay in L1. */
const STREAM_CHUNK: i32 = 2048;

/**
 * Stochastic encode with random bits drawn from a stream engine in linear memory (0:
 * xorshift128+, 1: xoshiro128++, state at `state`), `bits` per element, element 0 at slot 0 of a
 * fresh word (rounding's `stochastic` layout). `words` and `thresholds` are scratch of 2048 u32
 * each. Returns the last word drawn (its unused slots serve the next call).
 */
export function encodeStochasticStream(
  src: usize,
  dst: usize,
  n: i32,
  wide: bool,
  engine: i32,
  state: usize,
  bits: i32,
  words: usize,
  thresholds: usize,
): u32 {
  const perWord: i32 = bits <= 16 ? 32 / bits : 1;
  if (ASC_FEATURE_SIMD && wide && perWord == 4) return encode16Stream4(src, dst, n, engine, state, bits);
  let last: u32 = 0;
  // Whole words per chunk, so that every chunk starts at slot 0 of a fresh word.
  const chunk = STREAM_CHUNK - (STREAM_CHUNK % perWord);
  for (let start = 0; start < n; start += chunk) {
    const count = n - start < chunk ? n - start : chunk;
    const wordCount = (count + perWord - 1) / perWord;
    if (engine == 0) xorshift128PlusFill(state, words, wordCount);
    else xoshiro128PlusPlusFill(state, words, wordCount);
    last = load<u32>(words + (<usize>(wordCount - 1) << 2));
    thresholdsFromWords(words, bits, thresholds, count);
    const s = src + (<usize>start << 2);
    if (wide) encode16Stochastic(s, dst + (<usize>start << 1), count, thresholds);
    else {
      const d = dst + <usize>start;
      for (let i = 0; i < count; i++) {
        const t = load<u32>(thresholds + (<usize>i << 2));
        store<u8>(d + <usize>i, encodeOne(load<u32>(s + (<usize>i << 2)), RULE_STOCHASTIC, t));
      }
    }
  }
  return last;
}

/**
 * Eight codes (16-bit format, SIMD) of src[i .. i + 8) with threshold addends n0, n1 (~t >>> (32 -
 * shift) per lane; w0, w1 the two random words, for the slow path).
 */
// @ts-ignore: decorator
@inline
function encode8(
  src: usize,
  dst: usize,
  i: i32,
  n0: v128,
  n1: v128,
  w0: u32,
  w1: u32,
  bits: i32,
  shift: i32,
  lowest: v128,
  span: v128,
  rebias: v128,
): void {
  const magnitude = i32x4.splat(0x7fffffff);
  const x0 = v128.load(src + (<usize>i << 2));
  const x1 = v128.load(src + (<usize>i << 2), 16);
  const a0 = v128.and(x0, magnitude);
  const a1 = v128.and(x1, magnitude);
  const ok = v128.and(i32x4.lt_u(i32x4.sub(a0, lowest), span), i32x4.lt_u(i32x4.sub(a1, lowest), span));
  if (i32x4.all_true(ok)) {
    const sign = i32x4.splat(0x8000);
    const r0 = v128.or(
      v128.and(i32x4.shr_u(x0, 16), sign),
      i32x4.shr_u(i32x4.add(i32x4.sub(a0, rebias), n0), shift),
    );
    const r1 = v128.or(
      v128.and(i32x4.shr_u(x1, 16), sign),
      i32x4.shr_u(i32x4.add(i32x4.sub(a1, rebias), n1), shift),
    );
    v128.store(dst + (<usize>i << 1), i16x8.narrow_i32x4_u(r0, r1));
    return;
  }
  const low: u32 = 0xffffffff >>> bits;
  for (let j = 0; j < 8; j++) {
    const word = j < 4 ? w0 : w1;
    const t = (word << <u32>((j & 3) * bits)) | low;
    store<u16>(dst + (<usize>(i + j) << 1), encodeOne(load<u32>(src + (<usize>(i + j) << 2)), RULE_STOCHASTIC, t));
  }
}

/**
 * ~threshold >>> (32 - shift) for the 4 slots of word w0 (`second` 0) or w1 (1). With 8 bits per
 * element a slot's threshold is its byte moved to the top of the lane, all lower bits set: a byte
 * shuffle; other widths multiply by 2^(slot * bits).
 */
// @ts-ignore: decorator
@inline
function addends(w0: u32, w1: u32, bits: i32, scale: v128, low: v128, second: i32, complement: i32): v128 {
  if (bits == 8) {
    const words = i64x2.splat((<u64>w1 << 32) | <u64>w0);
    const zero = i32x4.splat(0);
    const top = second == 0
      ? v128.shuffle<u8>(words, zero, 16, 16, 16, 3, 16, 16, 16, 2, 16, 16, 16, 1, 16, 16, 16, 0)
      : v128.shuffle<u8>(words, zero, 16, 16, 16, 7, 16, 16, 16, 6, 16, 16, 16, 5, 16, 16, 16, 4);
    return i32x4.shr_u(v128.xor(top, i32x4.splat(0xff000000)), complement);
  }
  const t = v128.or(i32x4.mul(i32x4.splat(second == 0 ? w0 : w1), scale), low);
  return i32x4.shr_u(v128.not(t), complement);
}

/**
 * encode8 with 8 random bits per element, the two words at `words`: slot s of a word is its byte
 * 3 - s; ~threshold >>> (32 - shift) = (~byte) << (shift - 8), the complement of the bytes moved
 * to the top of each lane, then shifted down.
 */
// @ts-ignore: decorator
@inline
function encode8Bytes(src: usize, dst: usize, i: i32, words: usize, shift: i32, lowest: v128, span: v128, rebias: v128): void {
  const inverted = v128.not(v128.load64_zero(words));
  const zero = i32x4.splat(0);
  const n0 = i32x4.shr_u(v128.shuffle<u8>(inverted, zero, 16, 16, 16, 3, 16, 16, 16, 2, 16, 16, 16, 1, 16, 16, 16, 0), 32 - shift);
  const n1 = i32x4.shr_u(v128.shuffle<u8>(inverted, zero, 16, 16, 16, 7, 16, 16, 16, 6, 16, 16, 16, 5, 16, 16, 16, 4), 32 - shift);
  encode8(src, dst, i, n0, n1, load<u32>(words), load<u32>(words, 4), 8, shift, lowest, span, rebias);
}

/**
 * The fused stochastic encode for 16-bit formats with 4 elements per random word (bits 7 or 8),
 * SIMD build: the engine steps inline (scalar) beside the vector rounding, 2 words per 8 codes.
 */
function encode16Stream4(src: usize, dst: usize, n: i32, engine: i32, state: usize, bits: i32): u32 {
  const scale = i32x4(1, 1 << bits, 1 << (2 * bits), 1 << (3 * bits));
  const low = i32x4.splat(0xffffffff >>> bits);
  const shift = <i32>encoderShift();
  const complement = 32 - shift;
  const lowest = i32x4.splat(encoderLowest());
  const span = i32x4.splat(encoderSpan());
  const rebias = i32x4.splat(encoderRebias());
  let last: u32 = 0;
  let i = 0;
  // Whole blocks: the engine's SIMD block fill (four streams side by side, the same words) into
  // the words scratch that follows the state (2048 words), then the vector rounding from it.
  const block = engine == 0 ? 4 * XORSHIFT_JUMP : 4 * XOSHIRO_JUMP;
  if (engine == 0 ? xorshiftJumpReady() : xoshiroJumpReady()) {
    const buffer = state + 16;
    for (; i + 4 * block <= n; i += 4 * block) {
      if (engine == 0) xorshift128PlusBlock(state, buffer);
      else xoshiro128PlusPlusBlock(state, buffer);
      if (shift == 13 && bits == 8) {
        // float16 with 8 bits: constant shifts (a variable vector shift costs extra instructions).
        for (let e = 0; e < 4 * block; e += 8) encode8Bytes(src, dst, i + e, buffer + <usize>e, 13, lowest, span, rebias);
      } else if (bits == 8) {
        for (let e = 0; e < 4 * block; e += 8) encode8Bytes(src, dst, i + e, buffer + <usize>e, shift, lowest, span, rebias);
      } else {
        for (let e = 0; e < 4 * block; e += 8) {
          const w0 = load<u32>(buffer + <usize>e);
          const w1 = load<u32>(buffer + <usize>e, 4);
          encode8(src, dst, i + e, addends(w0, w1, bits, scale, low, 0, complement), addends(w0, w1, bits, scale, low, 1, complement), w0, w1, bits, shift, lowest, span, rebias);
        }
      }
      last = load<u32>(buffer + (<usize>(block - 1) << 2));
    }
  }
  if (engine == 0) {
    let s0 = load<u64>(state);
    let s1 = load<u64>(state, 8);
    for (; i + 8 <= n; i += 8) {
      const w0 = <u32>(s0 + s1);
      let t = s0 ^ (s0 << 23);
      s0 = s1;
      s1 = t ^ s1 ^ (t >>> 18) ^ (s1 >>> 5);
      const w1 = <u32>(s0 + s1);
      t = s0 ^ (s0 << 23);
      s0 = s1;
      s1 = t ^ s1 ^ (t >>> 18) ^ (s1 >>> 5);
      encode8(src, dst, i, addends(w0, w1, bits, scale, low, 0, complement), addends(w0, w1, bits, scale, low, 1, complement), w0, w1, bits, shift, lowest, span, rebias);
      last = w1;
    }
    store<u64>(state, s0);
    store<u64>(state, s1, 8);
  } else {
    let s0 = load<u32>(state);
    let s1 = load<u32>(state, 4);
    let s2 = load<u32>(state, 8);
    let s3 = load<u32>(state, 12);
    for (; i + 8 <= n; i += 8) {
      const w0 = rotl<u32>(s0 + s3, 7) + s0;
      let t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl<u32>(s3, 11);
      const w1 = rotl<u32>(s0 + s3, 7) + s0;
      t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl<u32>(s3, 11);
      encode8(src, dst, i, addends(w0, w1, bits, scale, low, 0, complement), addends(w0, w1, bits, scale, low, 1, complement), w0, w1, bits, shift, lowest, span, rebias);
      last = w1;
    }
    store<u32>(state, s0);
    store<u32>(state, s1, 4);
    store<u32>(state, s2, 8);
    store<u32>(state, s3, 12);
  }
  // The last 0..7 elements: 1 or 2 more words.
  const rest = n - i;
  if (rest > 0) {
    const words = (rest + 3) >> 2;
    const buffer = state + 16; // the caller's words scratch follows the state
    if (engine == 0) xorshift128PlusFill(state, buffer, words);
    else xoshiro128PlusPlusFill(state, buffer, words);
    const lowBits: u32 = 0xffffffff >>> bits;
    for (let j = 0; j < rest; j++) {
      const word = load<u32>(buffer + (<usize>(j >> 2) << 2));
      const t = (word << <u32>((j & 3) * bits)) | lowBits;
      store<u16>(dst + (<usize>(i + j) << 1), encodeOne(load<u32>(src + (<usize>(i + j) << 2)), RULE_STOCHASTIC, t));
    }
    last = load<u32>(buffer + (<usize>(words - 1) << 2));
  }
  return last;
}
