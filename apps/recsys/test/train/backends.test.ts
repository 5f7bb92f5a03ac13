import { createBackend } from '@halfstep/backend';
import { describe, expect, it } from 'vitest';
import { registerAvailableBackends } from '../../src/backends.js';
import { syntheticSource } from '../../src/train/data-source.js';
import { Trainer } from '../../src/train/trainer.js';

const missing = await registerAvailableBackends();
const wasmMissing = missing.some((m) => m.name === 'wasm');

async function train(backend: string) {
  const data = syntheticSource({
    seed: 6,
    cap: 300,
    trainExamples: 25 * 32,
    validationExamples: 512,
  });
  const trainer = await Trainer.create({
    backend: await createBackend(backend),
    config: {
      denseFeatures: 13,
      bottom: [24, 8],
      top: [24, 1],
      embeddingDim: 8,
      tableSizes: data.tableSizes,
    },
    precision: 'fp16-sr',
    optimizer: { name: 'sgd', lr: 0.1 },
    data,
    batchSize: 32,
    epochs: 1,
    seed: 3,
  });
  const result = await trainer.run();
  const weights = trainer.model.denseParams().map((p) => Array.from(p.host));
  const { collection } = trainer.model.embeddings;
  const tables = await Promise.all(
    collection.handles.map(async (h) =>
      Buffer.from((await collection.backend.exportTable(h)).weights),
    ),
  );
  return { result, weights, tables };
}

describe('backends', () => {
  it.skipIf(wasmMissing)(
    'wasm trains to the same weights as js (fp16-sr, 25 steps)',
    async () => {
      const js = await train('js');
      const wasm = await train('wasm');
      expect(wasm.result.backend).toBe('wasm');
      for (let t = 0; t < js.tables.length; t++)
        expect(wasm.tables[t]!.equals(js.tables[t]!)).toBe(true);
      expect(wasm.weights).toEqual(js.weights);
      expect(wasm.result.validation.logloss).toBeCloseTo(js.result.validation.logloss, 6);
    },
    60_000,
  );
});
