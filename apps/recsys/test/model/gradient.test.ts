import { sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import { syntheticBatches, tableSizes } from '../../src/data/synthetic/index.js';
import { Dlrm } from '../../src/model/dlrm.js';
import { precisionSpec } from '../../src/model/precision.js';
import { jsInstance, smallConfig } from '../helpers.js';
import { type ReferenceParams, referenceLogit, referenceLoss } from './reference-dlrm.js';

/**
 * Gradient check of the whole DLRM: the app's float32 analytic gradients (backend kernels) against
 * central finite differences (h = 1e-5) of a float64 reference of the same model. Tolerance:
 * |analytic - numeric| <= 2e-5 + 2e-3 |numeric| (float32 rounding of the analytic side; the
 * float64 difference quotient is accurate to about 1e-10).
 */
const H = 1e-5;
const ATOL = 2e-5;
const RTOL = 2e-3;

async function setup() {
  const sizes = tableSizes(40);
  const model = await Dlrm.create({
    backend: await jsInstance(),
    config: smallConfig(sizes),
    precision: precisionSpec('fp32'),
    embeddingOptimizer: sgd({ lr: 0.1 }),
    seed: 5,
  });
  const batch = (await syntheticBatches({ seed: 3, cap: 40, batchSize: 6, examples: 6 }).next())
    .value!;
  const toLayers = (mlp: Dlrm['bottom']) =>
    mlp.layers.map((l) => ({
      w: Float64Array.from(l.weight.host),
      b: Float64Array.from(l.bias.host),
      inputs: l.inputs,
      outputs: l.outputs,
    }));
  const ref: ReferenceParams = {
    bottom: toLayers(model.bottom),
    top: toLayers(model.top),
    tables: await Promise.all(
      sizes.map(async (_, t) => Float64Array.from(await model.embeddings.readTable(t))),
    ),
    dim: 4,
  };
  return { model, batch, ref };
}

describe('DLRM gradient check (float64 finite differences)', () => {
  it('forward matches the float64 reference', async () => {
    const { model, batch, ref } = await setup();
    const logits = await model.backend.read(
      await model.forward(batch.dense, batch.sparse, batch.size),
    );
    model.embeddings.release();
    for (let b = 0; b < batch.size; b++) {
      const expected = referenceLogit(
        ref,
        Array.from(batch.dense.subarray(b * 13, (b + 1) * 13)),
        Array.from(batch.sparse.subarray(b * 26, (b + 1) * 26)),
      );
      expect(Math.abs(logits[b]! - expected)).toBeLessThan(1e-5 * Math.max(1, Math.abs(expected)));
    }
  });

  it('dense and embedding gradients match finite differences', async () => {
    const { model, batch, ref } = await setup();
    const { backend } = model;
    const logits = await model.forward(batch.dense, batch.sparse, batch.size);
    const gradLogits = backend.tensor(batch.size);
    backend.bceWithLogits(logits, backend.tensor(batch.labels), backend.tensor(1), gradLogits);
    const embeddingGrads = await model.backward(gradLogits);
    const loss = () => referenceLoss(ref, batch.dense, batch.sparse, batch.labels);
    const numeric = (values: Float64Array, i: number) => {
      const saved = values[i]!;
      values[i] = saved + H;
      const plus = loss();
      values[i] = saved - H;
      const minus = loss();
      values[i] = saved;
      return (plus - minus) / (2 * H);
    };
    let checked = 0;
    let worst = 0;
    const check = (analytic: number, values: Float64Array, i: number) => {
      const n = numeric(values, i);
      const err = Math.abs(analytic - n);
      worst = Math.max(worst, err / (ATOL + RTOL * Math.abs(n)));
      expect(err).toBeLessThanOrEqual(ATOL + RTOL * Math.abs(n));
      checked++;
    };
    // Dense parameters: every bottom parameter, every top bias, a strided sample of top weights.
    const layerPairs = [
      ...model.bottom.layers.map((l, k) => [l, ref.bottom[k]!] as const),
      ...model.top.layers.map((l, k) => [l, ref.top[k]!] as const),
    ];
    for (const [layer, r] of layerPairs) {
      const weightGrad = await backend.read(layer.weight.grad);
      const biasGrad = await backend.read(layer.bias.grad);
      const stride = weightGrad.length > 400 ? 7 : 1;
      for (let i = 0; i < weightGrad.length; i += stride) check(weightGrad[i]!, r.w, i);
      for (let i = 0; i < biasGrad.length; i++) check(biasGrad[i]!, r.b, i);
    }
    // Embedding rows: the gradient of a row is the sum of its bags' pooled gradients.
    const dim = 4;
    for (let t = 0; t < 26; t++) {
      const rowGrad = new Map<number, Float64Array>();
      for (let b = 0; b < batch.size; b++) {
        const row = batch.sparse[b * 26 + t]!;
        const g = rowGrad.get(row) ?? new Float64Array(dim);
        for (let c = 0; c < dim; c++) g[c]! += embeddingGrads[t]![b * dim + c]!;
        rowGrad.set(row, g);
      }
      for (const [row, g] of rowGrad) {
        for (let c = 0; c < dim; c++) check(g[c]!, ref.tables[t]!, row * dim + c);
      }
    }
    expect(checked).toBeGreaterThan(500);
    expect(worst).toBeLessThanOrEqual(1);
  });
});
