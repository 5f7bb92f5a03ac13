import { xorshift128plusFromState } from 'pure-rand/generator/xorshift128plus';
import { describe, expect, it } from 'vitest';
import type { JumpableEngine } from '../src/index.js';
import { createEngine, restoreEngine } from '../src/index.js';
import { testInputs } from './helpers.js';

/** pure-rand's state [s01, s00, s11, s10] (high/low halves of s0, s1) as this engine's words. */
function toWords(pureState: readonly number[]): number[] {
  return [pureState[1]! >>> 0, pureState[0]! >>> 0, pureState[3]! >>> 0, pureState[2]! >>> 0];
}

describe('xorshift128+ against pure-rand xorshift128plus', () => {
  it('reproduces 4,096 outputs bit for bit from each of 200 states', () => {
    const next = testInputs(2024);
    const ours = new Uint32Array(4096);
    for (let c = 0; c < 200; c++) {
      const state = [next() | 0, next() | 0, next() | 0, next() | 0];
      const theirs = xorshift128plusFromState(state);
      const engine = restoreEngine({ name: 'xorshift128+', words: toWords(state) });
      engine.fillUint32(ours);
      for (let i = 0; i < ours.length; i++) {
        const expected = theirs.next() >>> 0;
        if (ours[i] !== expected)
          expect({ state, i, got: ours[i] }).toEqual({ state, i, got: expected });
      }
      expect(engine.snapshot().words).toEqual(toWords(theirs.getState()));
    }
  });

  it('nextUint32 agrees with pure-rand too, and jump() matches pure-rand jump()', () => {
    const next = testInputs(7);
    for (let c = 0; c < 20; c++) {
      const state = [next() | 0, next() | 0, next() | 0, next() | 0];
      const theirs = xorshift128plusFromState(state);
      const engine = restoreEngine({
        name: 'xorshift128+',
        words: toWords(state),
      }) as JumpableEngine;
      for (let i = 0; i < 100; i++) expect(engine.nextUint32()).toBe(theirs.next() >>> 0);
      theirs.jump();
      engine.jump();
      expect(engine.snapshot().words).toEqual(toWords(theirs.getState()));
      for (let i = 0; i < 100; i++) expect(engine.nextUint32()).toBe(theirs.next() >>> 0);
    }
  });

  it('seeded engines also match pure-rand once their state is handed over', () => {
    for (const seed of [0, 1, 42, -1, 2 ** 53 - 1]) {
      const engine = createEngine('xorshift128+', seed);
      const [a, b, c, d] = engine.snapshot().words;
      const theirs = xorshift128plusFromState([b! | 0, a! | 0, d! | 0, c! | 0]);
      for (let i = 0; i < 1000; i++) expect(engine.nextUint32()).toBe(theirs.next() >>> 0);
    }
  });
});
