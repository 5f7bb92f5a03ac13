import { describe, expect, it } from 'vitest';
import { formatTick, lineChartSvg, niceTicks } from '../../src/report/svg-chart.js';
import { comparisonTable } from '../../src/report/table.js';
import type { TrainResult } from '../../src/train/trainer.js';

describe('SVG line chart', () => {
  it('picks nice ticks covering the range', () => {
    expect(niceTicks(0, 10, 6)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(0.4712, 0.5531, 6)).toEqual([0.46, 0.48, 0.5, 0.52, 0.54, 0.56]);
    expect(formatTick(25000)).toBe('25k');
  });

  it('draws one polyline per series, a legend entry each, and escapes text', () => {
    const svg = lineChartSvg(
      [
        {
          name: 'fp32',
          points: [
            { x: 0, y: 0.56 },
            { x: 1000, y: 0.5 },
            { x: 2000, y: 0.48 },
          ],
        },
        {
          name: 'fp16 <sr>',
          points: [
            { x: 0, y: 0.57 },
            { x: 1000, y: Number.NaN },
            { x: 2000, y: 0.47 },
          ],
        },
      ],
      { title: 'loss & more', xLabel: 'examples', yLabel: 'log loss' },
    );
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    expect(svg).toContain('fp16 &#60;sr&#62;');
    expect(svg).toContain('loss &#38; more');
    expect(svg).not.toContain('NaN');
    expect(svg.trim().endsWith('</svg>')).toBe(true);
  });
});

describe('comparison table', () => {
  it('reports relative log loss and byte ratio against the first row', () => {
    const base = {
      backend: 'js',
      examplesPerSecond: 1000,
      embeddingBytes: 1000,
      validation: { logloss: 0.5, auc: 0.7, accuracy: 0.75, examples: 10 },
    };
    const rows = [
      { ...base, precision: 'fp32' },
      {
        ...base,
        precision: 'fp16-sr',
        embeddingBytes: 500,
        validation: { ...base.validation, logloss: 0.5005 },
      },
    ] as unknown as TrainResult[];
    const table = comparisonTable(rows);
    expect(table).toContain('| fp16-sr | js | 0.50050 | +0.100% |');
    expect(table).toContain('| 0.500x |');
  });
});
