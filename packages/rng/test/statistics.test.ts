import { describe, expect, it } from 'vitest';
import { createEngine, ENGINE_NAMES } from '../src/index.js';

/*
 * Smoke tests of uniformity (the real quality check is check/quality.ts with dieharder).
 * Each test draws 2^20 words from seed 20240601 (fixed, so the outcome is deterministic) and
 * computes a chi-square statistic over 256 byte values x 4 byte positions (1023 degrees of
 * freedom per position summed to 4 * 255 = 1020). For a uniform source the statistic has mean
 * 1020 and standard deviation sqrt(2 * 1020) ~ 45.2; the bounds [1020 - 6 * 45.2, 1020 + 6 * 45.2]
 * give a false-alarm rate below 1e-8 per engine (normal approximation, 6 sigma two-sided).
 */
const SAMPLE_WORDS = 1 << 20;
const DOF = 4 * 255;
const SIGMA = Math.sqrt(2 * DOF);

function byteChiSquare(words: Uint32Array): number {
  const counts = new Float64Array(4 * 256);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    counts[w & 255]!++;
    counts[256 + ((w >>> 8) & 255)]!++;
    counts[512 + ((w >>> 16) & 255)]!++;
    counts[768 + (w >>> 24)]!++;
  }
  const expected = words.length / 256;
  let chi = 0;
  for (const c of counts) chi += ((c - expected) * (c - expected)) / expected;
  return chi;
}

describe('byte uniformity (chi-square, 2^20 words, false-alarm rate < 1e-8)', () => {
  it.each(ENGINE_NAMES)('%s', (name) => {
    const words = createEngine(name, 20240601).fillUint32(new Uint32Array(SAMPLE_WORDS));
    const chi = byteChiSquare(words);
    expect(chi).toBeGreaterThan(DOF - 6 * SIGMA);
    expect(chi).toBeLessThan(DOF + 6 * SIGMA);
  });

  it('the check can fail: a biased source is rejected', () => {
    const words = createEngine('xoshiro128++', 1).fillUint32(new Uint32Array(SAMPLE_WORDS));
    for (let i = 0; i < words.length; i += 64) words[i]! &= 0xfffffff0;
    expect(byteChiSquare(words)).toBeGreaterThan(DOF + 6 * SIGMA);
  });
});
