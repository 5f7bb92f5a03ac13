/**
 * The counter-based random bits of stochastic rounding, specified exactly so that every backend
 * reproduces them bit for bit (see the README, "Random bits").
 *
 * Word j of the stream of (seed, step s, table t, domain d, row r) is lane j mod 4 of
 * Philox4x32-10 with key (seed mod 2^32, floor(seed / 2^32)) at the 128-bit counter
 * (c0, c1, c2, c3) = (r, floor(j / 4), s mod 2^32, t + d * 2^24).
 */

/** Domain of the weights' rounding bits. */
export const DOMAIN_WEIGHTS = 0;
/** Domain of the optimizer state's rounding bits (16-bit state). */
export const DOMAIN_STATE = 1;
/** Domain of the initial values (`@halfstep/embedding`'s default init). */
export const DOMAIN_INIT = 2;

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const M0_LO = M0 & 0xffff;
const M0_HI = M0 >>> 16;
const M1_LO = M1 & 0xffff;
const M1_HI = M1 >>> 16;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const ROUNDS = 10;

/**
 * The Philox4x32-10 key schedule of a 64-bit seed: round r's key words
 * ((k0 + r * 0x9E3779B9) mod 2^32, (k1 + r * 0xBB67AE85) mod 2^32) as int32 pairs.
 */
export function philoxSchedule(seed: bigint): Int32Array {
  const k0 = Number(seed & 0xffffffffn);
  const k1 = Number((seed >> 32n) & 0xffffffffn);
  const schedule = new Int32Array(2 * ROUNDS);
  for (let r = 0; r < ROUNDS; r++) {
    schedule[2 * r] = (k0 + Math.imul(r, W0)) | 0;
    schedule[2 * r + 1] = (k1 + Math.imul(r, W1)) | 0;
  }
  return schedule;
}

/**
 * Writes Philox4x32-10 output blocks for counters (c0, b, c2, c3), b = 0, 1, ..., into
 * `out[0 .. words)` (word j = lane j mod 4 of block floor(j / 4)). No allocation.
 */
export function fillRowWords(
  schedule: Int32Array,
  c0: number,
  c2: number,
  c3: number,
  out: Uint32Array,
  words: number,
): void {
  for (let j = 0, b = 0; j < words; j += 4, b++) {
    let x0 = c0 | 0;
    let x1 = b;
    let x2 = c2 | 0;
    let x3 = c3 | 0;
    for (let r = 0; r < ROUNDS; r++) {
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
    out[j] = x0;
    if (j + 1 < words) out[j + 1] = x1;
    if (j + 2 < words) out[j + 2] = x2;
    if (j + 3 < words) out[j + 3] = x3;
  }
}

/**
 * Random bits per element when rounding float32 into a format with `mantissaBits` stored
 * mantissa bits: k = 23 - mantissaBits (13 float16, 16 bfloat16, 20 float8e4m3, 21 float8e5m2),
 * the bits that rounding a normal value drops, so the round-up probability is exact.
 */
export function randomBitsFor(mantissaBits: number): number {
  return 23 - mantissaBits;
}

/**
 * Writes the stochastic-rounding thresholds of elements 0 .. count-1 of one row's vector into
 * `out[offset ..]`. With k bits per element and P = floor(32 / k) elements per word when
 * k <= 16 (else 1), element e uses slot e mod P of word floor(e / P); slot s is bits
 * [32 - k(s+1), 32 - ks) of the word, and the threshold is r * 2^(32-k) + 2^(32-k) - 1 (as
 * `@halfstep/rounding`'s `thresholdOf`): the element rounds away from zero iff its 32-bit gap
 * fraction exceeds it. `words` is scratch of at least ceil(count / P) rounded up to 4 words.
 */
export function fillRowThresholds(
  schedule: Int32Array,
  step: number,
  tableDomain: number,
  row: number,
  bits: number,
  count: number,
  out: Uint32Array,
  offset: number,
  words: Uint32Array,
): void {
  const perWord = bits <= 16 ? Math.floor(32 / bits) : 1;
  const wordCount = Math.ceil(count / perWord);
  fillRowWords(schedule, row, step, tableDomain, words, wordCount);
  const low = 0xffffffff >>> bits;
  if (perWord === 2) {
    const pairs = count >> 1;
    for (let j = 0; j < pairs; j++) {
      const w = words[j]!;
      out[offset + 2 * j] = w | low;
      out[offset + 2 * j + 1] = (w << bits) | low;
    }
    if (count & 1) out[offset + count - 1] = words[pairs]! | low;
    return;
  }
  for (let e = 0; e < count; e++) {
    const slot = e % perWord;
    out[offset + e] = (words[(e - slot) / perWord]! << (slot * bits)) | low;
  }
}

/** The counter word c3 of table t in domain d: t + d * 2^24, as an unsigned 32-bit value. */
export function tableDomain(table: number, domain: number): number {
  return (table + domain * 0x1000000) >>> 0;
}
