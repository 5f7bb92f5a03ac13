const MASK_64 = (1n << 64n) - 1n;

/**
 * splitmix64 (Steele, Lea & Flood 2014; Vigna's reference `splitmix64.c`): the state advances by
 * the golden-ratio increment 0x9e3779b97f4a7c15 and each output is the state passed through the
 * Stafford variant-13 finaliser (shifts 30, 27, 31; multipliers 0xbf58476d1ce4e5b9,
 * 0x94d049bb133111eb). Returns the first `count` outputs for the 64-bit `seed`.
 *
 * Uses BigInt: it runs only when an engine is seeded, never in a bulk loop.
 */
export function splitmix64(seed: bigint, count: number): bigint[] {
  const outputs: bigint[] = [];
  let state = BigInt.asUintN(64, seed);
  for (let i = 0; i < count; i++) {
    state = (state + 0x9e3779b97f4a7c15n) & MASK_64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
    outputs.push(z ^ (z >> 31n));
  }
  return outputs;
}

/**
 * `count` 32-bit words from splitmix64 seeded with `seed`: output k supplies word 2k (its low
 * half) and word 2k + 1 (its high half), i.e. the little-endian layout of `uint64_t s[count / 2]`
 * filled by splitmix64 as Vigna recommends for seeding xorshift/xoshiro. `count` must be even.
 */
export function splitmixWords(seed: bigint, count: number): number[] {
  const words: number[] = [];
  for (const value of splitmix64(seed, count >> 1)) {
    words.push(Number(value & 0xffffffffn), Number(value >> 32n));
  }
  return words;
}

/**
 * Words for a state that must not be all zero (xorshift family): the first `count` words of
 * `splitmixWords(seed, ...)`, or if those are all zero (possible for a few seeds only), the same
 * count of words from the following splitmix64 outputs, and so on. Any seed, including 0, thus
 * yields a valid state.
 */
export function nonZeroSeedWords(seed: bigint, count: number): number[] {
  const wordsPerTry = 2 * Math.ceil(count / 2);
  for (let tries = 1; ; tries++) {
    const words = splitmixWords(seed, wordsPerTry * tries);
    const state = words.slice(wordsPerTry * (tries - 1), wordsPerTry * (tries - 1) + count);
    if (state.some((word) => word !== 0)) return state;
  }
}

/**
 * The seed `split()` gives a child engine: two words drawn from the parent, the first as the
 * low and the second as the high half of a 64-bit seed (then expanded through splitmix64).
 */
export function childSeed(parent: { nextUint32(): number }): bigint {
  const low = parent.nextUint32();
  const high = parent.nextUint32();
  return (BigInt(high) << 32n) | BigInt(low);
}
