import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Precision } from '../../src/model/precision.js';
import { syntheticSource } from '../../src/train/data-source.js';
import type { OptimizerName } from '../../src/train/dense-optimizer.js';
import { Trainer, type TrainOptions } from '../../src/train/trainer.js';
import { jsInstance } from '../helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function options(
  precision: Precision,
  optimizer: OptimizerName,
  extra: Partial<TrainOptions> = {},
): Promise<TrainOptions> {
  const data = syntheticSource({
    seed: 4,
    cap: 500,
    trainExamples: 20 * 32 + 5,
    validationExamples: 256,
  });
  return {
    backend: await jsInstance(),
    config: {
      denseFeatures: 13,
      bottom: [16, 4],
      top: [16, 1],
      embeddingDim: 4,
      tableSizes: data.tableSizes,
    },
    precision,
    optimizer: { name: optimizer, lr: optimizer === 'adam' ? 0.01 : 0.1 },
    data,
    batchSize: 32,
    epochs: 2,
    seed: 9,
    evalEvery: 6,
    ...extra,
  };
}

/** Every trained value, as raw bytes: dense weights, dense optimizer state, table weights and state. */
async function snapshot(trainer: Trainer): Promise<Buffer[]> {
  const { model, denseOptimizer } = trainer;
  const collection = model.embeddings.collection;
  const { backend } = collection;
  const tables = await Promise.all(collection.handles.map((h) => backend.exportTable(h)));
  return [
    ...model.denseParams().map((p) => Buffer.from(p.host.buffer.slice(0))),
    // The backend's copy of the dense values must match the host's.
    ...(await Promise.all(model.denseParams().map((p) => backend.read(p.value)))).map((v) =>
      Buffer.from(v.buffer.slice(0)),
    ),
    ...denseOptimizer.state.flat().map((s) => Buffer.from(s.buffer.slice(0))),
    ...tables.flatMap((data) => [Buffer.from(data.weights), Buffer.from(data.state)]),
  ];
}

describe('checkpoint and resume', () => {
  it.each([
    ['fp16-sr', 'sgd'],
    ['bf16-sr', 'adam'],
    ['fp32', 'rowwise-adagrad'],
  ] as const)(
    '%s with %s: interrupted + resumed is bit-identical to uninterrupted',
    async (precision, optimizer) => {
      const whole = await Trainer.create(await options(precision, optimizer));
      const expected = await whole.run();

      const dir = await mkdtemp(join(tmpdir(), 'recsys-ckpt-'));
      dirs.push(dir);
      // Interrupted mid-epoch-2 (step 27 of 42), checkpointing every 5 steps on the way.
      const first = await Trainer.create(
        await options(precision, optimizer, {
          checkpointDir: dir,
          checkpointEvery: 5,
          maxSteps: 27,
        }),
      );
      const partial = await first.run();
      expect(partial.completed).toBe(false);
      expect(partial.steps).toBe(27);
      expect((await readFile(join(dir, 'latest'), 'utf8')).trim()).toBe('step-000000027');
      expect((await readdir(dir)).filter((d) => d.startsWith('step-'))).toEqual(['step-000000027']);
      first.model.dispose();

      // A new backend and model, restored from the checkpoint.
      const resumed = await Trainer.create(
        await options(precision, optimizer, { checkpointDir: dir, checkpointEvery: 5 }),
      );
      expect(resumed.state.step).toBe(27);
      const result = await resumed.run();
      expect(result.completed).toBe(true);
      expect(result.resumedFromStep).toBe(27);
      expect(result.steps).toBe(expected.steps);
      expect(result.curve.map((p) => [p.step, p.logloss])).toEqual(
        expected.curve.map((p) => [p.step, p.logloss]),
      );
      const a = await snapshot(whole);
      const b = await snapshot(resumed);
      expect(b.length).toBe(a.length);
      for (let i = 0; i < a.length; i++) expect(b[i]!.equals(a[i]!), `tensor ${i}`).toBe(true);
    },
    60_000,
  );

  it('refuses a checkpoint made with other options', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'recsys-ckpt-'));
    dirs.push(dir);
    await (
      await Trainer.create(await options('fp16-sr', 'sgd', { checkpointDir: dir, maxSteps: 3 }))
    ).run();
    await expect(
      Trainer.create(await options('fp16-nearest', 'sgd', { checkpointDir: dir })),
    ).rejects.toThrow(/different configuration/);
  });
});
