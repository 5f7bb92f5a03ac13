/**
 * Prints x^(2^64) mod the characteristic polynomial of each jumpable engine's step, as the
 * little-endian words the engines hard-code. Run: node --import tsx packages/rng/check/jump-polynomials.ts
 * The characteristic polynomial comes from Berlekamp-Massey on 512 state bits.
 */
import { xorshift128PlusStep, xorshift128Step } from '../src/xorshift.js';
import { xoshiro128Step } from '../src/xoshiro.js';
import { minimalPolynomial, stateBits, toWords, xPowTwoPowMod } from '../test/gf2.js';

const hex = (words: number[]) =>
  words.map((w) => `0x${w.toString(16).padStart(8, '0')}`).join(', ');
const steps: [string, (s: Uint32Array) => void][] = [
  ['xorshift128', xorshift128Step],
  ['xorshift128+', xorshift128PlusStep],
  ['xoshiro128++', xoshiro128Step],
];
for (const [name, step] of steps) {
  const p = minimalPolynomial(stateBits([1, 2, 3, 4], step, 512));
  console.log(
    `${name}: degree ${p.toString(2).length - 1}, jump 2^64: [${hex(toWords(xPowTwoPowMod(64, p), 4))}]`,
  );
}
