import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createRawRow,
  KAGGLE_CARDINALITIES,
  NUM_SPARSE,
  readCriteoBatches,
  SyntheticCriteo,
  syntheticBatches,
  syntheticCriteo,
  syntheticCriteoLines,
  tableSizes,
  writeSyntheticCriteo,
  ZipfSampler,
} from '../../src/data/index.js';
import { ExampleRng } from '../../src/data/synthetic/hash.js';
import { rocAuc } from '../../src/metrics/index.js';

const dir = mkdtempSync(join(tmpdir(), 'recsys-synthetic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const digest = (lines: Iterable<string>) => {
  const h = createHash('sha256');
  for (const l of lines) h.update(`${l}\n`);
  return h.digest('hex');
};

describe('synthetic Criteo data', () => {
  it('tableSizes caps the Kaggle cardinalities', () => {
    expect(tableSizes(1000)).toEqual(KAGGLE_CARDINALITIES.map((c) => Math.min(c, 1000)));
    expect(tableSizes()[2]).toBe(100_000);
    expect(tableSizes()[8]).toBe(3);
  });

  it('is deterministic: same seed same bytes, other seed other bytes, any start', async () => {
    const a = digest(syntheticCriteoLines({ seed: 7, examples: 2000 }));
    expect(digest(syntheticCriteoLines({ seed: 7, examples: 2000 }))).toBe(a);
    expect(digest(syntheticCriteoLines({ seed: 8, examples: 2000 }))).not.toBe(a);
    const all = [...syntheticCriteoLines({ seed: 7, examples: 50 })];
    expect([...syntheticCriteoLines({ seed: 7, examples: 10, start: 40 })]).toEqual(all.slice(40));
    const file = join(dir, 'a.tsv');
    await writeSyntheticCriteo(file, { seed: 7, examples: 2000 });
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(a);
  });

  it('click rate near 25% on 20k examples, Zipf-shaped categoricals, valid rows', async () => {
    const sizes = tableSizes();
    const counts = sizes.map((s) => new Uint32Array(s));
    let n = 0;
    let clicks = 0;
    let outOfRange = 0;
    for await (const b of syntheticBatches({ seed: 1, examples: 20_000, batchSize: 1000 })) {
      for (let i = 0; i < b.size; i++) {
        clicks += b.labels[i]!;
        for (let t = 0; t < NUM_SPARSE; t++) {
          const r = b.sparse[i * NUM_SPARSE + t]!;
          if (r >= 0 && r < sizes[t]!) counts[t]![r]!++;
          else outOfRange++;
        }
      }
      n += b.size;
    }
    expect(n).toBe(20_000);
    expect(outOfRange).toBe(0);
    expect(Math.abs(clicks / n - 0.25)).toBeLessThan(0.03);
    // C1 (1,460 values, never missing): the top value is far more frequent than the median one.
    const c1 = Array.from(counts[0]!.subarray(1)).sort((x, y) => y - x);
    expect(c1[0]).toBeGreaterThan(20 * Math.max(1, c1[Math.floor(c1.length / 2)]!));
    expect(c1[0]).toBeGreaterThan(c1[9]! * 5);
  });

  it('the planted model is learnable: labels depend on the features', async () => {
    // The planted probability ranks the labels well (the ceiling a model can reach) ...
    const generator = new SyntheticCriteo({ seed: 3 });
    const row = createRawRow();
    const n = 10_000;
    const labels = new Float64Array(n);
    const p = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      p[i] = generator.fillRow(i, row);
      labels[i] = row.label;
    }
    expect(rocAuc(labels, p)).toBeGreaterThan(0.75);
    // ... and one column alone carries signal: per-value click rates of C6 (24 values), fitted
    // on the first half, beat the constant rate on the second half (Brier score).
    const clicks = new Float64Array(24);
    const seen = new Float64Array(24);
    let base = 0;
    let i = 0;
    let brierValue = 0;
    let brierConstant = 0;
    let m = 0;
    for await (const b of syntheticBatches({ seed: 3, examples: 20_000, batchSize: 1000 })) {
      for (let k = 0; k < b.size; k++, i++) {
        const v = b.sparse[k * NUM_SPARSE + 5]!;
        const y = b.labels[k]!;
        if (i < 10_000) {
          clicks[v]! += y;
          seen[v]!++;
          base += y / 10_000;
        } else if (seen[v]! > 0) {
          m++;
          brierValue += (clicks[v]! / seen[v]! - y) ** 2;
          brierConstant += (base - y) ** 2;
        }
      }
    }
    expect(brierValue / m).toBeLessThan(brierConstant / m - 0.002);
  });

  it('the generated file parses with the reader into the same batches', async () => {
    const file = join(dir, 'b.tsv.gz');
    await writeSyntheticCriteo(file, { seed: 5, examples: 3000, cap: 5000 });
    const stream = readCriteoBatches(file, { tableSizes: tableSizes(5000), batchSize: 256 });
    const direct = syntheticBatches({ seed: 5, examples: 3000, cap: 5000, batchSize: 256 });
    const fromFile = [];
    for await (const b of stream) fromFile.push(b);
    let k = 0;
    for await (const b of direct) {
      expect(fromFile[k]!.labels).toEqual(b.labels);
      expect(fromFile[k]!.dense).toEqual(b.dense);
      expect(fromFile[k]!.sparse).toEqual(b.sparse);
      k++;
    }
    expect(k).toBe(fromFile.length);
    expect(stream.stats).toMatchObject({ lines: 3000, examples: 3000, skipped: 0 });
    // The line source works too.
    let m = 0;
    for await (const b of readCriteoBatches(syntheticCriteo({ seed: 5, examples: 100 }), {
      maxIndRange: 1000,
      batchSize: 64,
    }))
      m += b.size;
    expect(m).toBe(100);
  });

  it('has I2 negatives and empty fields like the real data', () => {
    let negI2 = 0;
    let emptyI1 = 0;
    let emptyC22 = 0;
    for (const line of syntheticCriteoLines({ seed: 2, examples: 5000 })) {
      const f = line.split('\t');
      if (f[2]!.startsWith('-')) negI2++;
      if (f[1] === '') emptyI1++;
      if (f[14 + 21] === '') emptyC22++;
    }
    expect(negI2).toBeGreaterThan(100);
    expect(emptyI1 / 5000).toBeCloseTo(0.45, 1);
    expect(emptyC22 / 5000).toBeCloseTo(0.76, 1);
  });
});

describe('ZipfSampler', () => {
  it('matches P(k) proportional to k^-s', () => {
    const n = 5;
    const s = 1.05;
    const sampler = new ZipfSampler(n, s);
    const rng = new ExampleRng(11);
    const counts = new Float64Array(n + 1);
    const draws = 100_000;
    rng.reset(0);
    for (let i = 0; i < draws; i++) counts[sampler.sample(rng)]!++;
    let z = 0;
    for (let k = 1; k <= n; k++) z += k ** -s;
    for (let k = 1; k <= n; k++) {
      const p = k ** -s / z;
      const sd = Math.sqrt(draws * p * (1 - p));
      expect(Math.abs(counts[k]! - draws * p)).toBeLessThan(5 * sd);
    }
    expect(counts[0]).toBe(0);
  });
});
