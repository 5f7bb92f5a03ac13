import { sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import { createEmbeddingBag } from '../src/index.js';
import { lcg } from './helpers.js';

/**
 * A convex problem with a planted solution: logistic regression whose logit for example b is
 * x_b . (sum of the embeddings of its bag); labels drawn from the planted embeddings. Every
 * precision sees the same data and the same initial weights (float16-representable), and is
 * trained by SGD with a small learning rate, where most updates are smaller than half a float16
 * step: nearest-even rounding drops them, stochastic rounding keeps them in expectation.
 */
const ROWS = 50;
const DIM = 8;
const BAG = 4;
const BATCH = 64;
const STEPS = 10_000;
const LR = 0.001;
/** Scale of the features: larger makes the labels less noisy and the planted loss lower. */
const X_SCALE = 4;
/** Initial distance from the planted weights, per element (uniform). */
const PERTURB = 0.15;

function sample(rnd: () => number, planted: Float64Array | null, n: number) {
  const indices = Int32Array.from({ length: n * BAG }, () => Math.floor(rnd() * ROWS));
  const x = Float32Array.from({ length: n * DIM }, () => {
    // Box-Muller normal.
    const u = rnd() || 1e-12;
    return X_SCALE * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  });
  const y = new Float32Array(n);
  if (planted) {
    for (let b = 0; b < n; b++)
      y[b] = rnd() < 1 / (1 + Math.exp(-logit(planted, indices, x, b))) ? 1 : 0;
  }
  return { indices, x, y };
}

function logit(table: ArrayLike<number>, indices: Int32Array, x: Float32Array, b: number): number {
  let z = 0;
  for (let i = b * BAG; i < (b + 1) * BAG; i++) {
    for (let c = 0; c < DIM; c++) z += x[b * DIM + c]! * table[indices[i]! * DIM + c]!;
  }
  return z;
}

/** Mean logistic loss in float64. */
function loss(
  table: ArrayLike<number>,
  data: { indices: Int32Array; x: Float32Array; y: Float32Array },
): number {
  const n = data.y.length;
  let sum = 0;
  for (let b = 0; b < n; b++) {
    const z = logit(table, data.indices, data.x, b);
    sum += Math.max(z, 0) - z * data.y[b]! + Math.log1p(Math.exp(-Math.abs(z)));
  }
  return sum / n;
}

async function run(
  storage: 'float32' | 'float16',
  rounding: 'stochastic' | 'nearest-even',
  init: Float32Array,
  planted: Float64Array,
  evalSet: ReturnType<typeof sample>,
) {
  const bag = await createEmbeddingBag({
    rows: ROWS,
    dim: DIM,
    storage,
    rounding,
    optimizer: sgd({ lr: LR }),
    seed: 1,
    init,
  });
  const rnd = lcg(77); // the same data stream for every run
  const offsets = Int32Array.from({ length: BATCH }, (_, b) => b * BAG);
  const grad = new Float32Array(BATCH * DIM);
  for (let step = 0; step < STEPS; step++) {
    const { indices, x, y } = sample(rnd, planted, BATCH);
    const forward = bag.forward(indices, offsets);
    const [pooled] = await forward.read();
    for (let b = 0; b < BATCH; b++) {
      let z = 0;
      for (let c = 0; c < DIM; c++) z += x[b * DIM + c]! * pooled![b * DIM + c]!;
      const d = (1 / (1 + Math.exp(-z)) - y[b]!) / BATCH;
      for (let c = 0; c < DIM; c++) grad[b * DIM + c] = d * x[b * DIM + c]!;
    }
    await bag.backward(forward, grad);
  }
  return loss(await bag.readRows(), evalSet);
}

describe('quality on a convex problem', () => {
  it('float16 with stochastic rounding reaches the float32 loss within 1%; nearest-even stalls above it', async () => {
    const rnd = lcg(2024);
    // Planted magnitudes in [0.25, 0.5), where float16's step is 2^-12.
    const planted = Float64Array.from(
      { length: ROWS * DIM },
      () => (rnd() < 0.5 ? -1 : 1) * (0.25 + rnd() * 0.25),
    );
    // Start near, not at, the solution, on values that float16 represents exactly.
    const init = new Float32Array(ROWS * DIM);
    for (let i = 0; i < init.length; i++)
      init[i] = Math.round((planted[i]! + (rnd() * 2 - 1) * PERTURB) * 4096) / 4096;
    const evalSet = sample(lcg(99), planted, 4000);
    const initial = loss(init, evalSet);
    const f32 = await run('float32', 'nearest-even', init, planted, evalSet);
    const sr = await run('float16', 'stochastic', init, planted, evalSet);
    const best = loss(planted, evalSet);
    const nearest = await run('float16', 'nearest-even', init, planted, evalSet);
    console.log(
      `[quality] initial ${initial.toFixed(4)}, planted ${best.toFixed(4)}, float32 ${f32.toFixed(4)}, float16-stochastic ${sr.toFixed(4)} (${(((sr - f32) / f32) * 100).toFixed(2)}%), float16-nearest ${nearest.toFixed(4)} (${(((nearest - f32) / f32) * 100).toFixed(2)}%)`,
    );
    expect(f32).toBeLessThan(initial * 0.9);
    expect(Math.abs(sr - f32) / f32).toBeLessThan(0.01);
    expect((nearest - f32) / f32).toBeGreaterThan(0.05);
  }, 30_000);
});
