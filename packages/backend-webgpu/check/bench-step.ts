import type { BagUpdate, TableHandle } from '@halfstep/backend';
import type { JsBackend } from '@halfstep/backend-js';
import { adam, rowwiseAdagrad, type SparseOptimizer, sgd } from '@halfstep/optim';
import { GpuRunner } from '../src/gpu.js';
import { groupRows } from '../src/group.js';
import type { WebGpuBackend } from '../src/index.js';
import { STATUS } from '../src/shaders/aggregate.js';
import { updateKernel } from '../src/update.js';
import { randomValues } from '../test/device.js';
import { tableSpec, uniformBatch } from './cases.js';
import { type BenchResult, report } from './results.js';
import { kernelSeconds, type Timed, timeSteps } from './timing.js';

/** The training step's shape: a float16 table of rows x 64, bags of 26 lookups. */
export interface StepShape {
  readonly rows: number;
  readonly dim: number;
  readonly bags: number;
  readonly perBag: number;
  /** Distinct rows of the batch (the rows every step updates). */
  readonly distinctRows: number;
  /** Bytes of the batch's indices and offsets: what a step must upload at least. */
  readonly batchBytes: number;
  /** Steps enqueued between two `flush()` calls in the pipelined timings. */
  readonly flushEvery: number;
}

/**
 * Seconds per fused update on the GPU alone: its compute and store passes, each dispatched again
 * and again (see `kernelSeconds`) on the table's own buffers (`gpuBuffersOf`) with the batch's
 * distinct rows and made-up summed gradients uploaded once (the compute pass overwrites them
 * with the new weights, which stay small, so later runs do the same work). The table's weights
 * change: use a table of its own.
 */
async function updateKernelSeconds(
  gpu: WebGpuBackend,
  table: TableHandle,
  rows: Uint32Array,
  ms: number,
): Promise<number> {
  const runner = new GpuRunner(gpu.device);
  runner.conversion = gpu.halfConversion.flavor;
  const buffers = gpu.gpuBuffersOf(table);
  // 'skip-rows', so that a repeated compute pass never aborts the store pass.
  const kernel = updateKernel(table, rows.length, 0, { policyError: false, statusBase: 1 });
  const params = runner.persistentWith(kernel.params);
  const rowBuffer = runner.persistentWith(rows);
  const gradBuffer = runner.persistentWith(randomValues(rows.length * table.dim, 8, 0.01));
  const stateParams = kernel.stateParams && runner.persistentWith(kernel.stateParams);
  const fresh = kernel.freshBytes > 0 ? runner.persistent(kernel.freshBytes) : null;
  // Word 0 clear: nothing stops the update.
  const status = runner.persistentWith(new Uint32Array(1 + STATUS.words));
  try {
    const bindings = kernel.bindings(
      params,
      rowBuffer,
      gradBuffer,
      buffers.weights,
      status,
      buffers.state,
      stateParams,
      fresh,
    );
    let seconds = 0;
    for (const pass of [kernel.compute, kernel.store]) {
      seconds += await kernelSeconds(runner, pass.key, pass.source, bindings, pass.invocations, ms);
    }
    return seconds;
  } finally {
    for (const b of [params, rowBuffer, gradBuffer, status, stateParams, fresh]) b?.destroy();
    runner.destroy();
  }
}

/** A timed step's figure: row-updates (or lookups) per second, ms per step, traffic per step. */
function stepFigure(name: string, perStep: number, unit: string, t: Timed, note = ''): BenchResult {
  const ms = t.seconds * 1e3;
  return {
    name,
    value: perStep / t.seconds,
    unit,
    note: `${ms.toFixed(ms >= 10 ? 1 : 3)} ms/step${note}`,
    msPerStep: ms,
    traffic: t.traffic,
  };
}

/**
 * The embedding training step at `shape` on a float16 table with stochastic rounding: the fused
 * update kernel alone (SGD, row-wise Adagrad, Adam with float16 state), the host's grouping of
 * the batch by row, then the step end to end through the backend: awaited step by step,
 * pipelined (`flush()` every `flushEvery` steps), the backward alone and the forward alone, each
 * with its traffic per step from `stats()`; then on `@halfstep/backend-js` (unless `js` is null)
 * for ratios.
 */
export async function benchStep(
  gpu: WebGpuBackend,
  js: JsBackend | null,
  shape: Omit<StepShape, 'distinctRows' | 'batchBytes'>,
  ms: number,
): Promise<StepShape> {
  const { rows, dim, bags, perBag, flushEvery } = shape;
  const input = uniformBatch(rows, bags, perBag, 5);
  const grads = randomValues(bags * dim, 6, 0.01);
  const initial = randomValues(rows * dim, 7, 0.1);
  const spec = tableSpec('float16', rows, dim, sgd({ lr: 0.01 }));
  const t = gpu.createTable({ ...spec, init: initial });
  const gradOutput = gpu.tensor(grads);
  const out = gpu.tensor(bags * dim);
  let step = 0;
  const update = (table: TableHandle, g = gradOutput): BagUpdate => ({
    table,
    input,
    pooling: 'sum',
    gradOutput: g,
    step: step++,
  });
  const groups = groupRows(update(t));
  if (groups === null) throw new Error('the batch cannot be grouped');
  const unique = groups.rows.length;
  const batchBytes = input.indices.byteLength + input.offsets.byteLength;
  const full: StepShape = { ...shape, distinctRows: unique, batchBytes };
  console.log(
    `training step: ${rows} x ${dim} float16 table, stochastic rounding, ${bags} bags x ${perBag} lookups (${unique} distinct rows; the batch is ${batchBytes} bytes)`,
  );
  // The fused update kernel alone, per optimizer, on a table of its own.
  const kinds: [string, SparseOptimizer][] = [
    ['SGD', sgd({ lr: 0.01 })],
    ['row-wise Adagrad', rowwiseAdagrad({ lr: 0.01 })],
    ['Adam, float16 state', adam({ lr: 0.001, stateStorage: 'float16' })],
  ];
  let sgdKernel = 0;
  for (const [label, optimizer] of kinds) {
    let table: TableHandle;
    try {
      table = gpu.createTable({ ...spec, name: label, optimizer });
    } catch (error) {
      console.log(`  (${label}: ${error instanceof Error ? error.message : error}; skipped)`);
      continue;
    }
    const s = await updateKernelSeconds(gpu, table, groups.rows, ms);
    const stateBytes = table.stateBytes / rows;
    const stateSize = optimizer.stateSize(dim);
    // Bytes the passes move: weights and state read and written, gradients read, the new float32
    // weights and state written and read back, the row index read twice.
    const bytes = unique * (dim * 2 * 2 + stateBytes * 2 + dim * 4 * 3 + stateSize * 4 * 2 + 8);
    const gbs = bytes / s / 1e9;
    report({
      name: `fused update kernel alone, ${label}`,
      value: unique / s,
      unit: 'row-updates/s',
      note: `${(s * 1e3).toFixed(3)} ms/step, ${gbs.toFixed(1)} GB/s effective`,
      msPerStep: s * 1e3,
    });
    report({
      name: `fused update kernel alone, ${label}, effective bandwidth`,
      value: gbs,
      unit: 'GB/s',
    });
    if (label === 'SGD') sgdKernel = s;
    gpu.disposeTable(table);
  }
  // The host's part of every GPU backward: grouping the batch's lookups by row.
  const grouping = await timeSteps(async () => groupRows(update(t)), ms);
  report({
    name: 'host grouping of the batch by row (groupRows)',
    value: input.indices.length / grouping.seconds,
    unit: 'lookups/s',
    note: `${(grouping.seconds * 1e3).toFixed(1)} ms/step, ${input.indices.length} lookups, ${rows} rows`,
    msPerStep: grouping.seconds * 1e3,
  });
  // The step end to end, through the backend, with its traffic from stats().
  const awaited = await timeSteps(
    async () => {
      gpu.embeddingBagForward(t, input, 'sum', out);
      await gpu.embeddingBagBackward([update(t)]);
    },
    ms,
    { source: gpu },
  );
  report(
    stepFigure(
      'training step, each result awaited (forward + backward, webgpu)',
      unique,
      'row-updates/s',
      awaited,
      ', host grouping, uploads and the status read included',
    ),
  );
  const pipelined = await timeSteps(
    async () => {
      for (let i = 0; i < flushEvery; i++) {
        gpu.embeddingBagForward(t, input, 'sum', out);
        gpu.embeddingBagBackward([update(t)]);
      }
      await gpu.flush();
    },
    ms,
    { source: gpu, steps: flushEvery },
  );
  report(
    stepFigure(
      `training step, pipelined, flush() every ${flushEvery} (webgpu)`,
      unique,
      'row-updates/s',
      pipelined,
      ', results not awaited; flush() reports them',
    ),
  );
  const backward = await timeSteps(
    async () => {
      for (let i = 0; i < flushEvery; i++) gpu.embeddingBagBackward([update(t)]);
      await gpu.flush();
    },
    ms,
    { source: gpu, steps: flushEvery },
  );
  report(
    stepFigure(
      `backward alone, pipelined, flush() every ${flushEvery} (webgpu)`,
      unique,
      'row-updates/s',
      backward,
    ),
  );
  const forward = await timeSteps(
    async () => {
      for (let i = 0; i < flushEvery; i++) gpu.embeddingBagForward(t, input, 'sum', out);
      await gpu.flush();
    },
    ms,
    { source: gpu, steps: flushEvery },
  );
  report(
    stepFigure(
      `forward alone, pipelined, flush() every ${flushEvery} (webgpu)`,
      bags * perBag,
      'lookups/s',
      forward,
    ),
  );
  gpu.disposeTensor(out);
  gpu.disposeTensor(gradOutput);
  gpu.disposeTable(t);
  if (js === null) return full;
  const b = js.createTable({ ...spec, init: initial });
  const jsGrad = js.tensor(grads);
  const jsOut = js.tensor(bags * dim);
  const cpu = await timeSteps(
    async () => {
      js.embeddingBagForward(b, input, 'sum', jsOut);
      await js.embeddingBagBackward([update(b, jsGrad)]);
    },
    ms,
    { source: js },
  );
  report(
    stepFigure(
      'training step on backend-js, SGD (forward + backward)',
      unique,
      'row-updates/s',
      cpu,
    ),
  );
  const best = Math.min(awaited.seconds, pipelined.seconds);
  report({
    name: 'ratio: webgpu step end to end (best) / backend-js',
    value: cpu.seconds / best,
    unit: 'x',
  });
  if (sgdKernel > 0) {
    report({
      name: 'ratio: webgpu update kernel alone / backend-js step',
      value: cpu.seconds / sgdKernel,
      unit: 'x',
    });
  }
  js.disposeTensor(jsGrad);
  js.disposeTensor(jsOut);
  js.disposeTable(b);
  return full;
}
