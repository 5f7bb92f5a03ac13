import { checkInstance } from '@halfstep/codecs';

const TWO_POW_64 = 1n << 64n;

/**
 * Checks a user seed and returns it as an unsigned 64-bit integer. Accepts integer numbers and
 * bigints in [-2^63, 2^64); negative values are taken modulo 2^64 (two's complement).
 * @throws TypeError when the seed is neither a number nor a bigint.
 * @throws RangeError when it is not a finite integer or lies outside that range.
 */
export function toSeed64(seed: unknown, argument = 'seed'): bigint {
  let value: bigint;
  if (typeof seed === 'number') {
    if (!Number.isInteger(seed)) {
      throw new RangeError(`${argument} must be a finite integer, got ${seed}`);
    }
    value = BigInt(seed);
  } else if (typeof seed === 'bigint') {
    value = seed;
  } else {
    throw new TypeError(`${argument} must be a number or a bigint, got ${typeof seed}`);
  }
  if (value < -(TWO_POW_64 >> 1n) || value >= TWO_POW_64) {
    throw new RangeError(`${argument} must lie in [-2^63, 2^64), got ${value}`);
  }
  return BigInt.asUintN(64, value);
}

/** Throws a RangeError naming `argument` unless `value` is an integer in [0, 2^32). */
export function checkUint32(value: unknown, argument: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${argument} must be an integer in [0, 2^32), got ${String(value)}`);
  }
  return value;
}

/** Throws unless `words` is array-like with exactly `length` unsigned 32-bit words; returns a copy. */
export function checkWords(words: unknown, length: number, argument: string): number[] {
  if (
    words === null ||
    typeof words !== 'object' ||
    typeof (words as ArrayLike<number>).length !== 'number'
  ) {
    throw new TypeError(`${argument} must be an array of ${length} unsigned 32-bit words`);
  }
  const list = words as ArrayLike<unknown>;
  if (list.length !== length) {
    throw new RangeError(`${argument} must have exactly ${length} words, got ${list.length}`);
  }
  const copy: number[] = [];
  for (let i = 0; i < length; i++) copy.push(checkUint32(list[i], `${argument}[${i}]`));
  return copy;
}

/**
 * Checks a word index into a counter space of 2^`bits` words and returns it as a bigint.
 * @throws TypeError for a non-number/non-bigint, RangeError for a negative, fractional or too large one.
 */
export function toWordIndex(start: unknown, bits: number, argument: string): bigint {
  let value: bigint;
  if (typeof start === 'number') {
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new RangeError(`${argument} must be a non-negative safe integer, got ${start}`);
    }
    value = BigInt(start);
  } else if (typeof start === 'bigint') {
    value = start;
  } else {
    throw new TypeError(`${argument} must be a number or a bigint, got ${typeof start}`);
  }
  if (value < 0n || value >= 1n << BigInt(bits)) {
    throw new RangeError(`${argument} must lie in [0, 2^${bits}), got ${value}`);
  }
  return value;
}

/**
 * Returns `out` when it is a Uint32Array: the engines write raw words, and a Float32Array or a
 * plain array would silently receive something else.
 * @throws TypeError `${method}: out: expected a Uint32Array, got ...`.
 */
export function checkOut(out: unknown, method: string): Uint32Array {
  return checkInstance(out, Uint32Array, `${method}: out`);
}
