import type { Backend, BagUpdate, Tensor } from '@halfstep/backend';
import type { JsBackend } from '@halfstep/backend-js';
import { sgd } from '@halfstep/optim';
import type { WebGpuBackend } from '../src/index.js';
import { bitsOf, randomValues } from '../test/device.js';
import { optimizers, STORAGES, tableSpec, uniformBatch } from './cases.js';
import { countDiff, guarded, record } from './results.js';

/** The sizes of the kernel checks (`--small` shrinks them). */
export interface KernelSizes {
  /** Rows of the forward's tables (24 columns). */
  readonly forwardRows: number;
  /** Bags (of 26 lookups) of the forward's batches. */
  readonly forwardBags: number;
  /** Rows of the update's tables (13 columns). */
  readonly updateRows: number;
  /** Bags (of 8 lookups) of the update's batches. */
  readonly updateBags: number;
  /** matmul's m, k, n. */
  readonly matmul: readonly [number, number, number];
  /** Rows of the element-wise ops' operands (300 columns). */
  readonly denseRows: number;
}

/** Records the bit comparison of a GPU tensor with a JS one. */
async function sameBits(
  name: string,
  gpu: WebGpuBackend,
  got: Tensor,
  js: JsBackend,
  want: Tensor,
): Promise<void> {
  const a = await gpu.read(got);
  const b = js.readSync(want);
  record({ kernel: name, checked: b.length, mismatches: countDiff(bitsOf(a), bitsOf(b)) });
}

/** Records a comparison within `tolerance` (absolute), with the largest difference seen. */
function within(name: string, got: Float32Array, want: Float32Array, tolerance: number): void {
  let mismatches = got.length === want.length ? 0 : Math.max(got.length, want.length);
  let largest = 0;
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (!(d <= tolerance)) mismatches++;
    if (d > largest) largest = d;
  }
  record({
    kernel: `${name} (within ${tolerance.toExponential(0)})`,
    checked: want.length,
    mismatches,
    detail: `largest difference ${largest.toExponential(2)}`,
  });
}

/** Each backend's tensor of the same values (uploaded). */
function pair(gpu: Backend, js: Backend, values: Float32Array): [Tensor, Tensor] {
  return [gpu.tensor(values), js.tensor(values)];
}

/**
 * The bit identity of the embedding kernels against `@halfstep/backend-js`: the forward for
 * every storage and pooling (and per-sample weights), read back from the pooled tensor; the
 * fused backward + update for every optimizer, storage and rounding over three steps (sum, mean,
 * per-sample weights), comparing each step's `BagUpdateResult`s and the exported table bytes.
 */
export async function checkEmbedding(
  gpu: WebGpuBackend,
  js: JsBackend,
  sizes: KernelSizes,
  seeds: { seed: number },
): Promise<void> {
  const rows = sizes.forwardRows;
  const dim = 24;
  for (const storage of STORAGES) {
    for (const [pooling, weights] of [
      ['sum', false],
      ['mean', false],
      ['sum', true],
    ] as const) {
      const name = `forward ${storage} ${pooling}${weights ? ' per-sample-weights' : ''}`;
      await guarded(name, async () => {
        const spec = tableSpec(storage, rows, dim, sgd({ lr: 0.1 }));
        const values = randomValues(rows * dim, seeds.seed++, 2);
        const a = gpu.createTable({ ...spec, init: values });
        const b = js.createTable({ ...spec, init: values });
        const input = uniformBatch(rows, sizes.forwardBags, 26, seeds.seed++, weights);
        const outs = [
          gpu.tensor(sizes.forwardBags * dim),
          js.tensor(sizes.forwardBags * dim),
        ] as const;
        gpu.embeddingBagForward(a, input, pooling, outs[0]);
        js.embeddingBagForward(b, input, pooling, outs[1]);
        await sameBits(name, gpu, outs[0], js, outs[1]);
        gpu.disposeTensor(outs[0]);
        js.disposeTensor(outs[1]);
        gpu.disposeTable(a);
        js.disposeTable(b);
      });
    }
  }
  const urows = sizes.updateRows;
  const udim = 13;
  for (const [label, optimizer] of optimizers()) {
    for (const storage of STORAGES) {
      for (const rounding of ['stochastic', 'nearest-even'] as const) {
        if (storage === 'float32' && rounding === 'nearest-even') continue;
        const name = `update ${label} ${storage} ${rounding}`;
        await guarded(name, async () => {
          const spec = tableSpec(storage, urows, udim, optimizer, rounding);
          const values = randomValues(urows * udim, seeds.seed++, 1);
          const a = gpu.createTable({ ...spec, init: values });
          const b = js.createTable({ ...spec, init: values });
          let mismatches = 0;
          let checked = 0;
          for (let step = 0; step < 3; step++) {
            const input = uniformBatch(urows, sizes.updateBags, 8, seeds.seed++, step === 2);
            const grads = randomValues(input.offsets.length * udim, seeds.seed++, 0.5);
            const [gg, gj] = pair(gpu, js, grads);
            const pooling = step === 1 ? ('mean' as const) : ('sum' as const);
            const u: Omit<BagUpdate, 'table' | 'gradOutput'> = { input, pooling, step };
            const got = await gpu.embeddingBagBackward([{ ...u, table: a, gradOutput: gg }]);
            const want = await js.embeddingBagBackward([{ ...u, table: b, gradOutput: gj }]);
            if (JSON.stringify(got) !== JSON.stringify(want)) mismatches++;
            const x = await gpu.exportTable(a);
            const y = js.exportTableSync(b);
            mismatches += countDiff(x.weights, y.weights) + countDiff(x.state, y.state);
            checked += x.weights.length + x.state.length;
            gpu.disposeTensor(gg);
            js.disposeTensor(gj);
          }
          record({ kernel: name, checked, mismatches });
          gpu.disposeTable(a);
          js.disposeTable(b);
        });
      }
    }
  }
}

/**
 * The dense ops against `@halfstep/backend-js`: matmul (every transpose, alpha and beta),
 * addBias, relu, reluBackward and sumRows bit for bit; sigmoid and bceWithLogits (WGSL's `exp`
 * and `log` are not correctly rounded, and the reference sums the loss in float64) within an
 * absolute tolerance.
 */
export async function checkDense(
  gpu: WebGpuBackend,
  js: JsBackend,
  sizes: KernelSizes,
  seeds: { seed: number },
): Promise<void> {
  const [m, k, n] = sizes.matmul;
  for (const [transA, transB] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ] as const) {
    const name = `matmul ${transA ? 'A^T' : 'A'} ${transB ? 'B^T' : 'B'} alpha beta`;
    await guarded(name, async () => {
      const [ag, aj] = pair(gpu, js, randomValues(m * k, seeds.seed++));
      const [bg, bj] = pair(gpu, js, randomValues(k * n, seeds.seed++));
      const [cg, cj] = pair(gpu, js, randomValues(m * n, seeds.seed++));
      const call = { m, n, k, transA, transB, alpha: 0.75, beta: 0.5 };
      gpu.matmul({ ...call, a: ag, b: bg, c: cg });
      js.matmul({ ...call, a: aj, b: bj, c: cj });
      await sameBits(name, gpu, cg, js, cj);
      for (const t of [ag, bg, cg]) gpu.disposeTensor(t);
      for (const t of [aj, bj, cj]) js.disposeTensor(t);
    });
  }
  const rows = sizes.denseRows;
  const cols = 300;
  await guarded('addBias / relu / reluBackward / sumRows', async () => {
    const values = randomValues(rows * cols, seeds.seed++, 3);
    const [xg, xj] = pair(gpu, js, values);
    const [bg, bj] = pair(gpu, js, randomValues(cols, seeds.seed++));
    gpu.addBias(xg, bg, rows, cols);
    js.addBias(xj, bj, rows, cols);
    await sameBits('addBias', gpu, xg, js, xj);
    const [rg, rj] = [gpu.tensor(rows * cols), js.tensor(rows * cols)];
    gpu.relu(xg, rg);
    js.relu(xj, rj);
    await sameBits('relu', gpu, rg, js, rj);
    const [gg, gj] = pair(gpu, js, randomValues(rows * cols, seeds.seed++));
    gpu.reluBackward(gg, xg, rg);
    js.reluBackward(gj, xj, rj);
    await sameBits('reluBackward', gpu, rg, js, rj);
    const [sg, sj] = [gpu.tensor(cols), js.tensor(cols)];
    gpu.sumRows(xg, rows, cols, sg);
    js.sumRows(xj, rows, cols, sj);
    await sameBits('sumRows', gpu, sg, js, sj);
    for (const t of [xg, bg, rg, gg, sg]) gpu.disposeTensor(t);
    for (const t of [xj, bj, rj, gj, sj]) js.disposeTensor(t);
  });
  await guarded('sigmoid / bceWithLogits', async () => {
    const count = rows * 4;
    const logits = randomValues(count, seeds.seed++, 8);
    const labels = Float32Array.from({ length: count }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0));
    const [xg, xj] = pair(gpu, js, logits);
    const [yg, yj] = pair(gpu, js, labels);
    const [pg, pj] = [gpu.tensor(count), js.tensor(count)];
    const [lg, lj] = [gpu.tensor(1), js.tensor(1)];
    const [dg, dj] = [gpu.tensor(count), js.tensor(count)];
    gpu.sigmoid(xg, pg);
    js.sigmoid(xj, pj);
    within('sigmoid', await gpu.read(pg), js.readSync(pj), 5e-7);
    gpu.bceWithLogits(xg, yg, lg, dg);
    js.bceWithLogits(xj, yj, lj, dj);
    const [loss = Number.NaN] = await gpu.read(lg);
    const [reference = Number.NaN] = js.readSync(lj);
    const tolerance = 1e-5 * Math.max(1, Math.abs(reference));
    within('bceWithLogits loss', Float32Array.of(loss), Float32Array.of(reference), tolerance);
    within('bceWithLogits gradient', await gpu.read(dg), js.readSync(dj), 5e-7 / count);
    for (const t of [xg, yg, pg, lg, dg]) gpu.disposeTensor(t);
    for (const t of [xj, yj, pj, lj, dj]) js.disposeTensor(t);
  });
}
