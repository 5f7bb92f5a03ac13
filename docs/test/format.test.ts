import { describe, expect, it } from 'vitest';
import { formatFigure, formatRate, ratioScale } from '../.vitepress/theme/format.js';

describe('the benchmark number formats', () => {
  it('gives rates an SI prefix, and none below 1000', () => {
    expect(formatRate(220_769_107.85)).toBe('220.8 M');
    expect(formatRate(1_055_641_909.96)).toBe('1.06 G');
    expect(formatRate(18_427.8)).toBe('18.4 k');
    expect(formatRate(194.665)).toBe('195');
    expect(formatRate(42.31)).toBe('42.3');
  });

  it('keeps units that carry their own scale as they are: no "1.0 k GB/s"', () => {
    expect(formatFigure(1023.79, 'GB/s')).toBe('1024 GB/s');
    expect(formatFigure(1.306, 'GB/s')).toBe('1.31 GB/s');
    expect(formatFigure(24.508, 'x')).toBe('24.5×');
    expect(formatFigure(4278.2, 'x')).toBe('4278×');
    expect(formatFigure(1_032_960_665, 'row-updates/s')).toBe('1.03 G row-updates/s');
    expect(formatFigure(86_132_064.9, 'lookups/s')).toBe('86.1 M lookups/s');
  });

  it('puts ratios on a log scale that holds 1 and every ratio', () => {
    const scale = ratioScale([0.016, 1, 170, null]);
    const one = scale.position(1);
    expect(scale.position(0.016)).toBeGreaterThan(0);
    expect(scale.position(170)).toBeLessThan(100);
    expect(scale.position(10) - one).toBeCloseTo(one - scale.position(0.1), 6);
    expect(scale.bar(170)).toEqual({ from: one, to: scale.position(170), faster: true });
    expect(scale.bar(0.5)).toEqual({ from: scale.position(0.5), to: one, faster: false });
  });
});
