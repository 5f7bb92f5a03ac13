import { jumpState } from './jump.js';
import { checkOut } from './seed.js';
import { checkNonZero, snapshotWords, wordToFloat24 } from './snapshot.js';
import { childSeed, nonZeroSeedWords } from './splitmix.js';
import type { EngineSnapshot, JumpableEngine, StreamEngine } from './types.js';

/**
 * One step of Marsaglia's xorshift32 (shifts 13, 17, 5; "Xorshift RNGs", J. Stat. Softw. 8(14),
 * 2003): y ^= y << 13; y ^= y >> 17; y ^= y << 5. State `[y]`; the output is the new y.
 */
export function xorshift32Step(state: Uint32Array): void {
  let y = state[0]!;
  y ^= y << 13;
  y ^= y >>> 17;
  y ^= y << 5;
  state[0] = y;
}

/**
 * Marsaglia's xorshift32: 32-bit state, period 2^32 - 1, output = state. Fast but weak
 * (fails several dieharder tests, see QUALITY.md); no jump function, `split` reseeds.
 * Snapshot words: `[y]`.
 */
export class Xorshift32 implements StreamEngine {
  readonly name = 'xorshift32';
  readonly kind = 'stream';
  private y: number;

  constructor(words: readonly number[]) {
    this.y = words[0]! | 0;
  }

  /** Seeds from the low word of the first non-zero splitmix64 output of `seed`. */
  static fromSeed(seed: bigint): Xorshift32 {
    return new Xorshift32(nonZeroSeedWords(seed, 1));
  }

  nextUint32(): number {
    let y = this.y | 0;
    y ^= y << 13;
    y ^= y >>> 17;
    y ^= y << 5;
    this.y = y;
    return y >>> 0;
  }

  fillUint32(out: Uint32Array): Uint32Array {
    checkOut(out, 'fillUint32');
    let y = this.y | 0;
    for (let i = 0; i < out.length; i++) {
      y ^= y << 13;
      y ^= y >>> 17;
      y ^= y << 5;
      out[i] = y;
    }
    this.y = y;
    return out;
  }

  nextFloat(): number {
    return wordToFloat24(this.nextUint32());
  }

  snapshot(): EngineSnapshot {
    return { name: this.name, words: [this.y >>> 0] };
  }

  restore(snapshot: EngineSnapshot): void {
    const words = snapshotWords(snapshot, this.name, 1);
    checkNonZero(words, this.name);
    this.y = words[0]! | 0;
  }

  clone(): Xorshift32 {
    return new Xorshift32([this.y]);
  }

  split(): Xorshift32 {
    return Xorshift32.fromSeed(childSeed(this));
  }
}

/**
 * One step of Marsaglia's xorshift128 (the `xor128` of "Xorshift RNGs", 2003): t = x ^ (x << 11);
 * x = y; y = z; z = w; w = w ^ (w >> 19) ^ t ^ (t >> 8). State `[x, y, z, w]`; output = new w.
 */
export function xorshift128Step(state: Uint32Array): void {
  const x = state[0]!;
  const t = x ^ (x << 11);
  const w = state[3]!;
  state[0] = state[1]!;
  state[1] = state[2]!;
  state[2] = w;
  state[3] = w ^ (w >>> 19) ^ t ^ (t >>> 8);
}

/**
 * x^(2^64) mod the characteristic polynomial of xorshift128's step, as 4 little-endian words.
 * Computed by `check/jump-polynomials.ts` (Berlekamp-Massey + squaring over GF(2)); verified in
 * test/jump.test.ts.
 */
export const XORSHIFT128_JUMP = [0x35aac71c, 0x821e5343, 0xf52e65c4, 0xd8cd644e] as const;

/**
 * Marsaglia's xorshift128: 128-bit state, period 2^128 - 1, output = the new w word.
 * Snapshot words: `[x, y, z, w]`.
 */
export class Xorshift128 implements JumpableEngine {
  readonly name = 'xorshift128';
  readonly kind = 'stream';
  private x: number;
  private y: number;
  private z: number;
  private w: number;

  constructor(words: readonly number[]) {
    this.x = words[0]! | 0;
    this.y = words[1]! | 0;
    this.z = words[2]! | 0;
    this.w = words[3]! | 0;
  }

  /** Seeds from the first two splitmix64 outputs of `seed` (low word first). */
  static fromSeed(seed: bigint): Xorshift128 {
    return new Xorshift128(nonZeroSeedWords(seed, 4));
  }

  nextUint32(): number {
    const t = this.x ^ (this.x << 11);
    const w = this.w;
    this.x = this.y;
    this.y = this.z;
    this.z = w;
    this.w = w ^ (w >>> 19) ^ t ^ (t >>> 8);
    return this.w >>> 0;
  }

  fillUint32(out: Uint32Array): Uint32Array {
    checkOut(out, 'fillUint32');
    let x = this.x | 0;
    let y = this.y | 0;
    let z = this.z | 0;
    let w = this.w | 0;
    for (let i = 0; i < out.length; i++) {
      const t = x ^ (x << 11);
      x = y;
      y = z;
      z = w;
      w = w ^ (w >>> 19) ^ t ^ (t >>> 8);
      out[i] = w;
    }
    this.x = x;
    this.y = y;
    this.z = z;
    this.w = w;
    return out;
  }

  nextFloat(): number {
    return wordToFloat24(this.nextUint32());
  }

  private words(): number[] {
    return [this.x >>> 0, this.y >>> 0, this.z >>> 0, this.w >>> 0];
  }

  snapshot(): EngineSnapshot {
    return { name: this.name, words: this.words() };
  }

  restore(snapshot: EngineSnapshot): void {
    const words = snapshotWords(snapshot, this.name, 4);
    checkNonZero(words, this.name);
    [this.x, this.y, this.z, this.w] = words.map((word) => word | 0) as [
      number,
      number,
      number,
      number,
    ];
  }

  clone(): Xorshift128 {
    return new Xorshift128(this.words());
  }

  split(): Xorshift128 {
    return Xorshift128.fromSeed(childSeed(this));
  }

  jump(): void {
    [this.x, this.y, this.z, this.w] = jumpState(
      this.words(),
      XORSHIFT128_JUMP,
      xorshift128Step,
    ).map((word) => word | 0) as [number, number, number, number];
  }
}

/**
 * One step of xorshift128+ with shifts (23, 18, 5) (Vigna, "Further scramblings of Marsaglia's
 * xorshift generators", 2017; the variant pure-rand implements) on 64-bit words s0, s1:
 * t = s0 ^ (s0 << 23); s0 = s1; s1 = t ^ s1 ^ (t >> 18) ^ (s1 >> 5). State words
 * `[s0 low, s0 high, s1 low, s1 high]`.
 */
export function xorshift128PlusStep(state: Uint32Array): void {
  const s0l = state[0]!;
  const s0h = state[1]!;
  const s1l = state[2]!;
  const s1h = state[3]!;
  const tl = s0l ^ (s0l << 23);
  const th = s0h ^ ((s0h << 23) | (s0l >>> 9));
  state[0] = s1l;
  state[1] = s1h;
  state[2] = tl ^ s1l ^ ((tl >>> 18) | (th << 14)) ^ ((s1l >>> 5) | (s1h << 27));
  state[3] = th ^ s1h ^ (th >>> 18) ^ (s1h >>> 5);
}

/**
 * Vigna's jump polynomial for xorshift128+ (0x8a5cd789635d2dff, 0x121fd2155c472f96) as 4
 * little-endian words: advances by 2^64 steps.
 */
export const XORSHIFT128PLUS_JUMP = [0x635d2dff, 0x8a5cd789, 0x5c472f96, 0x121fd215] as const;

/**
 * xorshift128+ (23, 18, 5): 128-bit state, period 2^128 - 1. Each step yields ONE 32-bit word,
 * the low 32 bits of s0 + s1 (computed before the step), exactly as pure-rand's
 * `xorshift128plus` does, so both produce the same stream from the same state. Pure-rand's
 * `getState()` `[a, b, c, d]` is this engine's `[b, a, d, c]` (each `>>> 0`).
 * Snapshot words: `[s0 low, s0 high, s1 low, s1 high]`.
 */
export class Xorshift128Plus implements JumpableEngine {
  readonly name = 'xorshift128+';
  readonly kind = 'stream';
  private s0l: number;
  private s0h: number;
  private s1l: number;
  private s1h: number;

  constructor(words: readonly number[]) {
    this.s0l = words[0]! | 0;
    this.s0h = words[1]! | 0;
    this.s1l = words[2]! | 0;
    this.s1h = words[3]! | 0;
  }

  /** Seeds s0, s1 with the first two splitmix64 outputs of `seed` (Vigna's recommendation). */
  static fromSeed(seed: bigint): Xorshift128Plus {
    return new Xorshift128Plus(nonZeroSeedWords(seed, 4));
  }

  nextUint32(): number {
    const s0l = this.s0l;
    const s0h = this.s0h;
    const s1l = this.s1l;
    const s1h = this.s1h;
    const tl = s0l ^ (s0l << 23);
    const th = s0h ^ ((s0h << 23) | (s0l >>> 9));
    this.s0l = s1l;
    this.s0h = s1h;
    this.s1l = tl ^ s1l ^ ((tl >>> 18) | (th << 14)) ^ ((s1l >>> 5) | (s1h << 27));
    this.s1h = th ^ s1h ^ (th >>> 18) ^ (s1h >>> 5);
    return (s0l + s1l) >>> 0;
  }

  fillUint32(out: Uint32Array): Uint32Array {
    checkOut(out, 'fillUint32');
    let s0l = this.s0l | 0;
    let s0h = this.s0h | 0;
    let s1l = this.s1l | 0;
    let s1h = this.s1h | 0;
    for (let i = 0; i < out.length; i++) {
      out[i] = (s0l + s1l) | 0;
      const tl = s0l ^ (s0l << 23);
      const th = s0h ^ ((s0h << 23) | (s0l >>> 9));
      s0l = s1l;
      s0h = s1h;
      s1l = tl ^ s1l ^ ((tl >>> 18) | (th << 14)) ^ ((s1l >>> 5) | (s1h << 27));
      s1h = th ^ s1h ^ (th >>> 18) ^ (s1h >>> 5);
    }
    this.s0l = s0l;
    this.s0h = s0h;
    this.s1l = s1l;
    this.s1h = s1h;
    return out;
  }

  nextFloat(): number {
    return wordToFloat24(this.nextUint32());
  }

  private words(): number[] {
    return [this.s0l >>> 0, this.s0h >>> 0, this.s1l >>> 0, this.s1h >>> 0];
  }

  snapshot(): EngineSnapshot {
    return { name: this.name, words: this.words() };
  }

  restore(snapshot: EngineSnapshot): void {
    const words = snapshotWords(snapshot, this.name, 4);
    checkNonZero(words, this.name);
    [this.s0l, this.s0h, this.s1l, this.s1h] = words.map((word) => word | 0) as [
      number,
      number,
      number,
      number,
    ];
  }

  clone(): Xorshift128Plus {
    return new Xorshift128Plus(this.words());
  }

  split(): Xorshift128Plus {
    return Xorshift128Plus.fromSeed(childSeed(this));
  }

  jump(): void {
    [this.s0l, this.s0h, this.s1l, this.s1h] = jumpState(
      this.words(),
      XORSHIFT128PLUS_JUMP,
      xorshift128PlusStep,
    ).map((word) => word | 0) as [number, number, number, number];
  }
}
