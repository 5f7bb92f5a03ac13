import { readFileSync } from 'node:fs';
import { createEmbeddingBag, type EmbeddingBag } from '@halfstep/embedding';
import { sgd } from '@halfstep/optim';
import type { BenchGroup, BenchRow } from '../harness.js';
import { measurePython, pythonTimer, shareWithPython } from '../python.js';

const ROWS = 1_000_000;
const DIM = 64;
const BAGS = 4096;
const LOOKUPS_PER_BAG = 26;
const LR = 0.01;

/** Uniform indices in [0, ROWS), fixed seed. */
function batchData() {
  let state = 2024;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const n = BAGS * LOOKUPS_PER_BAG;
  const indices = Int32Array.from({ length: n }, () => Math.floor(uniform() * ROWS));
  const offsets = Int32Array.from({ length: BAGS }, (_, b) => b * LOOKUPS_PER_BAG);
  const grad = Float32Array.from({ length: BAGS * DIM }, () => (uniform() - 0.5) * 0.02);
  return { indices, offsets, grad };
}

/**
 * One training step (forward, fused backward + SGD update) per call. The gradient is a tensor on
 * the bag's backend, uploaded once (as the old host-array gradient was read in place); the step's
 * outcome is not awaited (on the JS backend it is known when the call returns).
 */
function stepRow(name: string, bag: EmbeddingBag, data: ReturnType<typeof batchData>): BenchRow {
  const grad = bag.backend.tensor(data.grad);
  return {
    name,
    items: data.indices.length,
    run: () => bag.backward(bag.forward(data.indices, data.offsets), grad),
  };
}

/**
 * Training-step throughput of a 1M x 64 embedding bag (batch 4096 bags of 26 lookups, sum
 * pooling, SGD) on the JS backend, in row updates (lookups) per second, against PyTorch's
 * EmbeddingBag(sparse=True) + SGD on the same indices (2 threads).
 */
export const embeddingGroup: BenchGroup = {
  name: 'embedding',
  async tables() {
    const data = batchData();
    const make = (storage: 'float32' | 'float16', rounding: 'stochastic' | 'nearest-even') =>
      createEmbeddingBag({
        rows: ROWS,
        dim: DIM,
        storage,
        rounding,
        optimizer: sgd({ lr: LR }),
        seed: 1,
      });
    const f32 = await make('float32', 'nearest-even');
    const f16sr = await make('float16', 'stochastic');
    const f16ne = await make('float16', 'nearest-even');
    const script = readFileSync(new URL('../torch_embedding.py', import.meta.url), 'utf8');
    const env = {
      BENCH_ROWS: String(ROWS),
      BENCH_DIM: String(DIM),
      BENCH_BAGS: String(BAGS),
      BENCH_INDICES: shareWithPython(data.indices),
      BENCH_OFFSETS: shareWithPython(data.offsets),
      BENCH_GRAD: shareWithPython(data.grad),
    };
    return [
      {
        title: `training step, ${ROWS / 1e6}M x ${DIM} table, ${BAGS} bags x ${LOOKUPS_PER_BAG} lookups, SGD (JS backend: ${f32.backendName}); weights ${f32.weightBytes / 2 ** 20} MiB float32, ${f16sr.weightBytes / 2 ** 20} MiB float16`,
        unit: 'row updates',
        baseline: 'PyTorch EmbeddingBag(sparse) + SGD, float32, 2 threads',
        rows: [
          stepRow('float32', f32, data),
          stepRow('float16 stochastic', f16sr, data),
          stepRow('float16 nearest-even', f16ne, data),
          {
            name: 'PyTorch EmbeddingBag(sparse) + SGD, float32, 2 threads',
            measure: () => measurePython(pythonTimer + script, env),
          },
        ],
      },
    ];
  },
};
