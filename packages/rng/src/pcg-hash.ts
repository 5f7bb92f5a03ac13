import { checkOut, toWordIndex } from './seed.js';
import { snapshotWords, wordToFloat24 } from './snapshot.js';
import type { CounterEngine, EngineSnapshot } from './types.js';

const TWO_POW_32 = 4294967296;

/**
 * The PCG hash of Jarzynski & Olano ("Hash Functions for GPU Rendering", JCGT 9(3), 2020):
 * one PCG-RXS-M-XS-32 step on the input, state = x * 747796405 + 2891336453;
 * word = ((state >> ((state >> 28) + 4)) ^ state) * 277803737; result = (word >> 22) ^ word.
 * A bijection of the 32-bit integers.
 */
export function pcgHash(x: number): number {
  const state = (Math.imul(x, 747796405) + 2891336453) >>> 0;
  const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/**
 * The offset the pcg-hash engine adds to the low word of a counter: a hash of the key and the
 * counter's high word, salt = pcgHash(pcgHash(pcgHash(high) ^ k1) ^ k0).
 */
export function pcgSalt(k0: number, k1: number, high: number): number {
  return pcgHash(pcgHash(pcgHash(high) ^ k1) ^ k0);
}

/**
 * A cheap counter-based generator: word w = high * 2^32 + low (w < 2^64) is
 * pcgHash((low + pcgSalt(k0, k1, high)) mod 2^32), one hash per word. Key: the 64-bit seed as
 * `[low 32 bits, high 32 bits]`.
 *
 * Limits, stated plainly: for a fixed key and high word the 2^32 words are a permutation of all
 * 32-bit values (no repeats, unlike true randomness over 2^16+ draws), and two keys read the same
 * permutation at different offsets, so their streams overlap after at most 2^32 words. Its
 * dieharder results are in QUALITY.md. Use Philox where streams must be independent.
 * Snapshot words: `[k0, k1, low, high]` of the next word's index.
 */
export class PcgHash implements CounterEngine {
  readonly name = 'pcg-hash';
  readonly kind = 'counter';
  private k0: number;
  private k1: number;
  private low = 0;
  private high = 0;
  private salt: number;

  constructor(key: readonly [number, number]) {
    this.k0 = key[0] >>> 0;
    this.k1 = key[1] >>> 0;
    this.salt = pcgSalt(this.k0, this.k1, 0);
  }

  /** Keys the engine with the 64-bit seed: k0 = seed mod 2^32, k1 = seed >> 32. */
  static fromSeed(seed: bigint): PcgHash {
    return new PcgHash([Number(seed & 0xffffffffn), Number(seed >> 32n)]);
  }

  get key(): readonly [number, number] {
    return [this.k0, this.k1];
  }

  get position(): bigint {
    return (BigInt(this.high) << 32n) | BigInt(this.low);
  }

  nextUint32(): number {
    const word = pcgHash((this.low + this.salt) >>> 0);
    this.low = (this.low + 1) >>> 0;
    if (this.low === 0) {
      this.high = (this.high + 1) >>> 0;
      this.salt = pcgSalt(this.k0, this.k1, this.high);
    }
    return word;
  }

  fillUint32(out: Uint32Array): Uint32Array {
    checkOut(out, 'fillUint32');
    this.fillFrom(this.low, this.high, out);
    const sum = this.low + out.length;
    this.low = sum >>> 0;
    if (sum >= TWO_POW_32) {
      this.high = (this.high + 1) >>> 0;
      this.salt = pcgSalt(this.k0, this.k1, this.high);
    }
    return out;
  }

  fillAt(start: number | bigint, out: Uint32Array): Uint32Array {
    checkOut(out, 'fillAt');
    const word =
      typeof start === 'number' && Number.isSafeInteger(start) && start >= 0
        ? BigInt(start)
        : toWordIndex(start, 64, 'start');
    this.fillFrom(Number(word & 0xffffffffn), Number(word >> 32n), out);
    return out;
  }

  /** Writes words (high, low), (high, low + 1), ... carrying into `high` when `low` wraps. */
  private fillFrom(low: number, high: number, out: Uint32Array): void {
    let salt = pcgSalt(this.k0, this.k1, high);
    let i = 0;
    const n = out.length;
    while (i < n) {
      // Words until `low` wraps: the salt is constant over this run.
      const end = Math.min(n, i + (TWO_POW_32 - low));
      let input = (low + salt) | 0;
      for (; i < end; i++) {
        const state = (Math.imul(input, 747796405) + -1403630843) | 0;
        const word = Math.imul((state >>> ((state >>> 28) + 4)) ^ state, 277803737);
        out[i] = (word >>> 22) ^ word;
        input = (input + 1) | 0;
      }
      low = 0;
      high = (high + 1) >>> 0;
      salt = pcgSalt(this.k0, this.k1, high);
    }
  }

  nextFloat(): number {
    return wordToFloat24(this.nextUint32());
  }

  seek(word: number | bigint): void {
    const index = toWordIndex(word, 64, 'word');
    this.low = Number(index & 0xffffffffn);
    this.high = Number(index >> 32n);
    this.salt = pcgSalt(this.k0, this.k1, this.high);
  }

  snapshot(): EngineSnapshot {
    return { name: this.name, words: [this.k0, this.k1, this.low, this.high] };
  }

  restore(snapshot: EngineSnapshot): void {
    const words = snapshotWords(snapshot, this.name, 4);
    this.k0 = words[0]!;
    this.k1 = words[1]!;
    this.seek((BigInt(words[3]!) << 32n) | BigInt(words[2]!));
  }

  clone(): PcgHash {
    const copy = new PcgHash([this.k0, this.k1]);
    copy.seek(this.position);
    return copy;
  }
}
