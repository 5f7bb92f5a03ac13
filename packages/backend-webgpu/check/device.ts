// @ts-nocheck -- NOT YET MIGRATED to the v2 Backend contract (tensors, async reads, no CPU copy,
// no readbackEvery/invalidateGpuCopy); it does not run as is. Type checking is off until it is.
/**
 * Device check of @halfstep/backend-webgpu on whatever adapter Dawn (or the browser) gives:
 * bit-identity of every GPU kernel against @halfstep/backend-js / @halfstep/codecs on random
 * inputs, then throughput (encode/decode, embedding training step, GPU part alone and end to end,
 * with backend-js on the same shape for a ratio).
 *
 *   node --conditions=@halfstep/source --import tsx packages/backend-webgpu/check/device.ts \
 *     [--small] [--json out.json] [--skip-bench] [--skip-js] [--require-gpu]
 *     [--rows N] [--bags N] [--readback-every N] [--half-conversion auto|integer|hardware]
 *
 * `--small` shrinks every size so that the whole run takes about a minute on SwiftShader (and
 * reads a table back every 4 GPU updates instead of 16); `--rows` and `--bags` set the training
 * step's table rows and batch bags (of 26 lookups), `--readback-every` the backend's
 * `readbackEvery`, `--half-conversion` the backend's `halfConversion` (default 'auto'; with
 * 'hardware' every check runs the hardware float16 conversions). The training step figures are
 * averages over
 * whole readback periods.
 * Prints plain text; `--json` also writes every figure to a file. Exits 1 when any check fails
 * (or, with `--require-gpu`, when the adapter is a software one such as SwiftShader).
 */
import { writeFileSync } from 'node:fs';
import type { BagUpdate, StorageName, TableHandle, TableSpec } from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import {
  decode,
  encode,
  type RoundingStrategy,
  resolveFormat,
  roundNearestEven,
} from '@halfstep/codecs';
import {
  adagrad,
  adam,
  momentum,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '@halfstep/optim';
import { createEngine, createPhilox } from '@halfstep/rng';
import { stochastic } from '@halfstep/rounding';
import { aggregateRows } from '../src/aggregate.js';
import { GpuRunner } from '../src/gpu.js';
import { groupRows } from '../src/group.js';
import { createWebGpuBackend, type HalfConversionMode, WebGpuBackend } from '../src/index.js';
import { formatParams } from '../src/params.js';
import { DECODE_WGSL, ENCODE_WGSL } from '../src/shaders/kernels.js';
import { updateKernel } from '../src/update.js';
import {
  bitsOf,
  FORMATS,
  ListedThresholds,
  lcg,
  RULES,
  randomBits,
  randomValues,
} from '../test/device.js';
import { compareExact, exactOperands, referenceExact, runExact } from '../test/exact.js';

const args = process.argv.slice(2);
const small = args.includes('--small');
const jsonAt = args.indexOf('--json');
const jsonPath = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const skipBench = args.includes('--skip-bench');
const skipJs = args.includes('--skip-js');
const requireGpu = args.includes('--require-gpu');
const conversionAt = args.indexOf('--half-conversion');
const halfConversion = (conversionAt >= 0 ? args[conversionAt + 1] : 'auto') as HalfConversionMode;
/** The value after flag `name` as a positive integer, or undefined. */
function intFlag(name: string): number | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = Number(args[at + 1]);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name}: expected a positive integer, got ${args[at + 1]}`);
  }
  return value;
}
const rowsFlag = intFlag('--rows');
const bagsFlag = intFlag('--bags');
const readbackFlag = intFlag('--readback-every');

interface CheckResult {
  kernel: string;
  checked: number;
  mismatches: number;
  onGpu: boolean;
  detail?: string;
}
interface BenchResult {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const checks: CheckResult[] = [];
const bench: BenchResult[] = [];

function countDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

function record(r: CheckResult): void {
  checks.push(r);
  const status = r.mismatches === 0 ? 'PASS' : 'FAIL';
  const where = r.onGpu ? '' : ' (CPU fallback)';
  console.log(
    `${status}  ${r.kernel.padEnd(58)} ${String(r.checked).padStart(10)} checked, ${r.mismatches} mismatched${where}${r.detail ? `  ${r.detail}` : ''}`,
  );
}

/** Runs one check, recording a thrown error as a failure. */
async function guarded(kernel: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    record({
      kernel,
      checked: 0,
      mismatches: 1,
      onGpu: true,
      detail: `threw: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
}

/** A random batch: `bags` bags of `perBag` lookups (uniform rows; duplicates likely). */
function batch(rows: number, bags: number, perBag: number, seed: number, weights = false) {
  const next = lcg(seed);
  const indices = Int32Array.from({ length: bags * perBag }, () => Math.floor(next() * rows));
  const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
  const perSampleWeights = weights ? Float32Array.from(indices, () => next() * 4 - 2) : undefined;
  return { indices, offsets, perSampleWeights };
}

const STORAGES: StorageName[] = ['float32', 'float16', 'bfloat16', 'float8e4m3', 'float8e5m2'];

/** The optimizers of @halfstep/optim with the options the check covers. */
function optimizers(): [string, SparseOptimizer][] {
  return [
    ['sgd', sgd({ lr: 0.1 })],
    ['sgd l2 max-norm', sgd({ lr: 0.05, weightDecay: { mode: 'l2', rate: 0.01 }, maxNorm: 0.8 })],
    ['momentum', momentum({ lr: 0.1, momentum: 0.9 })],
    [
      'momentum decoupled f16-state',
      momentum({ lr: 0.1, weightDecay: { mode: 'decoupled', rate: 0.1 }, stateStorage: 'float16' }),
    ],
    ['adagrad', adagrad({ lr: 0.1, initialAccumulator: 0.01 })],
    ['adagrad bf16-state max-norm', adagrad({ lr: 0.1, stateStorage: 'bfloat16', maxNorm: 0.5 })],
    ['rowwise-adagrad', rowwiseAdagrad({ lr: 0.1 })],
    [
      'rowwise-adagrad f16-state l2',
      rowwiseAdagrad({ lr: 0.1, stateStorage: 'float16', weightDecay: { mode: 'l2', rate: 0.02 } }),
    ],
    ['adam', adam({ lr: 0.01 })],
    [
      'adam f16-state decoupled',
      adam({ lr: 0.01, stateStorage: 'float16', weightDecay: { mode: 'decoupled', rate: 0.01 } }),
    ],
    ['adam bf16-state max-norm', adam({ lr: 0.01, stateStorage: 'bfloat16', maxNorm: 1 })],
  ];
}

async function correctness(gpu: WebGpuBackend): Promise<void> {
  const js = new JsBackend();
  const n = small ? 1 << 16 : 1 << 22;
  console.log(`\n== bit identity against @halfstep/backend-js / @halfstep/codecs ==`);
  for (const format of FORMATS) {
    await guarded(`decode ${format} (every code)`, async () => {
      const size = format.startsWith('float8') ? 256 : 65536;
      const codes = size === 256 ? new Uint8Array(size) : new Uint16Array(size);
      for (let i = 0; i < size; i++) codes[i] = i;
      const out = new Float32Array(size);
      await gpu.decodeAsync(format, codes, out);
      record({
        kernel: `decode ${format} (every code)`,
        checked: size,
        mismatches: countDiff(bitsOf(out), bitsOf(decode(format, codes))),
        onGpu: true,
      });
    });
  }
  const src = randomBits(n, 12345);
  for (const format of FORMATS) {
    for (const overflow of ['infinity', 'saturate'] as const) {
      for (const rule of [...RULES, 'stochastic'] as const) {
        const name = `encode ${format} ${rule} overflow=${overflow}`;
        await guarded(name, async () => {
          const [mine, reference]: RoundingStrategy[] =
            rule === 'stochastic'
              ? [new ListedThresholds(7), new ListedThresholds(7)]
              : [{ rule }, { rule }];
          const out = format.startsWith('float8') ? new Uint8Array(n) : new Uint16Array(n);
          await gpu.encodeAsync(format, src, out, mine, overflow);
          const want = encode(format, src, { rounding: reference, overflow });
          record({ kernel: name, checked: n, mismatches: countDiff(out, want), onGpu: true });
        });
      }
    }
  }
  const engines = [
    createPhilox(0x0123456789abcdefn),
    createPhilox(0x55aa55aa12345678n, { rounds: 7 }),
    createEngine('pcg-hash', 0xfedcba9876543210n),
  ];
  for (const format of FORMATS) {
    for (const engine of engines) {
      const name = `encode ${format} stochastic, ${engine.name} bits in WGSL`;
      await guarded(name, async () => {
        // A counter whose low word wraps inside the array.
        const options = { random: { engine, counter: 2 ** 32 - 1001 } };
        const out = format.startsWith('float8') ? new Uint8Array(n) : new Uint16Array(n);
        await gpu.encodeCounterStochasticAsync(format, src, out, options, 'saturate');
        const want = encode(format, src, { rounding: stochastic(options), overflow: 'saturate' });
        record({ kernel: name, checked: n, mismatches: countDiff(out, want), onGpu: true });
      });
    }
  }
  const exactCount = small ? 1 << 21 : 1 << 26;
  for (const op of ['div', 'sqrt'] as const) {
    const name =
      op === 'div'
        ? 'exact float32 division (div_exact)'
        : 'exact float32 square root (sqrt_exact)';
    await guarded(name, async () => {
      let mismatches = 0;
      const examples: string[] = [];
      const chunk = 1 << 22;
      for (let start = 0; start < exactCount; start += chunk) {
        const count = Math.min(chunk, exactCount - start);
        const { x, y } = exactOperands(count, start + (op === 'div' ? 11 : 13));
        const got = await runExact(gpu.device, op, x, y);
        const result = compareExact(x, y, got, referenceExact(op, x, y));
        mismatches += result.mismatches;
        examples.push(...result.examples);
      }
      record({
        kernel: name,
        checked: exactCount,
        mismatches,
        onGpu: true,
        detail: examples.slice(0, 3).join('; ') || undefined,
      });
    });
  }
  let seed = 1;
  const rows = small ? 2000 : 100_000;
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
        const a = gpu.createTable(spec);
        const b = js.createTable(spec);
        const values = randomValues(rows * dim, seed++, 2);
        gpu.writeRows(a, values);
        js.writeRows(b, values);
        const input = batch(rows, small ? 256 : 4096, 26, seed++, weights);
        const got = await gpu.embeddingBagForwardAsync(a, input, pooling);
        const want = js.embeddingBagForward(b, input, pooling);
        record({
          kernel: name,
          checked: want.length,
          mismatches: countDiff(bitsOf(got), bitsOf(want)),
          onGpu: true,
        });
        gpu.disposeTable(a);
        js.disposeTable(b);
      });
    }
  }
  const urows = small ? 500 : 20_000;
  for (const [label, optimizer] of optimizers()) {
    for (const storage of STORAGES) {
      for (const rounding of ['stochastic', 'nearest-even'] as const) {
        if (storage === 'float32' && rounding === 'nearest-even') continue;
        const name = `update ${label} ${storage} ${rounding}`;
        await guarded(name, async () => {
          const udim = 13;
          const spec = tableSpec(storage, urows, udim, optimizer, rounding);
          const a = gpu.createTable(spec);
          const b = js.createTable(spec);
          const values = randomValues(urows * udim, seed++, 1);
          gpu.writeRows(a, values);
          js.writeRows(b, values);
          let mismatches = 0;
          let checked = 0;
          for (let step = 0; step < 3; step++) {
            const input = batch(urows, small ? 64 : 2048, 8, seed++, step === 2);
            const gradOutput = randomValues(input.offsets.length * udim, seed++, 0.5);
            const pooling = step === 1 ? ('mean' as const) : ('sum' as const);
            const u = { input, pooling, gradOutput, step };
            const got = await gpu.embeddingBagBackwardAsync([{ ...u, table: a }]);
            const want = js.embeddingBagBackward([{ ...u, table: b }]);
            if (JSON.stringify(got) !== JSON.stringify(want)) mismatches++;
            const x = await gpu.exportTableAsync(a);
            const y = js.exportTable(b);
            mismatches += countDiff(x.weights, y.weights) + countDiff(x.state, y.state);
            checked += x.weights.length + x.state.length;
          }
          record({ kernel: name, checked, mismatches, onGpu: WebGpuBackend.runsOnGpu(a) });
          gpu.disposeTable(a);
          js.disposeTable(b);
        });
      }
    }
  }
  const m = small ? 64 : 256;
  const k = small ? 96 : 512;
  const nn = small ? 80 : 256;
  for (const [transA, transB] of [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ]) {
    const name = `matmul ${transA ? 'A^T' : 'A'} ${transB ? 'B^T' : 'B'} alpha beta`;
    await guarded(name, async () => {
      const a = randomValues(m * k, seed++);
      const bb = randomValues(k * nn, seed++);
      const c0 = randomValues(m * nn, seed++);
      const c1 = c0.slice();
      const c2 = c0.slice();
      const call = { m, n: nn, k, a, b: bb, transA, transB, alpha: 0.75, beta: 0.5 };
      await gpu.matmulAsync({ ...call, c: c1 });
      js.matmul({ ...call, c: c2 });
      record({
        kernel: name,
        checked: c1.length,
        mismatches: countDiff(bitsOf(c1), bitsOf(c2)),
        onGpu: true,
      });
    });
  }
  const rowsD = small ? 512 : 4096;
  const cols = 300;
  await guarded('addBias / relu / reluBackward / sumRows', async () => {
    const x = randomValues(rowsD * cols, seed++, 3);
    const bias = randomValues(cols, seed++);
    const x1 = x.slice();
    const x2 = x.slice();
    await gpu.addBiasAsync(x1, bias, rowsD, cols);
    js.addBias(x2, bias, rowsD, cols);
    record({
      kernel: 'addBias',
      checked: x1.length,
      mismatches: countDiff(bitsOf(x1), bitsOf(x2)),
      onGpu: true,
    });
    const r1 = new Float32Array(x.length);
    const r2 = new Float32Array(x.length);
    await gpu.reluAsync(x, r1);
    js.relu(x, r2);
    record({
      kernel: 'relu',
      checked: r1.length,
      mismatches: countDiff(bitsOf(r1), bitsOf(r2)),
      onGpu: true,
    });
    const g = randomValues(x.length, seed++);
    await gpu.reluBackwardAsync(g, x, r1);
    js.reluBackward(g, x, r2);
    record({
      kernel: 'reluBackward',
      checked: r1.length,
      mismatches: countDiff(bitsOf(r1), bitsOf(r2)),
      onGpu: true,
    });
    const s1 = new Float32Array(cols);
    const s2 = new Float32Array(cols);
    await gpu.sumRowsAsync(x, rowsD, cols, s1);
    js.sumRows(x, rowsD, cols, s2);
    record({
      kernel: 'sumRows',
      checked: cols,
      mismatches: countDiff(bitsOf(s1), bitsOf(s2)),
      onGpu: true,
    });
  });
  js.dispose();
}

function tableSpec(
  storage: StorageName,
  rows: number,
  dim: number,
  optimizer: SparseOptimizer,
  rounding: 'stochastic' | 'nearest-even' = 'stochastic',
): TableSpec {
  return {
    name: `check-${storage}`,
    index: 2,
    rows,
    dim,
    storage,
    rounding,
    optimizer,
    seed: 0x0123456789abcdefn,
  };
}

/** Seconds per call: the median of 3 rounds, each running `run` until `ms`/3 have passed. */
async function seconds(run: () => Promise<unknown>, ms: number): Promise<number> {
  await run();
  const per: number[] = [];
  for (let round = 0; round < 3; round++) {
    let calls = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      await run();
      calls++;
      elapsed = performance.now() - start;
    } while (elapsed < ms / 3);
    per.push(elapsed / 1000 / calls);
  }
  return per.sort((a, b) => a - b)[1];
}

function report(name: string, value: number, unit: string, note?: string): void {
  bench.push({ name, value, unit, note });
  const shown = value >= 100 ? value.toFixed(0) : value.toPrecision(3);
  console.log(`${name.padEnd(64)} ${shown.padStart(12)} ${unit}${note ? `  (${note})` : ''}`);
}

async function throughput(gpu: WebGpuBackend): Promise<void> {
  console.log(`\n== throughput ==`);
  const ms = small ? 600 : 3000;
  const n = small ? 1 << 20 : 1 << 26;
  const values = randomValues(n, 99, 0.05);
  const codes = new Uint16Array(n);
  const back = new Float32Array(n);
  const gb = (bytes: number, s: number) => bytes / s / 1e9;
  const gv = (s: number) => `${(n / s / 1e9).toFixed(3)} Gvalues/s`;
  // Kernels alone: inputs resident on the GPU, one submission per call.
  const f16 = formatParams(resolveFormat('float16'), false);
  const encodeParams = f16.slice();
  encodeParams[16] = n;
  const philoxParams = encodeParams.slice();
  philoxParams.set([6, 2, 13, 2, 0x89abcdef, 0x01234567, 10], 17);
  const decodeParams = f16.slice();
  decodeParams[16] = n;
  const runner = new GpuRunner(gpu.device);
  const srcBuffer = runner.persistentWith(values);
  const codeBuffer = runner.persistent(2 * n);
  const valueBuffer = runner.persistent(4 * n);
  const dummy = runner.persistentWith(new Uint32Array(1));
  const kernels: [string, string, Uint32Array, GPUBuffer[], number][] = [
    [
      'encode float16 nearest-even',
      ENCODE_WGSL,
      encodeParams,
      [srcBuffer, dummy, codeBuffer],
      n / 2,
    ],
    [
      'encode float16 stochastic, Philox4x32-10 bits in WGSL',
      ENCODE_WGSL,
      philoxParams,
      [srcBuffer, dummy, codeBuffer],
      n / 2,
    ],
    ['decode float16', DECODE_WGSL, decodeParams, [codeBuffer, valueBuffer], n],
  ];
  for (const [name, source, params, buffers, invocations] of kernels) {
    const p = runner.persistentWith(params);
    const key = source === DECODE_WGSL ? 'decode' : 'encode';
    const t = await kernelSeconds(runner, key, source, [p, ...buffers], invocations, ms);
    report(`${name}, ${n} values, kernel alone`, gb(6 * n, t), 'GB/s', gv(t));
    p.destroy();
  }
  for (const b of [srcBuffer, codeBuffer, valueBuffer, dummy]) b.destroy();
  runner.destroy();
  const enc = await seconds(() => gpu.encodeAsync('float16', values, codes, roundNearestEven), ms);
  report(
    `encode float16 nearest-even, ${n} values, end to end`,
    gb(6 * n, enc),
    'GB/s',
    `${gv(enc)}, upload + readback included`,
  );
  const philox = { random: { engine: createPhilox(1n), counter: 0 } };
  const encP = await seconds(
    () => gpu.encodeCounterStochasticAsync('float16', values, codes, philox),
    ms,
  );
  report(
    `encode float16 stochastic (Philox in WGSL), end to end`,
    gb(6 * n, encP),
    'GB/s',
    gv(encP),
  );
  const dec = await seconds(() => gpu.decodeAsync('float16', codes, back), ms);
  report(`decode float16, ${n} values, end to end`, gb(6 * n, dec), 'GB/s', gv(dec));
  const js = new JsBackend();
  const encJs = await seconds(
    async () => js.encode('float16', values, codes, roundNearestEven),
    ms,
  );
  report(`encode float16 nearest-even on backend-js`, gb(6 * n, encJs), 'GB/s', gv(encJs));
  const decJs = await seconds(async () => js.decode('float16', codes, back), ms);
  report(`decode float16 on backend-js`, gb(6 * n, decJs), 'GB/s', gv(decJs));

  // The training step at a large shape.
  const rows = rowsFlag ?? (small ? 200_000 : 4_000_000);
  const dim = 64;
  const bags = bagsFlag ?? (small ? 256 : 16384);
  const perBag = 26;
  const input = batch(rows, bags, perBag, 5);
  const gradOutput = randomValues(bags * dim, 6, 0.01);
  const initial = randomValues(rows * dim, 7, 0.1);
  let step = 0;
  const update = (table: TableHandle): BagUpdate => ({
    table,
    input,
    pooling: 'sum',
    gradOutput,
    step: step++,
  });
  const spec = tableSpec('float16', rows, dim, sgd({ lr: 0.01 }));
  const t = gpu.createTable(spec);
  gpu.writeRows(t, initial);
  const agg = aggregateRows(update(t));
  const unique = agg.rows.length;
  console.log(
    `training step: ${rows} x ${dim} float16 table, stochastic rounding, ${bags} bags x ${perBag} lookups (${unique} distinct rows)`,
  );
  // GPU part alone, per optimizer: the fused update on GPU-resident inputs.
  const kinds: [string, SparseOptimizer][] = [
    ['SGD', sgd({ lr: 0.01 })],
    ['row-wise Adagrad', rowwiseAdagrad({ lr: 0.01 })],
    ['Adam, float16 state', adam({ lr: 0.001, stateStorage: 'float16' })],
  ];
  let sgdGpu = 0;
  const limit = gpu.device.limits.maxStorageBufferBindingSize;
  for (const [label, optimizer] of kinds) {
    const table = label === 'SGD' ? t : gpu.createTable({ ...spec, name: label, optimizer });
    if (table !== t && table.stateBytes > limit) {
      console.log(
        `  (${label}: state of ${table.stateBytes} bytes exceeds the binding limit; skipped)`,
      );
      gpu.disposeTable(table);
      continue;
    }
    const s = await gpuUpdateSeconds(gpu, table, agg.rows, agg.grads, ms);
    const stateBytes = table.stateBytes / rows;
    // Bytes the kernel moves: weights and state read and written, gradients read, row index.
    const bytes = unique * (dim * 2 * 2 + stateBytes * 2 + dim * 4 + 4);
    report(
      `fused update kernel alone, ${label}`,
      unique / s,
      'row-updates/s',
      `${(s * 1e3).toFixed(3)} ms/step, ${gb(bytes, s).toFixed(1)} GB/s effective`,
    );
    bench.push({
      name: `fused update kernel alone, ${label}, effective bandwidth`,
      value: gb(bytes, s),
      unit: 'GB/s',
    });
    if (label === 'SGD') sgdGpu = s;
    if (table !== t) gpu.disposeTable(table);
  }
  // The CPU's part of every GPU step: grouping the batch's lookups by row.
  const grouping = await seconds(async () => groupRows(update(t)), ms);
  report(
    'CPU grouping of the batch by row (groupRows)',
    input.indices.length / grouping,
    'lookups/s',
    `${(grouping * 1e3).toFixed(1)} ms/step, ${input.indices.length} lookups, ${rows} rows`,
  );
  // Whole readback periods, so that each figure includes its share of the table's readback
  // (a period beyond 64 steps is not averaged over whole periods).
  const period = Math.max(1, gpu.readbackEvery);
  const cycle = Math.min(64, period);
  const readbackNote =
    period <= 64
      ? `a whole-table readback every ${period} steps included`
      : `a whole-table readback every ${period} steps, not averaged over whole periods`;
  const full =
    (await seconds(async () => {
      for (let i = 0; i < cycle; i++) {
        await gpu.embeddingBagForwardAsync(t, input, 'sum');
        await gpu.embeddingBagBackwardAsync([update(t)]);
      }
    }, ms)) / cycle;
  report(
    'training step end to end, SGD (forward + backward, webgpu)',
    unique / full,
    'row-updates/s',
    `${(full * 1e3).toFixed(1)} ms/step, CPU grouping, uploads and ${readbackNote}`,
  );
  const backward =
    (await seconds(async () => {
      for (let i = 0; i < cycle; i++) await gpu.embeddingBagBackwardAsync([update(t)]);
    }, ms)) / cycle;
  report(
    'backward alone end to end, SGD (webgpu)',
    unique / backward,
    'row-updates/s',
    `${(backward * 1e3).toFixed(1)} ms/step, ${readbackNote}`,
  );
  const fwd = await seconds(() => gpu.embeddingBagForwardAsync(t, input, 'sum'), ms);
  report(
    'forward alone end to end (webgpu)',
    (bags * perBag) / fwd,
    'lookups/s',
    `${(fwd * 1e3).toFixed(1)} ms/step`,
  );
  gpu.disposeTable(t);
  if (!skipJs) {
    const b = js.createTable(spec);
    js.writeRows(b, initial);
    const cpu = await seconds(async () => {
      js.embeddingBagForward(b, input, 'sum');
      js.embeddingBagBackward([update(b)]);
    }, ms);
    report(
      'training step on backend-js, SGD (forward + backward)',
      unique / cpu,
      'row-updates/s',
      `${(cpu * 1e3).toFixed(1)} ms/step`,
    );
    report('ratio: webgpu end to end / backend-js', cpu / full, 'x');
    report('ratio: webgpu update kernel alone / backend-js step', cpu / sgdGpu, 'x');
    js.disposeTable(b);
  }
  js.dispose();
}

/**
 * Seconds per run of one kernel on GPU-resident buffers: `repeats` dispatches (one compute pass
 * each) in one submission, then waiting for the queue to drain (and for the error scopes); repeats grow until a run takes `ms`/2.
 */
async function kernelSeconds(
  runner: GpuRunner,
  key: string,
  source: string,
  buffers: GPUBuffer[],
  invocations: number,
  ms: number,
): Promise<number> {
  const once = async (repeats: number) => {
    for (let i = 0; i < repeats; i++) runner.dispatch(key, () => source, buffers, invocations);
    const submitted = runner.submit();
    await runner.device.queue.onSubmittedWorkDone();
    await submitted;
  };
  await once(2);
  let repeats = 2;
  for (;;) {
    const start = performance.now();
    await once(repeats);
    const elapsed = performance.now() - start;
    if (elapsed > ms / 2 || repeats >= 4096) return elapsed / 1000 / repeats;
    repeats *= 4;
  }
}

/**
 * Seconds per fused update on the GPU alone: the table's GPU buffers, rows and gradients uploaded
 * once, then the update kernel dispatched again and again (see `kernelSeconds`). The CPU copy
 * stays the reference: the GPU copy is marked for re-upload.
 */
async function gpuUpdateSeconds(
  gpu: WebGpuBackend,
  table: TableHandle,
  rows: Uint32Array,
  grads: Float32Array,
  ms: number,
): Promise<number> {
  const runner = new GpuRunner(gpu.device);
  const buffers = gpu.gpuBuffersOf(table);
  const kernel = updateKernel(table, rows.length, 0);
  const params = runner.persistentWith(kernel.params);
  const rowBuffer = runner.persistentWith(rows);
  const gradBuffer = runner.persistentWith(grads);
  const stateParams = kernel.stateParams && runner.persistentWith(kernel.stateParams);
  // Word 0 clear: no non-finite row stops the update.
  const status = runner.persistentWith(new Uint32Array(1));
  const bindings = kernel.bindings(
    params,
    rowBuffer,
    gradBuffer,
    buffers.weights,
    status,
    buffers.state,
    stateParams,
  );
  const source = kernel.source();
  const s = await kernelSeconds(runner, kernel.key, source, bindings, kernel.invocations, ms);
  gpu.invalidateGpuCopy(table);
  for (const b of [params, rowBuffer, gradBuffer, status, stateParams]) b?.destroy();
  runner.destroy();
  return s;
}

async function main(): Promise<void> {
  const started = performance.now();
  const gpu = await createWebGpuBackend({
    powerPreference: 'high-performance',
    // --small: a shorter readback period, so that whole periods fit the short measurements.
    readbackEvery: readbackFlag ?? (small ? 4 : undefined),
    halfConversion,
  });
  console.log(`adapter: ${JSON.stringify(gpu.adapter)}`);
  console.log(`float16 conversions: ${JSON.stringify(gpu.halfConversion)}`);
  console.log(`VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? '(unset)'}`);
  const software = /swiftshader|llvmpipe|lavapipe/i.test(
    `${gpu.adapter.vendor} ${gpu.adapter.architecture} ${gpu.adapter.description}`,
  );
  if (software) {
    console.log('WARNING: a software adapter (CPU): the throughput figures say nothing about GPUs');
    if (requireGpu) {
      gpu.dispose();
      console.log('FAIL: --require-gpu and the adapter is a software one');
      process.exitCode = 1;
      return;
    }
  }
  console.log(
    `limits: maxStorageBufferBindingSize=${gpu.device.limits.maxStorageBufferBindingSize} maxBufferSize=${gpu.device.limits.maxBufferSize}`,
  );
  console.log(`mode: ${small ? 'small' : 'full'}  node ${process.version}`);
  try {
    await correctness(gpu);
    if (!skipBench) await throughput(gpu);
  } finally {
    gpu.dispose();
  }
  const failed = checks.filter((c) => c.mismatches > 0);
  for (const c of failed) console.log(`FAILED: ${c.kernel} (${c.mismatches} mismatched)`);
  const total = checks.reduce((s, c) => s + c.checked, 0);
  console.log(
    `\n${failed.length === 0 ? 'ALL PASS' : `${failed.length} FAILED`}: ${checks.length} checks, ${total} values compared, ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  if (jsonPath) {
    writeFileSync(
      jsonPath,
      `${JSON.stringify(
        {
          adapter: gpu.adapter,
          halfConversion: gpu.halfConversion,
          small,
          node: process.version,
          checks,
          bench,
          passed: failed.length === 0,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`wrote ${jsonPath}`);
  }
  process.exitCode = failed.length === 0 ? 0 : 1;
}

await main();
