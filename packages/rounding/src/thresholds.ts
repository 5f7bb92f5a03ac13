import type { FloatFormat } from '@halfstep/codecs';

/** Float32 has 23 stored mantissa bits; a target with M of them drops 23 - M on normal values. */
const FLOAT32_MANTISSA_BITS = 23;

/**
 * The largest `bits` a stochastic strategy accepts for `format`: the mantissa bits that rounding a
 * normal float32 into a normal value of `format` drops, 23 - mantissaBits (13 for float16, 16 for
 * bfloat16, 20 for float8e4m3, 21 for float8e5m2). It is also the default: with it, the round-up
 * probability is exact for every result in the normal range.
 */
export function maxRandomBits(format: FloatFormat): number {
  return FLOAT32_MANTISSA_BITS - format.mantissaBits;
}

/**
 * How many elements one 32-bit random word serves with `bits` bits each: floor(32 / bits) when
 * bits <= 16 (4 for 8 bits, 2 for 13 or 16), else 1.
 */
export function elementsPerWord(bits: number): number {
  return bits <= 16 ? Math.floor(32 / bits) : 1;
}

/**
 * The threshold that slot `slot` of random word `word` gives with `bits` bits per element:
 * r = bits [32 - bits*(slot+1), 32 - bits*slot) of `word` (slot 0 takes the top bits), and the
 * threshold is r * 2^(32-bits) + 2^(32-bits) - 1, as an unsigned 32-bit integer. An element whose
 * 32-bit gap fraction f exceeds it rounds away from zero, which happens iff r < floor(f / 2^(32-bits)).
 */
export function thresholdOf(word: number, slot: number, bits: number): number {
  return ((word << (slot * bits)) | (0xffffffff >>> bits)) >>> 0;
}

/**
 * Fills `out[outStart + j]` for j in [0, count) with the thresholds of consecutive slots, starting
 * at slot 0 of `words[0]`: element j takes slot j mod perWord of word floor(j / perWord), where
 * perWord = `elementsPerWord(bits)`; `words` must hold ceil(count / perWord) words. Equal to
 * `thresholdOf` element by element, with the common packings (1, 2, 4 per word) unrolled.
 */
export function fillFromWords(
  words: Uint32Array,
  bits: number,
  out: Uint32Array,
  outStart: number,
  count: number,
): void {
  const low = 0xffffffff >>> bits;
  const perWord = elementsPerWord(bits);
  const whole = Math.floor(count / perWord);
  let o = outStart;
  if (perWord === 4) {
    // bits = 7 or 8.
    const s2 = 2 * bits;
    const s3 = 3 * bits;
    for (let w = 0; w < whole; w++, o += 4) {
      const word = words[w]!;
      out[o] = word | low;
      out[o + 1] = (word << bits) | low;
      out[o + 2] = (word << s2) | low;
      out[o + 3] = (word << s3) | low;
    }
  } else if (perWord === 2) {
    for (let w = 0; w < whole; w++, o += 2) {
      const word = words[w]!;
      out[o] = word | low;
      out[o + 1] = (word << bits) | low;
    }
  } else if (perWord === 1) {
    for (let w = 0; w < whole; w++) out[o++] = words[w]! | low;
  } else {
    for (let w = 0; w < whole; w++) {
      const word = words[w]!;
      for (let s = 0, shift = 0; s < perWord; s++, shift += bits) out[o++] = (word << shift) | low;
    }
  }
  const rest = count - whole * perWord;
  if (rest > 0) {
    const word = words[whole]!;
    for (let s = 0, shift = 0; s < rest; s++, shift += bits) out[o++] = (word << shift) | low;
  }
}

/**
 * The exact bias of stochastic rounding with `bits` random bits, for an element whose 32-bit gap
 * fraction is `fraction` (an integer in [0, 2^32)): fraction / 2^32 - P(round up), in units of
 * the gap. It equals (fraction mod 2^(32-bits)) / 2^32, so it is never negative (the magnitude is
 * biased toward zero), is below 2^-bits, and is 0 when the fraction's low 32 - bits bits are zero
 * (every normal result when bits = `maxRandomBits(format)`).
 */
export function stochasticBias(fraction: number, bits: number): number {
  return (fraction % 2 ** (32 - bits)) / 2 ** 32;
}
