import { philox4x32 } from '@halfstep/rng';
import { thresholdOf } from '@halfstep/rounding';
import { describe, expect, it } from 'vitest';
import {
  fillRowThresholds,
  fillRowWords,
  philoxSchedule,
  randomBitsFor,
  tableDomain,
} from '../src/index.js';

describe('counter-based random bits', () => {
  const seed = 0x0123456789abcdefn;
  const key = [Number(seed & 0xffffffffn), Number(seed >> 32n)];

  it('word j of (seed, step, table, domain, row) is lane j % 4 of Philox4x32-10 at (row, j >> 2, step, t + d 2^24)', () => {
    const schedule = philoxSchedule(seed);
    const out = new Uint32Array(10);
    const row = 123456;
    const step = 77;
    const td = tableDomain(5, 1);
    expect(td).toBe(5 + 2 ** 24);
    fillRowWords(schedule, row, step, td, out, 10);
    for (let j = 0; j < 10; j++) {
      const block = philox4x32([row, j >> 2, step, td], key, 10);
      expect(out[j]).toBe(block[j % 4]);
    }
  });

  it('thresholds: float16 takes 13 bits per element, two elements per word, top bits first', () => {
    const schedule = philoxSchedule(seed);
    const k = randomBitsFor(10);
    expect(k).toBe(13);
    const out = new Uint32Array(7);
    fillRowThresholds(schedule, 3, 0, 42, k, 7, out, 0, new Uint32Array(12));
    const block = philox4x32([42, 0, 3, 0], key, 10);
    for (let e = 0; e < 7; e++) expect(out[e]).toBe(thresholdOf(block[e >> 1]!, e & 1, 13));
  });

  it('thresholds: float8e4m3 takes 20 bits, one element per word', () => {
    const schedule = philoxSchedule(seed);
    const out = new Uint32Array(5);
    fillRowThresholds(schedule, 0, 9, 1, randomBitsFor(3), 5, out, 0, new Uint32Array(8));
    const b0 = philox4x32([1, 0, 0, 9], key, 10);
    const b1 = philox4x32([1, 1, 0, 9], key, 10);
    const words = [...b0, ...b1];
    for (let e = 0; e < 5; e++) expect(out[e]).toBe(thresholdOf(words[e]!, 0, 20));
  });
});
