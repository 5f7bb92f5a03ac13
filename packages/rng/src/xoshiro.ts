import { jumpState } from './jump.js';
import { checkOut } from './seed.js';
import { checkNonZero, snapshotWords, wordToFloat24 } from './snapshot.js';
import { childSeed, nonZeroSeedWords } from './splitmix.js';
import type { EngineSnapshot, JumpableEngine } from './types.js';

/**
 * One step of xoshiro128 (Blackman & Vigna, "Scrambled linear pseudorandom number generators",
 * 2021; reference `xoshiro128plusplus.c`): t = s1 << 9; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
 * s2 ^= t; s3 = rotl(s3, 11). State `[s0, s1, s2, s3]`.
 */
export function xoshiro128Step(state: Uint32Array): void {
  const t = state[1]! << 9;
  state[2]! ^= state[0]!;
  state[3]! ^= state[1]!;
  state[1]! ^= state[2]!;
  state[0]! ^= state[3]!;
  state[2]! ^= t;
  state[3] = (state[3]! << 11) | (state[3]! >>> 21);
}

/** The reference `JUMP` of xoshiro128++ (x^(2^64) mod its characteristic polynomial). */
export const XOSHIRO128_JUMP = [0x8764000b, 0xf542d2d3, 0x6fa035c3, 0x77f2db5b] as const;

/**
 * xoshiro128++: 128-bit state, period 2^128 - 1, output rotl(s0 + s3, 7) + s0 computed before
 * the step. Passes BigCrush per its authors; the default fast engine of this package.
 * Snapshot words: `[s0, s1, s2, s3]`.
 */
export class Xoshiro128PlusPlus implements JumpableEngine {
  readonly name = 'xoshiro128++';
  readonly kind = 'stream';
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(words: readonly number[]) {
    this.s0 = words[0]! | 0;
    this.s1 = words[1]! | 0;
    this.s2 = words[2]! | 0;
    this.s3 = words[3]! | 0;
  }

  /** Seeds with the first two splitmix64 outputs of `seed`, low word first. */
  static fromSeed(seed: bigint): Xoshiro128PlusPlus {
    return new Xoshiro128PlusPlus(nonZeroSeedWords(seed, 4));
  }

  nextUint32(): number {
    const s0 = this.s0;
    const s1 = this.s1;
    const sum = (s0 + this.s3) | 0;
    const result = (((sum << 7) | (sum >>> 25)) + s0) >>> 0;
    const t = s1 << 9;
    const s2 = this.s2 ^ s0;
    const s3 = this.s3 ^ s1;
    this.s1 = s1 ^ s2;
    this.s0 = s0 ^ s3;
    this.s2 = s2 ^ t;
    this.s3 = (s3 << 11) | (s3 >>> 21);
    return result;
  }

  fillUint32(out: Uint32Array): Uint32Array {
    checkOut(out, 'fillUint32');
    let s0 = this.s0 | 0;
    let s1 = this.s1 | 0;
    let s2 = this.s2 | 0;
    let s3 = this.s3 | 0;
    for (let i = 0; i < out.length; i++) {
      const sum = (s0 + s3) | 0;
      out[i] = (((sum << 7) | (sum >>> 25)) + s0) | 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
    return out;
  }

  nextFloat(): number {
    return wordToFloat24(this.nextUint32());
  }

  private words(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  snapshot(): EngineSnapshot {
    return { name: this.name, words: this.words() };
  }

  restore(snapshot: EngineSnapshot): void {
    const words = snapshotWords(snapshot, this.name, 4);
    checkNonZero(words, this.name);
    [this.s0, this.s1, this.s2, this.s3] = words.map((word) => word | 0) as [
      number,
      number,
      number,
      number,
    ];
  }

  clone(): Xoshiro128PlusPlus {
    return new Xoshiro128PlusPlus(this.words());
  }

  split(): Xoshiro128PlusPlus {
    return Xoshiro128PlusPlus.fromSeed(childSeed(this));
  }

  jump(): void {
    [this.s0, this.s1, this.s2, this.s3] = jumpState(
      this.words(),
      XOSHIRO128_JUMP,
      xoshiro128Step,
    ).map((word) => word | 0) as [number, number, number, number];
  }
}
