import { describe, expect, it } from 'vitest';
import { accuracy, logLoss, MetricsAccumulator, rocAuc } from '../../src/metrics/index.js';

function bruteForceAuc(labels: number[], scores: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 1) continue;
    for (let j = 0; j < labels.length; j++) {
      if (labels[j] !== 0) continue;
      pairs++;
      if (scores[i]! > scores[j]!) wins++;
      else if (scores[i] === scores[j]) wins += 0.5;
    }
  }
  return wins / pairs;
}

describe('rocAuc', () => {
  it('hand cases', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBe(0.75);
    expect(rocAuc([0, 1], [0.2, 0.9])).toBe(1);
    expect(rocAuc([1, 0], [0.2, 0.9])).toBe(0);
    // All tied: every pair counts one half.
    expect(rocAuc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5])).toBe(0.5);
    // Pairs (pos, neg): (0.5, 0.2) win, (0.5, 0.5) tie, (0.9, 0.2) win, (0.9, 0.5) win -> 3.5 / 4.
    expect(rocAuc([0, 1, 0, 1], [0.2, 0.5, 0.5, 0.9])).toBe(0.875);
    expect(rocAuc([1, 1], [0.2, 0.3])).toBeNaN();
    expect(() => rocAuc([0, 1], [0.2, Number.NaN])).toThrow(RangeError);
    expect(() => rocAuc([0, 1], [0.2])).toThrow(RangeError);
  });

  it('equals the O(n^2) pair count on random data with ties', () => {
    let state = 12345;
    const rand = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    for (let trial = 0; trial < 5; trial++) {
      const n = 500;
      const labels = Array.from({ length: n }, () => (rand() < 0.3 ? 1 : 0));
      const scores = labels.map((y) => Math.round((rand() + 0.3 * y) * 20) / 20);
      expect(rocAuc(labels, scores)).toBeCloseTo(bruteForceAuc(labels, scores), 12);
    }
  });
});

describe('logLoss and accuracy', () => {
  it('log loss, hand cases, clamped at 1e-7', () => {
    expect(logLoss([1, 0], [0.5, 0.5])).toBeCloseTo(Math.log(2), 15);
    expect(logLoss([1, 0, 1], [0.9, 0.2, 0.6])).toBeCloseTo(
      -(Math.log(0.9) + Math.log(0.8) + Math.log(0.6)) / 3,
      15,
    );
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-7), 12);
    expect(logLoss([0], [1])).toBeCloseTo(-Math.log(1e-7), 6);
    expect(logLoss([1], [0], 1e-15)).toBeCloseTo(-Math.log(1e-15), 12);
  });

  it('accuracy, threshold exclusive like np.round', () => {
    expect(accuracy([1, 0, 1, 0], [0.9, 0.2, 0.4, 0.5])).toBe(0.75);
    expect(accuracy([1, 0], [0.3, 0.1], 0.25)).toBe(1);
  });
});

describe('MetricsAccumulator', () => {
  it('collects across batches and agrees with the one-shot metrics', () => {
    const labels = [0, 1, 1, 0, 1, 0, 0, 1, 0];
    const probs = [0.1, 0.7, 0.4, 0.5, 0.9, 0.3, 0.2, 0.6, 0.8];
    const acc = new MetricsAccumulator();
    acc.add(Float32Array.from(labels.slice(0, 4)), Float32Array.from(probs.slice(0, 4)));
    acc.add(labels.slice(4).concat([1]), probs.slice(4).concat([0.99]), 5);
    const m = acc.compute();
    const p32 = Array.from(Float32Array.from(probs));
    expect(m.count).toBe(9);
    expect(m.auc).toBeCloseTo(rocAuc(labels, probs), 12);
    expect(m.logLoss).toBeCloseTo(logLoss(labels, p32), 6);
    expect(m.accuracy).toBeCloseTo(accuracy(labels, probs), 12);
    expect(m.positiveRate).toBeCloseTo(4 / 9, 12);
    acc.reset();
    expect(acc.compute().count).toBe(0);
  });

  it('grows past its initial buffer', () => {
    const acc = new MetricsAccumulator();
    const labels = new Float32Array(3000).map((_, i) => i % 2);
    const scores = new Float32Array(3000).map((_, i) => (i % 2) * 0.5 + 0.25);
    acc.add(labels, scores);
    expect(acc.compute()).toMatchObject({ count: 3000, auc: 1, accuracy: 1 });
  });
});
