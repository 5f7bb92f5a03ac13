import { describe, expect, it } from 'vitest';
import type { EngineName, JumpableEngine } from '../src/index.js';
import { restoreEngine, splitmix64 } from '../src/index.js';
import { jumpState } from '../src/jump.js';
import {
  XORSHIFT128_JUMP,
  XORSHIFT128PLUS_JUMP,
  xorshift128PlusStep,
  xorshift128Step,
} from '../src/xorshift.js';
import { XOSHIRO128_JUMP, xoshiro128Step } from '../src/xoshiro.js';
import { minimalPolynomial, stateBits, toWords, xPowMod, xPowTwoPowMod } from './gf2.js';
import { readFixture } from './helpers.js';

interface StreamCase {
  state: number[];
  head: number[];
  at1000: number[];
}
interface JumpCase {
  state: number[];
  after: number[];
}
const vectors = JSON.parse(readFixture('reference-vectors.json')) as Record<string, unknown[]>;

describe.each(['xorshift32', 'xorshift128', 'xorshift128+', 'xoshiro128++'] as EngineName[])(
  '%s matches the reference C',
  (name) => {
    const cases = vectors[name] as StreamCase[];
    it('has cases', () => expect(cases.length).toBeGreaterThanOrEqual(4));
    it.each(cases)('from state $state', ({ state, head, at1000 }) => {
      const engine = restoreEngine({ name, words: state });
      const first = Array.from({ length: head.length }, () => engine.nextUint32());
      expect(first).toEqual(head);
      engine.fillUint32(new Uint32Array(1000 - head.length));
      expect(Array.from(engine.fillUint32(new Uint32Array(4)))).toEqual(at1000);
    });
  },
);

describe.each([
  ['xoshiro128++', 'xoshiro128++ jump'],
  ['xorshift128+', 'xorshift128+ jump'],
] as const)('%s jump() matches the reference C', (name, key) => {
  it.each(vectors[key] as JumpCase[])('from state $state', ({ state, after }) => {
    const engine = restoreEngine({ name, words: state }) as JumpableEngine;
    engine.jump();
    expect(engine.snapshot().words).toEqual(after);
  });
});

describe('splitmix64 matches the reference C', () => {
  it.each(vectors.splitmix64 as { seed: string; outputs: string[] }[])(
    'seed $seed',
    ({ seed, outputs }) => {
      expect(splitmix64(BigInt(seed), 4).map(String)).toEqual(outputs);
    },
  );
});

describe('jump polynomials', () => {
  const engines = [
    ['xorshift128', xorshift128Step, XORSHIFT128_JUMP],
    ['xorshift128+', xorshift128PlusStep, XORSHIFT128PLUS_JUMP],
    ['xoshiro128++', xoshiro128Step, XOSHIRO128_JUMP],
  ] as const;

  it.each(engines)(
    '%s: the constant is x^(2^64) mod the characteristic polynomial',
    (_name, step, constant) => {
      const p = minimalPolynomial(stateBits([5, 6, 7, 8], step, 512));
      expect(p.toString(2).length - 1).toBe(128);
      expect(toWords(xPowTwoPowMod(64, p), 4)).toEqual([...constant]);
    },
  );

  it.each(engines)(
    '%s: applying x^k mod p equals stepping k times (k = 1, 1000, 12345)',
    (_name, step) => {
      const p = minimalPolynomial(stateBits([9, 10, 11, 12], step, 512));
      const start = [0xdeadbeef, 0x01234567, 0x89abcdef, 0x0badf00d];
      for (const k of [1, 1000, 12345]) {
        const stepped = Uint32Array.from(start);
        for (let i = 0; i < k; i++) step(stepped);
        expect(jumpState(start, toWords(xPowMod(BigInt(k), p), 4), step)).toEqual(
          Array.from(stepped),
        );
      }
    },
  );
});
