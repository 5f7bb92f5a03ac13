import { checkWords } from './seed.js';
import type { EngineName, EngineSnapshot } from './types.js';

/**
 * Checks that `snapshot` is a snapshot of engine `name` with `length` unsigned 32-bit words and
 * returns a copy of its words.
 * @throws TypeError when it is not an object with a `words` array, RangeError on a name or size mismatch.
 */
export function snapshotWords(
  snapshot: EngineSnapshot,
  name: EngineName,
  length: number,
): number[] {
  if (snapshot === null || typeof snapshot !== 'object') {
    throw new TypeError('snapshot must be an object { name, words }');
  }
  if (snapshot.name !== name) {
    throw new RangeError(`snapshot is of engine "${String(snapshot.name)}", expected "${name}"`);
  }
  return checkWords(snapshot.words, length, 'snapshot.words');
}

/** `(word >>> 8) * 2^-24`: the top 24 bits of a word as a float in [0, 1), exact in float32. */
export function wordToFloat24(word: number): number {
  return (word >>> 8) * 5.9604644775390625e-8;
}

/** Throws a RangeError unless some word of a xorshift-family state is non-zero. */
export function checkNonZero(words: readonly number[], name: string): void {
  if (words.every((word) => word === 0)) {
    throw new RangeError(`snapshot.words: the ${name} state must not be all zero`);
  }
}
