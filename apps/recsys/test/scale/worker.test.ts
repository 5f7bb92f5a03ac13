import { createMemoryTableStore } from '@halfstep/embedding';
import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/data/batch.js';
import type { Precision } from '../../src/model/precision.js';
import { SoloCoordinator } from '../../src/scale/coordinator.js';
import { shardOf, shardSource } from '../../src/scale/shard.js';
import { runWorker } from '../../src/scale/worker.js';
import { DEFAULT_SETTINGS, type RunSettings } from '../../src/settings.js';
import { syntheticSource } from '../../src/train/data-source.js';
import { Trainer } from '../../src/train/trainer.js';
import { jsInstance } from '../helpers.js';

const settings = (precision: Precision, optimizer: RunSettings['optimizer']): RunSettings => ({
  ...DEFAULT_SETTINGS,
  precision,
  optimizer,
  backend: 'js',
  batchSize: 32,
  bottom: [16, 4],
  top: [8, 1],
  embeddingDim: 4,
  quiet: true,
});

describe('shardOf', () => {
  it('splits the batches of an epoch into contiguous shards differing by at most one', () => {
    const shards = [0, 1, 2].map((r) => shardOf(10 * 32 + 5, 32, r, 3));
    expect(shards.map((s) => [s.firstBatch, s.batches])).toEqual([
      [0, 3],
      [3, 4],
      [7, 4],
    ]);
    expect(shards.every((s) => s.totalBatches === 11 && s.minBatches === 3)).toBe(true);
    expect(shardOf(100, 32, 0, 1)).toEqual({
      firstBatch: 0,
      batches: 4,
      totalBatches: 4,
      minBatches: 4,
    });
  });

  it('gives each worker its shard of the batches, which together are the whole epoch', async () => {
    const data = syntheticSource({
      seed: 5,
      cap: 100,
      trainExamples: 10 * 32 + 5,
      validationExamples: 64,
    });
    const values = async (batches: AsyncIterable<Batch>) => {
      const all: number[] = [];
      for await (const b of batches)
        all.push(...b.dense.subarray(0, b.size * 13), ...b.labels.subarray(0, b.size));
      return all;
    };
    const shards = [0, 1, 2].map((r) => shardSource(data, 32, shardOf(10 * 32 + 5, 32, r, 3)));
    expect(shards.map((s) => s.trainExamples)).toEqual([96, 128, 101]);
    const parts = await Promise.all(shards.map((s) => values(s.trainBatches(32, 0))));
    expect(parts.flat()).toEqual(await values(data.trainBatches(32, 0)));
    // Resuming inside a shard (example 64 of it: its third batch) starts at its own batch.
    expect(await values(shards[1]!.trainBatches(32, 64))).toEqual(parts[1]!.slice(2 * 32 * 14));
  });

  it('names the flag when there are more workers than batches', () => {
    expect(() => shardOf(64, 32, 0, 3)).toThrow(/--workers 3 is more than the 2 training batches/);
  });
});

describe('one worker on the memory store', () => {
  for (const [precision, optimizer] of [
    ['fp16-sr', 'sgd'],
    ['fp32', 'rowwise-adagrad'],
  ] as const) {
    it(`trains bit-identically to the in-memory Trainer (${precision}, ${optimizer})`, async () => {
      const s = settings(precision, optimizer);
      const data = syntheticSource({
        seed: 3,
        cap: 300,
        trainExamples: 20 * 32 + 7,
        validationExamples: 256,
      });
      const backend = await jsInstance();
      const trainer = await Trainer.create({
        backend,
        config: {
          denseFeatures: 13,
          bottom: s.bottom,
          top: s.top,
          embeddingDim: s.embeddingDim,
          tableSizes: data.tableSizes,
        },
        precision,
        optimizer: { name: optimizer, lr: s.lr },
        data,
        batchSize: s.batchSize,
        epochs: 1,
        seed: s.seed,
      });
      const expected = await trainer.run();
      const store = await createMemoryTableStore(await jsInstance());
      const result = await runWorker({
        settings: s,
        scale: { workers: 1, syncEvery: 4, runId: 'test', keepTables: false },
        store,
        group: new SoloCoordinator(),
        backend: await jsInstance(),
        data,
        log: () => {},
      });
      expect(result).not.toBeNull();
      expect(result?.validation).toEqual(expected.validation);
      expect(result?.examplesSeen).toBe(expected.examplesSeen);
      expect(result?.embeddingBytes).toBe(expected.embeddingBytes);
      expect(result?.embeddingStateBytes).toBe(expected.embeddingStateBytes);
      for (let t = 0; t < 26; t++) {
        const rows = await store.readRows(
          `C${t + 1}`,
          Int32Array.from({ length: data.tableSizes[t]! }, (_, i) => i),
        );
        expect(rows).toEqual(await trainer.model.embeddings.readTable(t));
      }
      await store.close();
    }, 60_000);
  }
});
