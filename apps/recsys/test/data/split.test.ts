import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { countLines, splitTrainValidation, takeRange } from '../../src/data/index.js';

describe('splitTrainValidation', () => {
  it("DLRM's 7-day split of one file", () => {
    // 100 lines: days of 15,15,14,14,14,14,14; train = first 6 days (86); day 7 = 14: test 7, val 7.
    expect(splitTrainValidation(100)).toEqual({
      train: { start: 0, end: 86 },
      test: { start: 86, end: 93 },
      validation: { start: 93, end: 100 },
    });
    // 45,840,617 Kaggle lines: 6,548,659 per day, 4 extras; last day 6,548,659 -> test 3,274,330.
    const k = splitTrainValidation(45_840_617);
    expect(k.train.end).toBe(45_840_617 - 6_548_659);
    expect(k.test.end - k.test.start).toBe(3_274_330);
    expect(k.validation.end - k.validation.start).toBe(3_274_329);
    expect(splitTrainValidation(48, { days: 24 }).train.end).toBe(46);
  });

  it('by fraction', () => {
    expect(splitTrainValidation(10, { scheme: 'fraction', validationFraction: 0.25 })).toEqual({
      train: { start: 0, end: 8 },
      validation: { start: 8, end: 10 },
      test: { start: 10, end: 10 },
    });
    expect(() => splitTrainValidation(10, { scheme: 'fraction', validationFraction: 2 })).toThrow();
  });

  it('takeRange and countLines', async () => {
    const got = [];
    for await (const x of takeRange([0, 1, 2, 3, 4, 5], { start: 2, end: 4 })) got.push(x);
    expect(got).toEqual([2, 3]);
    const gz = fileURLToPath(new URL('../fixtures/criteo-tiny.tsv.gz', import.meta.url));
    expect(await countLines(gz)).toBe(3);
  });
});
