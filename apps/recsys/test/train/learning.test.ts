import { describe, expect, it } from 'vitest';
import { syntheticSource } from '../../src/train/data-source.js';
import { Trainer } from '../../src/train/trainer.js';
import { jsInstance } from '../helpers.js';

describe('training on the built-in data', () => {
  it('lowers the validation log loss over 300 steps (small model)', async () => {
    const data = syntheticSource({
      seed: 2,
      cap: 2000,
      trainExamples: 300 * 64,
      validationExamples: 4096,
    });
    const trainer = await Trainer.create({
      backend: await jsInstance(),
      config: {
        denseFeatures: 13,
        bottom: [32, 8],
        top: [32, 1],
        embeddingDim: 8,
        tableSizes: data.tableSizes,
      },
      precision: 'fp16-sr',
      optimizer: { name: 'sgd', lr: 0.1 },
      data,
      batchSize: 64,
      epochs: 1,
      seed: 1,
    });
    const before = await trainer.validate();
    const result = await trainer.run();
    expect(result.steps).toBe(300);
    expect(result.validation.logloss).toBeLessThan(before.logloss - 0.01);
    expect(result.validation.auc).toBeGreaterThan(before.auc + 0.05);
  }, 60_000);
});
