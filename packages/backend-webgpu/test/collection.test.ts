import type { Backend, Tensor } from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import {
  createEmbeddingBagCollection,
  type EmbeddingBagCollection,
  type TableConfig,
} from '@halfstep/embedding';
import { adagrad, adam, momentum, rowwiseAdagrad, sgd } from '@halfstep/optim';
import { afterAll, expect, it } from 'vitest';
import { lcg, openDevice } from './device.js';

// The one EmbeddingBagCollection on the WebGPU backend, through the contract only: the same
// stored bytes as on the JS backend, and a steady-state step that moves nothing but its batch.
const device = await openDevice();
const gpu = device.backend;
afterAll(() => gpu?.dispose());

const configs: TableConfig[] = [
  { name: 'sgd16', rows: 3000, dim: 8, storage: 'float16', optimizer: sgd({ lr: 0.3 }) },
  {
    name: 'momentum-bf16-mean',
    rows: 1200,
    dim: 6,
    storage: 'bfloat16',
    pooling: 'mean',
    optimizer: momentum({ lr: 0.1, momentum: 0.9 }),
  },
  {
    name: 'adagrad-e4m3',
    rows: 900,
    dim: 5,
    storage: 'float8e4m3',
    optimizer: adagrad({ lr: 0.2, stateStorage: 'float16' }),
  },
  {
    name: 'rowwise-e5m2',
    rows: 700,
    dim: 16,
    storage: 'float8e5m2',
    optimizer: rowwiseAdagrad({ lr: 0.1 }),
  },
  {
    name: 'adam32-nearest',
    rows: 500,
    dim: 4,
    storage: 'float32',
    rounding: 'nearest-even',
    optimizer: adam({ lr: 0.01, weightDecay: { mode: 'decoupled', rate: 0.01 } }),
  },
  {
    name: 'sgd16-nearest-l2',
    rows: 640,
    dim: 12,
    storage: 'float16',
    rounding: 'nearest-even',
    optimizer: sgd({ lr: 0.2, weightDecay: { mode: 'l2', rate: 0.05 }, maxNorm: 1 }),
  },
];

/** One step's lookups per table: 16 bags of 0..4 rows, skewed towards small row numbers. */
function batches(rnd: () => number) {
  return configs.map((c) => {
    const offsets: number[] = [];
    const indices: number[] = [];
    for (let b = 0; b < 16; b++) {
      offsets.push(indices.length);
      const size = Math.floor(rnd() * 5);
      for (let i = 0; i < size; i++) indices.push(Math.floor(rnd() * rnd() * c.rows));
    }
    return { indices, offsets };
  });
}

/**
 * Trains `steps` steps with gradients made on the backend from the pooled outputs (g = relu(y) -
 * 0.25 y, in float32 ops every backend computes exactly), so nothing crosses to the host.
 */
async function train(backend: Backend, steps: number): Promise<EmbeddingBagCollection> {
  const tables = await createEmbeddingBagCollection(configs, { seed: 77n, backend });
  const rnd = lcg(31);
  const scratch = new Map<number, { g: Tensor; scaled: Tensor }>();
  for (let step = 0; step < steps; step++) {
    const forward = tables.forward(batches(rnd));
    const grads = forward.outputs.map((y) => {
      let s = scratch.get(y.size);
      if (!s) {
        s = { g: backend.tensor(y.size), scaled: backend.tensor(y.size) };
        scratch.set(y.size, s);
      }
      backend.relu(y, s.g);
      // g = 1 * relu(y) + (-0.25) * y: matmul as an axpy (k = 1, one product per element).
      const minusQuarter = backend.tensor(Float32Array.of(-0.25));
      backend.matmul({ m: y.size, n: 1, k: 1, a: y, b: minusQuarter, c: s.g, beta: 1 });
      backend.disposeTensor(minusQuarter);
      return s.g;
    });
    await tables.backward(forward, grads);
  }
  return tables;
}

it.skipIf(!gpu && !device.required)(
  'trains bit-identically to the JS backend: every optimizer, storage, rounding and pooling',
  { timeout: 120_000 },
  async () => {
    if (!gpu) throw new Error(`no WebGPU adapter in CI: ${device.reason}`);
    const [onGpu, onJs] = [await train(gpu, 6), await train(new JsBackend(), 6)];
    for (let t = 0; t < configs.length; t++) {
      const a = await gpu.exportTable(onGpu.handles[t]!);
      const b = await onJs.backend.exportTable(onJs.handles[t]!);
      expect(Buffer.compare(Buffer.from(a.weights), Buffer.from(b.weights)), configs[t]!.name).toBe(
        0,
      );
      expect(Buffer.compare(Buffer.from(a.state), Buffer.from(b.state)), configs[t]!.name).toBe(0);
    }
    // Training moved the tables: the comparison is not between two initial states.
    const initial = await createEmbeddingBagCollection(configs, { seed: 77n });
    expect(await onJs.readRows(0)).not.toEqual(initial.readRowsSync(0));
    onGpu.dispose();
  },
);

it.skipIf(!gpu && !device.required)(
  'a steady-state step uploads only its batch and kernel parameters, and downloads nothing',
  { timeout: 60_000 },
  async () => {
    if (!gpu) throw new Error(`no WebGPU adapter in CI: ${device.reason}`);
    const tables = await train(gpu, 2); // warm: pipelines compiled, scratch allocated
    await tables.flush();
    const rnd = lcg(5);
    const before = gpu.stats();
    let batchBytes = 0;
    for (let k = 0; k < 3; k++) {
      const step = batches(rnd);
      for (const b of step) batchBytes += 4 * (b.indices.length + b.offsets.length);
      const forward = tables.forward(step);
      const grads = forward.outputs.map((y) => {
        const g = gpu.tensor(y.size);
        gpu.relu(y, g);
        return g;
      });
      void tables.backward(forward, grads); // not awaited: nothing is read back
    }
    const after = gpu.stats();
    console.info(
      `webgpu collection, 3 steps of ${configs.length} tables: uploaded ${after.uploadBytes - before.uploadBytes} B (batches ${batchBytes} B), downloaded ${after.downloadBytes - before.downloadBytes} B, ${after.submissions - before.submissions} submissions`,
    );
    expect(after.downloadBytes - before.downloadBytes).toBe(0);
    // The batch goes up for the forward and, grouped by row, for the backward, with a parameter
    // block per dispatch; never a table (the smallest holds 4.5 KB) nor a gradient.
    expect(after.uploadBytes - before.uploadBytes).toBeLessThanOrEqual(
      4 * batchBytes + 3 * configs.length * 640,
    );
    // flush() collects the three steps' status words in one submission.
    await tables.flush();
    const flushed = gpu.stats();
    expect(flushed.submissions - after.submissions).toBe(1);
    expect(flushed.downloadBytes - after.downloadBytes).toBeGreaterThan(0);
    tables.dispose();
  },
);
