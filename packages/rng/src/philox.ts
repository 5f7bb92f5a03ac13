import { checkOut, checkWords, toWordIndex } from './seed.js';
import { snapshotWords, wordToFloat24 } from './snapshot.js';
import type { CounterEngine, EngineSnapshot } from './types.js';

/** Philox4x32 multipliers and Weyl key increments (Salmon et al., SC'11; Random123's philox.h). */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
/** 16-bit halves of the multipliers, for the exact high half of a 32x32-bit product. */
const M0_LO = M0 & 0xffff;
const M0_HI = M0 >>> 16;
const M1_LO = M1 & 0xffff;
const M1_HI = M1 >>> 16;
const TWO_POW_32 = 4294967296;

/*
 * Why 16-bit halves: a 32x32-bit product needs 64 bits, a double holds 53, so a * b as a double
 * loses the low bits that carry into the high word. With a = aH * 2^16 + aL and b likewise,
 *   t = aL * bH + (aL * bL >>> 16)      <= (2^16 - 1)^2 + 2^16 - 1 < 2^32
 *   u = aH * bL + (t & 0xffff)          < 2^32
 *   hi = aH * bH + (t >>> 16) + (u >>> 16)
 * is exact and stays in 32-bit integer arithmetic (Math.imul, >>> 0 to read a product unsigned).
 * The low word is simply Math.imul(a, b). Checked against BigInt in test/philox.test.ts.
 */

/** The exact high 32 bits of the 64-bit product of two unsigned 32-bit integers, as an unsigned integer. */
export function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const t = (Math.imul(aLo, bHi) >>> 0) + (Math.imul(aLo, bLo) >>> 16);
  const u = (Math.imul(aHi, bLo) >>> 0) + (t & 0xffff);
  return (Math.imul(aHi, bHi) + (t >>> 16) + (u >>> 16)) >>> 0;
}

/**
 * The key schedule of Philox4x32-R: round r uses (k0 + r * W0, k1 + r * W1) mod 2^32, stored as
 * int32 pairs so that the block loop reads it instead of bumping the key every round.
 */
function keySchedule(k0: number, k1: number, rounds: number): Int32Array {
  const schedule = new Int32Array(2 * rounds);
  for (let r = 0; r < rounds; r++) {
    schedule[2 * r] = (k0 + Math.imul(r, W0)) | 0;
    schedule[2 * r + 1] = (k1 + Math.imul(r, W1)) | 0;
  }
  return schedule;
}

/**
 * Runs the Philox4x32 block function (Random123's philox4x32_R) on counter words `c0..c3` and
 * writes the four output words to `out[offset..offset + 3]`. Each round r:
 * (hi0, lo0) = M0 * c0, (hi1, lo1) = M1 * c2, c = [hi1 ^ c1 ^ key_r0, lo1, hi0 ^ c3 ^ key_r1, lo0].
 */
function philoxBlock(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  schedule: Int32Array,
  out: Uint32Array,
  offset: number,
): void {
  const rounds = schedule.length >> 1;
  for (let r = 0; r < rounds; r++) {
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0);
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2);
    c0 = hi1 ^ c1 ^ schedule[2 * r]!;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ schedule[2 * r + 1]!;
    c3 = lo0;
  }
  out[offset] = c0;
  out[offset + 1] = c1;
  out[offset + 2] = c2;
  out[offset + 3] = c3;
}

/**
 * The raw Philox4x32-R block function of Random123 (Salmon, Moraes, Dror & Shaw, "Parallel random
 * numbers: as easy as 1, 2, 3", SC'11): 4 counter words and 2 key words (all unsigned 32-bit,
 * word 0 least significant) to 4 output words, with `rounds` rounds (10 is the standard,
 * 7 the fastest variant that passes BigCrush). Multipliers 0xD2511F53, 0xCD9E8D57; key
 * increments 0x9E3779B9, 0xBB67AE85. Matches Random123's known-answer vectors.
 * @throws RangeError when `counter` is not 4 words, `key` not 2 words, or `rounds` not in 1..16.
 */
export function philox4x32(
  counter: ArrayLike<number>,
  key: ArrayLike<number>,
  rounds = 10,
): Uint32Array {
  const c = checkWords(counter, 4, 'counter');
  const k = checkWords(key, 2, 'key');
  checkRounds(rounds);
  const out = new Uint32Array(4);
  philoxBlock(c[0]!, c[1]!, c[2]!, c[3]!, keySchedule(k[0]!, k[1]!, rounds), out, 0);
  return out;
}

function checkRounds(rounds: unknown): asserts rounds is number {
  if (typeof rounds !== 'number' || !Number.isInteger(rounds) || rounds < 1 || rounds > 16) {
    throw new RangeError(`rounds must be an integer in 1..16, got ${String(rounds)}`);
  }
}

/**
 * Fills `out` with Philox words starting at lane `lane` (0..3) of block `(c0, c1, c2, c3)`:
 * word w of the stream is lane w % 4 of block w >> 2. Whole blocks run in one tight loop with the
 * state in int32 locals and mulhi32 written out inline; the partial blocks at either end go
 * through a 4-word scratch block.
 */
function fillPhilox(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  lane: number,
  schedule: Int32Array,
  out: Uint32Array,
): void {
  const n = out.length;
  const rounds = schedule.length >> 1;
  c0 |= 0;
  c1 |= 0;
  c2 |= 0;
  c3 |= 0;
  let i = 0;
  if (lane !== 0 && n > 0) {
    const scratch = new Uint32Array(4);
    philoxBlock(c0, c1, c2, c3, schedule, scratch, 0);
    while (lane < 4 && i < n) out[i++] = scratch[lane++]!;
    c0 = (c0 + 1) | 0;
    if (c0 === 0) {
      c1 = (c1 + 1) | 0;
      if (c1 === 0) {
        c2 = (c2 + 1) | 0;
        if (c2 === 0) c3 = (c3 + 1) | 0;
      }
    }
  }
  const wholeEnd = n - ((n - i) & 3);
  while (i < wholeEnd) {
    let x0 = c0;
    let x1 = c1;
    let x2 = c2;
    let x3 = c3;
    for (let r = 0; r < rounds; r++) {
      // hi0 = mulhi32(M0, x0), hi1 = mulhi32(M1, x2), inline.
      let lo = x0 & 0xffff;
      let hi = x0 >>> 16;
      let t = (Math.imul(M0_LO, hi) >>> 0) + (Math.imul(M0_LO, lo) >>> 16);
      let u = (Math.imul(M0_HI, lo) >>> 0) + (t & 0xffff);
      const hi0 = (Math.imul(M0_HI, hi) + (t >>> 16) + (u >>> 16)) | 0;
      lo = x2 & 0xffff;
      hi = x2 >>> 16;
      t = (Math.imul(M1_LO, hi) >>> 0) + (Math.imul(M1_LO, lo) >>> 16);
      u = (Math.imul(M1_HI, lo) >>> 0) + (t & 0xffff);
      const hi1 = (Math.imul(M1_HI, hi) + (t >>> 16) + (u >>> 16)) | 0;
      const lo0 = Math.imul(M0, x0);
      const lo1 = Math.imul(M1, x2);
      x0 = hi1 ^ x1 ^ schedule[2 * r]!;
      x1 = lo1;
      x2 = hi0 ^ x3 ^ schedule[2 * r + 1]!;
      x3 = lo0;
    }
    out[i] = x0;
    out[i + 1] = x1;
    out[i + 2] = x2;
    out[i + 3] = x3;
    i += 4;
    c0 = (c0 + 1) | 0;
    if (c0 === 0) {
      c1 = (c1 + 1) | 0;
      if (c1 === 0) {
        c2 = (c2 + 1) | 0;
        if (c2 === 0) c3 = (c3 + 1) | 0;
      }
    }
  }
  if (i < n) {
    const scratch = new Uint32Array(4);
    philoxBlock(c0, c1, c2, c3, schedule, scratch, 0);
    for (let j = 0; i < n; j++) out[i++] = scratch[j]!;
  }
}

/** Bits in Philox's word-addressed counter space: 2^128 blocks of 4 words. */
const PHILOX_WORD_BITS = 130;

/**
 * Philox4x32 as an engine. Key: `[low 32 bits, high 32 bits]` of the 64-bit seed (no mixing, so
 * other implementations, e.g. a GPU kernel, can use the seed directly as the Random123 key).
 * Word w of the stream is lane w % 4 of the block for counter w >> 2 (the 128-bit block counter
 * split into 4 little-endian words); the space has 2^130 words and wraps around.
 * Snapshot words: `[k0, k1, c0, c1, c2, c3, lane]`: key, block counter and lane of the next word.
 */
export class Philox4x32 implements CounterEngine {
  readonly name: 'philox4x32-10' | 'philox4x32-7';
  readonly kind = 'counter';
  readonly rounds: number;
  private k0: number;
  private k1: number;
  private schedule: Int32Array;
  private c0 = 0;
  private c1 = 0;
  private c2 = 0;
  private c3 = 0;
  private lane = 0;
  /** The output of block (c0..c3), valid when `cached` is true. */
  private readonly block = new Uint32Array(4);
  private cached = false;

  /** A Philox4x32 engine with the given key words and rounds (7 or 10), at word 0. */
  constructor(key: readonly [number, number], rounds: 7 | 10 = 10) {
    if (rounds !== 7 && rounds !== 10)
      throw new RangeError(`rounds must be 7 or 10, got ${String(rounds)}`);
    this.k0 = key[0] >>> 0;
    this.k1 = key[1] >>> 0;
    this.rounds = rounds;
    this.schedule = keySchedule(this.k0, this.k1, rounds);
    this.name = rounds === 10 ? 'philox4x32-10' : 'philox4x32-7';
  }

  /** Keys the engine with the 64-bit seed: k0 = seed mod 2^32, k1 = seed >> 32. */
  static fromSeed(seed: bigint, rounds: 7 | 10 = 10): Philox4x32 {
    return new Philox4x32([Number(seed & 0xffffffffn), Number(seed >> 32n)], rounds);
  }

  get key(): readonly [number, number] {
    return [this.k0, this.k1];
  }

  nextUint32(): number {
    if (!this.cached) {
      philoxBlock(this.c0, this.c1, this.c2, this.c3, this.schedule, this.block, 0);
      this.cached = true;
    }
    const word = this.block[this.lane]!;
    this.advance(1);
    return word;
  }

  fillUint32(out: Uint32Array): Uint32Array {
    checkOut(out, 'fillUint32');
    fillPhilox(this.c0, this.c1, this.c2, this.c3, this.lane, this.schedule, out);
    this.advance(out.length);
    return out;
  }

  fillAt(start: number | bigint, out: Uint32Array): Uint32Array {
    checkOut(out, 'fillAt');
    let c0: number;
    let c1: number;
    let c2 = 0;
    let c3 = 0;
    let lane: number;
    if (typeof start === 'number' && Number.isSafeInteger(start) && start >= 0) {
      // Fast path without BigInt: block = floor(start / 4) < 2^51.
      lane = start % 4;
      const block = (start - lane) / 4;
      c0 = block % TWO_POW_32;
      c1 = (block - c0) / TWO_POW_32;
    } else {
      const word = toWordIndex(start, PHILOX_WORD_BITS, 'start');
      lane = Number(word & 3n);
      const block = word >> 2n;
      c0 = Number(block & 0xffffffffn);
      c1 = Number((block >> 32n) & 0xffffffffn);
      c2 = Number((block >> 64n) & 0xffffffffn);
      c3 = Number(block >> 96n);
    }
    fillPhilox(c0, c1, c2, c3, lane, this.schedule, out);
    return out;
  }

  nextFloat(): number {
    return wordToFloat24(this.nextUint32());
  }

  get position(): bigint {
    const block =
      BigInt(this.c0) |
      (BigInt(this.c1) << 32n) |
      (BigInt(this.c2) << 64n) |
      (BigInt(this.c3) << 96n);
    return (block << 2n) | BigInt(this.lane);
  }

  seek(word: number | bigint): void {
    const index = toWordIndex(word, PHILOX_WORD_BITS, 'word');
    this.setPosition(index);
  }

  private setPosition(word: bigint): void {
    const block = word >> 2n;
    this.lane = Number(word & 3n);
    this.c0 = Number(block & 0xffffffffn);
    this.c1 = Number((block >> 32n) & 0xffffffffn);
    this.c2 = Number((block >> 64n) & 0xffffffffn);
    this.c3 = Number(block >> 96n);
    this.cached = false;
  }

  /** Moves the position `count` words on (count < 2^32), carrying into the block counter. */
  private advance(count: number): void {
    const total = this.lane + count;
    this.lane = total & 3;
    const blocks = Math.floor(total / 4);
    if (blocks === 0) return;
    this.cached = false;
    const sum = this.c0 + blocks;
    this.c0 = sum >>> 0;
    if (sum < TWO_POW_32) return;
    this.c1 = (this.c1 + 1) >>> 0;
    if (this.c1 !== 0) return;
    this.c2 = (this.c2 + 1) >>> 0;
    if (this.c2 !== 0) return;
    this.c3 = (this.c3 + 1) >>> 0;
  }

  snapshot(): EngineSnapshot {
    return {
      name: this.name,
      words: [this.k0, this.k1, this.c0, this.c1, this.c2, this.c3, this.lane],
    };
  }

  restore(snapshot: EngineSnapshot): void {
    const words = snapshotWords(snapshot, this.name, 7);
    if (words[6]! > 3)
      throw new RangeError(`snapshot.words[6] (lane) must be 0..3, got ${words[6]}`);
    [this.k0, this.k1, this.c0, this.c1, this.c2, this.c3, this.lane] = words as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    this.schedule = keySchedule(this.k0, this.k1, this.rounds);
    this.cached = false;
  }

  clone(): Philox4x32 {
    const copy = new Philox4x32([this.k0, this.k1], this.rounds as 7 | 10);
    copy.restore(this.snapshot());
    return copy;
  }
}
