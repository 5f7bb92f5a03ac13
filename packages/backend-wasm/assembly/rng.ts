// Random engines' bulk fill, ports of @halfstep/rng: Philox4x32-R (word-addressed), and the
// stream engines xorshift128+ and xoshiro128++ whose state lives in linear memory.

import { M0, M1 } from './philox-block';
import {
  XORSHIFT_JUMP,
  XOSHIRO_JUMP,
  xorshift128PlusBlock,
  xorshiftJumpReady,
  xoshiro128PlusPlusBlock,
  xoshiroJumpReady,
} from './stream-jump';

export { initJumpTable } from './stream-jump';
const W0: u32 = 0x9e3779b9;
const W1: u32 = 0xbb67ae85;

/** Writes the Philox key schedule of (k0, k1) for `rounds` rounds: 2 u32 per round at `schedule`. */
export function philoxSchedule(k0: u32, k1: u32, rounds: i32, schedule: usize): void {
  for (let r = 0; r < rounds; r++) {
    store<u32>(schedule + (<usize>r << 3), k0 + <u32>r * W0);
    store<u32>(schedule + (<usize>r << 3) + 4, k1 + <u32>r * W1);
  }
}

import { b0, b1, b2, b3, philoxBlock, storeBlocks } from './philox-block';

// @ts-ignore: decorator
@inline
function laneOf(lane: i32): u32 {
  return lane == 0 ? b0 : lane == 1 ? b1 : lane == 2 ? b2 : b3;
}

/**
 * Fills `n` u32 at `out` with Philox words starting at lane `lane` of block (c0, c1, c2, c3):
 * word w is lane w % 4 of block w >> 2 (rng's fillPhilox). The 128-bit block counter carries.
 */
export function philoxFill(
  schedule: usize,
  rounds: i32,
  c0: u32,
  c1: u32,
  c2: u32,
  c3: u32,
  lane: i32,
  out: usize,
  n: i32,
): void {
  let i = 0;
  if (lane != 0 && n > 0) {
    philoxBlock(c0, c1, c2, c3, schedule, rounds);
    while (lane < 4 && i < n) {
      store<u32>(out + (<usize>i << 2), laneOf(lane));
      i++;
      lane++;
    }
    c0++;
    if (c0 == 0) {
      c1++;
      if (c1 == 0) {
        c2++;
        if (c2 == 0) c3++;
      }
    }
  }
  const wholeEnd = n - ((n - i) & 3);
  if (ASC_FEATURE_SIMD) {
    // Four blocks at a time, one per lane: counters c0 + 0..3 (when c0 does not wrap in the group).
    const vM0 = i32x4.splat(M0);
    const vM1 = i32x4.splat(M1);
    // Eight blocks per iteration, two independent groups of four, to keep the multipliers busy.
    while (i + 32 <= wholeEnd && c0 <= 0xfffffff8) {
      let x0 = i32x4(c0, c0 + 1, c0 + 2, c0 + 3);
      let y0 = i32x4(c0 + 4, c0 + 5, c0 + 6, c0 + 7);
      let x1 = i32x4.splat(c1);
      let y1 = x1;
      let x2 = i32x4.splat(c2);
      let y2 = x2;
      let x3 = i32x4.splat(c3);
      let y3 = x3;
      for (let r = 0; r < rounds; r++) {
        const k = schedule + (<usize>r << 3);
        const k0 = i32x4.splat(load<u32>(k));
        const k1 = i32x4.splat(load<u32>(k, 4));
        const p0lo = i64x2.extmul_low_i32x4_u(x0, vM0);
        const p0hi = i64x2.extmul_high_i32x4_u(x0, vM0);
        const p1lo = i64x2.extmul_low_i32x4_u(x2, vM1);
        const p1hi = i64x2.extmul_high_i32x4_u(x2, vM1);
        const q0lo = i64x2.extmul_low_i32x4_u(y0, vM0);
        const q0hi = i64x2.extmul_high_i32x4_u(y0, vM0);
        const q1lo = i64x2.extmul_low_i32x4_u(y2, vM1);
        const q1hi = i64x2.extmul_high_i32x4_u(y2, vM1);
        x0 = v128.xor(v128.xor(v128.shuffle<i32>(p1lo, p1hi, 1, 3, 5, 7), x1), k0);
        x1 = v128.shuffle<i32>(p1lo, p1hi, 0, 2, 4, 6);
        x2 = v128.xor(v128.xor(v128.shuffle<i32>(p0lo, p0hi, 1, 3, 5, 7), x3), k1);
        x3 = v128.shuffle<i32>(p0lo, p0hi, 0, 2, 4, 6);
        y0 = v128.xor(v128.xor(v128.shuffle<i32>(q1lo, q1hi, 1, 3, 5, 7), y1), k0);
        y1 = v128.shuffle<i32>(q1lo, q1hi, 0, 2, 4, 6);
        y2 = v128.xor(v128.xor(v128.shuffle<i32>(q0lo, q0hi, 1, 3, 5, 7), y3), k1);
        y3 = v128.shuffle<i32>(q0lo, q0hi, 0, 2, 4, 6);
      }
      storeBlocks(out + (<usize>i << 2), x0, x1, x2, x3);
      storeBlocks(out + (<usize>(i + 16) << 2), y0, y1, y2, y3);
      i += 32;
      c0 += 8;
      if (c0 == 0) {
        c1++;
        if (c1 == 0) {
          c2++;
          if (c2 == 0) c3++;
        }
      }
    }
  }
  while (i < wholeEnd) {
    philoxBlock(c0, c1, c2, c3, schedule, rounds);
    const p = out + (<usize>i << 2);
    store<u32>(p, b0);
    store<u32>(p, b1, 4);
    store<u32>(p, b2, 8);
    store<u32>(p, b3, 12);
    i += 4;
    c0++;
    if (c0 == 0) {
      c1++;
      if (c1 == 0) {
        c2++;
        if (c2 == 0) c3++;
      }
    }
  }
  if (i < n) {
    philoxBlock(c0, c1, c2, c3, schedule, rounds);
    for (let j = 0; i < n; j++) {
      store<u32>(out + (<usize>i << 2), laneOf(j));
      i++;
    }
  }
}

/**
 * xorshift128+ (23, 18, 5), one 32-bit word per step (low 32 bits of s0 + s1 before the step),
 * as rng's Xorshift128Plus.fillUint32. State: 4 u32 at `state` (s0 low, s0 high, s1 low, s1 high),
 * updated in place. The SIMD build with a jump table fills whole blocks of 4 * XORSHIFT_JUMP
 * words with `xorshift128PlusBlock` (the same words).
 */
export function xorshift128PlusFill(state: usize, out: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD && xorshiftJumpReady()) {
    for (; i + 4 * XORSHIFT_JUMP <= n; i += 4 * XORSHIFT_JUMP) {
      xorshift128PlusBlock(state, out + (<usize>i << 2));
    }
  }
  let s0 = load<u64>(state);
  let s1 = load<u64>(state, 8);
  for (; i < n; i++) {
    store<u32>(out + (<usize>i << 2), <u32>(s0 + s1));
    const t = s0 ^ (s0 << 23);
    s0 = s1;
    s1 = t ^ s1 ^ (t >>> 18) ^ (s1 >>> 5);
  }
  store<u64>(state, s0);
  store<u64>(state, s1, 8);
}

/**
 * xoshiro128++: output rotl(s0 + s3, 7) + s0 before the step, as rng's
 * Xoshiro128PlusPlus.fillUint32. State: 4 u32 at `state`, updated in place. The SIMD build with
 * a jump table fills whole blocks of 4 * XOSHIRO_JUMP words with `xoshiro128PlusPlusBlock`.
 */
export function xoshiro128PlusPlusFill(state: usize, out: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD && xoshiroJumpReady()) {
    for (; i + 4 * XOSHIRO_JUMP <= n; i += 4 * XOSHIRO_JUMP) {
      xoshiro128PlusPlusBlock(state, out + (<usize>i << 2));
    }
  }
  let s0 = load<u32>(state);
  let s1 = load<u32>(state, 4);
  let s2 = load<u32>(state, 8);
  let s3 = load<u32>(state, 12);
  for (; i < n; i++) {
    store<u32>(out + (<usize>i << 2), rotl<u32>(s0 + s3, 7) + s0);
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl<u32>(s3, 11);
  }
  store<u32>(state, s0);
  store<u32>(state, s1, 4);
  store<u32>(state, s2, 8);
  store<u32>(state, s3, 12);
}

/**
 * Thresholds of stochastic rounding from random words (rounding's fillFromWords): element j takes
 * slot j mod P of word floor(j / P) (P = floor(32 / bits) for bits <= 16, else 1); the threshold
 * is (word << slot * bits) | (2^(32 - bits) - 1).
 */
export function thresholdsFromWords(words: usize, bits: i32, out: usize, count: i32): void {
  const low: u32 = 0xffffffff >>> bits;
  const perWord: i32 = bits <= 16 ? 32 / bits : 1;
  let w: usize = 0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const vLow = i32x4.splat(low);
    if (perWord == 4) {
      // Slot s is word << s * bits: a multiply by 2^(s * bits), mod 2^32.
      const scale = i32x4(1, 1 << bits, 1 << (2 * bits), 1 << (3 * bits));
      for (; j + 4 <= count; j += 4) {
        const word = i32x4.splat(load<u32>(words + (w++ << 2)));
        v128.store(out + (<usize>j << 2), v128.or(i32x4.mul(word, scale), vLow));
      }
    } else if (perWord == 2) {
      const scale = i32x4(1, 1 << bits, 1, 1 << bits);
      for (; j + 4 <= count; j += 4) {
        const pair = v128.load64_zero(words + (w << 2));
        const spread = v128.shuffle<i32>(pair, pair, 0, 0, 1, 1);
        v128.store(out + (<usize>j << 2), v128.or(i32x4.mul(spread, scale), vLow));
        w += 2;
      }
    } else if (perWord == 1) {
      for (; j + 4 <= count; j += 4) {
        v128.store(out + (<usize>j << 2), v128.or(v128.load(words + (w << 2)), vLow));
        w += 4;
      }
    }
  }
  while (j < count) {
    const word = load<u32>(words + (w++ << 2));
    for (let s = 0; s < perWord && j < count; s++, j++) {
      store<u32>(out + (<usize>j << 2), (word << <u32>(s * bits)) | low);
    }
  }
}

