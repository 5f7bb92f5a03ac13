import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCriteoBatches } from '../../src/data/index.js';

// test/data -> apps/recsys/test -> apps/recsys -> apps -> repo root; shared/ lies beside the repo.
const sample = fileURLToPath(
  new URL('../../../../../shared/data/criteo-kaggle-sample.tsv', import.meta.url),
);
const present = existsSync(sample);
if (!present && process.env.CI !== 'true') {
  console.log(`skipping the real Criteo sample test: ${sample} is absent`);
}

describe('real Criteo Kaggle rows', () => {
  it.skipIf(!present && process.env.CI !== 'true')('reads the 1,999-row sample', async () => {
    const stream = readCriteoBatches(sample, { maxIndRange: 10_000_000, batchSize: 512 });
    let n = 0;
    let positives = 0;
    let minDense = 0;
    for await (const b of stream) {
      n += b.size;
      for (let i = 0; i < b.size; i++) positives += b.labels[i]!;
      for (const x of b.dense) minDense = Math.min(minDense, x);
    }
    expect(minDense).toBe(0); // negatives (217 in I2) clamped to 0 before log(x + 1)
    expect(n).toBe(1999);
    // Counted independently: awk -F'\t' '{s += $1} END {print NR, s}' gives 1999 418.
    expect(positives).toBe(418);
    expect(positives / n).toBeCloseTo(0.209105, 6);
    expect(stream.stats).toMatchObject({ lines: 1999, examples: 1999, skipped: 0 });
  });
});
