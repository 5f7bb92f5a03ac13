import type { BagInput, TableSpec } from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import { roundNearestEven } from '@halfstep/codecs';
import { sgd } from '@halfstep/optim';
import { createPhilox } from '@halfstep/rng';
import { stochastic } from '@halfstep/rounding';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CpuThresholds,
  cpuThresholdsOf,
  createWebGpuBackend,
  SMALL_WORK_KERNELS,
  SMALL_WORK_START,
  type WebGpuBackend,
} from '../src/index.js';
import { bitsOf, lcg, openDevice, randomValues } from './device.js';

const device = await openDevice();
const gpu = device.backend;
afterAll(() => gpu?.dispose());

const T = { timeout: 30_000 };

/** Every kernel on the CPU (work is always below 1e12). */
const HUGE: CpuThresholds = {
  encode: 1e12,
  decode: 1e12,
  forward: 1e12,
  readRows: 1e12,
  matmul: 1e12,
  elementwise: 1e12,
};

function spec(rows: number, dim: number): TableSpec {
  return {
    name: 'placed',
    index: 5,
    rows,
    dim,
    storage: 'float16',
    rounding: 'stochastic',
    optimizer: sgd({ lr: 0.1 }),
    seed: 0x0123456789abcdefn,
  };
}

function bags(rows: number, count: number, seed: number): BagInput {
  const next = lcg(seed);
  const offsets = Int32Array.from({ length: count }, (_, b) => 3 * b);
  const indices = Int32Array.from({ length: 3 * count }, () => Math.floor(next() * rows));
  return { indices, offsets };
}

/** Opens a backend for one test, or fails in CI / returns undefined when there is no GPU. */
async function open(options: Parameters<typeof createWebGpuBackend>[0]) {
  if (!gpu) {
    if (device.required) throw new Error(`no WebGPU adapter in CI: ${device.reason}`);
    return undefined;
  }
  return createWebGpuBackend(options);
}

describe('the smallWorkOnCpu option', () => {
  it('rejects unknown kernels and bad thresholds with a RangeError, before opening a device', async () => {
    await expect(createWebGpuBackend({ smallWorkOnCpu: { bogus: 1 } as never })).rejects.toThrow(
      /^smallWorkOnCpu\.bogus: unknown kernel .*got 1$/,
    );
    await expect(createWebGpuBackend({ smallWorkOnCpu: { encode: -1 } })).rejects.toThrow(
      new RangeError('smallWorkOnCpu.encode: expected a non-negative number, got -1'),
    );
    await expect(createWebGpuBackend({ smallWorkOnCpu: { matmul: Number.NaN } })).rejects.toThrow(
      new RangeError('smallWorkOnCpu.matmul: expected a non-negative number, got NaN'),
    );
    await expect(createWebGpuBackend({ smallWorkOnCpu: { decode: '5' } as never })).rejects.toThrow(
      new RangeError('smallWorkOnCpu.decode: expected a non-negative number, got 5'),
    );
    await expect(createWebGpuBackend({ smallWorkOnCpu: 'always' as never })).rejects.toThrow(
      RangeError,
    );
  });

  it('fills the kernels it leaves out with 0 (everything on the GPU by default)', () => {
    expect(cpuThresholdsOf({ encode: 100, matmul: Number.POSITIVE_INFINITY })).toEqual({
      encode: 100,
      decode: 0,
      forward: 0,
      readRows: 0,
      matmul: Number.POSITIVE_INFINITY,
      elementwise: 0,
    });
    for (const value of [undefined, 'measure'] as const) {
      expect(Object.values(cpuThresholdsOf(value))).toEqual(SMALL_WORK_KERNELS.map(() => 0));
    }
    if (gpu) expect(Object.values(gpu.cpuThresholds).every((t) => t === 0)).toBe(true);
  });
});

/** Runs every small-work kernel once on `backend` and on the JS backend; expects equal bits. */
async function everyKernel(backend: WebGpuBackend): Promise<number> {
  const js = new JsBackend();
  let calls = 0;
  const src = randomValues(300, 1, 70000);
  src.set([0, -0, Number.NaN, Number.POSITIVE_INFINITY, 6.1e-5, 3e-8]);
  const mine = new Uint16Array(src.length);
  const want = new Uint16Array(src.length);
  await backend.encodeAsync('float16', src, mine, roundNearestEven, 'saturate');
  js.encode('float16', src, want, roundNearestEven, 'saturate');
  expect(mine).toEqual(want);
  const philox = () => ({ random: { engine: createPhilox(9n), counter: 5 }, bits: 8 });
  await backend.encodeAsync('float16', src, mine, stochastic(philox()));
  js.encode('float16', src, want, stochastic(philox()));
  expect(mine).toEqual(want);
  await backend.encodeCounterStochasticAsync('float16', src, mine, philox());
  js.encode('float16', src, want, stochastic(philox()));
  expect(mine).toEqual(want);
  calls += 3;

  const codes = Uint16Array.from({ length: 500 }, (_, i) => i * 131);
  const decoded = new Float32Array(codes.length);
  await backend.decodeAsync('float16', codes, decoded);
  const reference = new Float32Array(codes.length);
  js.decode('float16', codes, reference);
  expect(bitsOf(decoded)).toEqual(bitsOf(reference));
  calls += 1;

  const a = backend.createTable(spec(40, 7));
  const b = js.createTable(spec(40, 7));
  const values = randomValues(40 * 7, 2, 4);
  backend.writeRows(a, values);
  js.writeRows(b, values);
  const input = bags(40, 9, 3);
  for (const pooling of ['sum', 'mean'] as const) {
    const got = await backend.embeddingBagForwardAsync(a, input, pooling);
    expect(bitsOf(got)).toEqual(bitsOf(js.embeddingBagForward(b, input, pooling)));
  }
  const rows = Int32Array.of(39, 0, 5, 5);
  expect(bitsOf(await backend.readRowsAsync(a, rows))).toEqual(bitsOf(js.readRows(b, rows)));
  expect(bitsOf(await backend.readRowsAsync(a))).toEqual(bitsOf(js.readRows(b)));
  backend.disposeTable(a);
  calls += 4;

  const [m, n, k] = [5, 6, 7];
  const args = { m, n, k, a: randomValues(m * k, 4), b: randomValues(k * n, 5), transB: true };
  const c0 = randomValues(m * n, 6);
  const c1 = c0.slice();
  const c2 = c0.slice();
  await backend.matmulAsync({ ...args, c: c1, alpha: 0.5, beta: 0.25 });
  js.matmul({ ...args, c: c2, alpha: 0.5, beta: 0.25 });
  expect(bitsOf(c1)).toEqual(bitsOf(c2));
  calls += 1;

  const x = randomValues(6 * 4, 7, 3);
  x.set([0, -0, Number.NaN]);
  const bias = randomValues(4, 8);
  const grad = randomValues(x.length, 9);
  const out1 = new Float32Array(x.length);
  const out2 = new Float32Array(x.length);
  await backend.reluAsync(x, out1);
  js.relu(x, out2);
  expect(bitsOf(out1)).toEqual(bitsOf(out2));
  await backend.reluBackwardAsync(grad, x, out1);
  js.reluBackward(grad, x, out2);
  expect(bitsOf(out1)).toEqual(bitsOf(out2));
  const y1 = grad.slice();
  const y2 = grad.slice();
  await backend.addBiasAsync(y1, bias, 6, 4);
  js.addBias(y2, bias, 6, 4);
  expect(bitsOf(y1)).toEqual(bitsOf(y2));
  const s1 = new Float32Array(4);
  const s2 = new Float32Array(4);
  await backend.sumRowsAsync(grad, 6, 4, s1);
  js.sumRows(grad, 6, 4, s2);
  expect(bitsOf(s1)).toEqual(bitsOf(s2));
  calls += 4;
  js.dispose();
  return calls;
}

describe.skipIf(!gpu && !device.required)('small work on the CPU copy', () => {
  it('runs every kernel below a huge threshold on the CPU, bit-identically', T, async () => {
    const backend = await open({ smallWorkOnCpu: HUGE });
    if (!backend) return;
    try {
      expect(backend.cpuThresholds).toEqual(HUGE);
      expect(backend.placements).toEqual({ gpu: 0, cpu: 0 });
      const calls = await everyKernel(backend);
      expect(backend.placements).toEqual({ gpu: 0, cpu: calls });
      // Bad arguments still get the GPU path's errors, before anything runs.
      await expect(
        backend.decodeAsync('float16', new Uint16Array(3), new Float32Array(2)),
      ).rejects.toThrow(RangeError);
      await expect(
        backend.matmulAsync({
          m: 2,
          n: 2,
          k: 2,
          a: new Float32Array(3),
          b: new Float32Array(4),
          c: new Float32Array(4),
        }),
      ).rejects.toThrow('a: expected a Float32Array of at least 4 values, got 3');
      await expect(backend.reluAsync(new Float32Array(4), new Float32Array(3))).rejects.toThrow(
        RangeError,
      );
      expect(backend.placements).toEqual({ gpu: 0, cpu: calls });
    } finally {
      backend.dispose();
    }
  });

  it('runs every kernel on the GPU with thresholds 0 (the default)', T, async () => {
    const backend = await open({});
    if (!backend) return;
    try {
      const calls = await everyKernel(backend);
      expect(backend.placements).toEqual({ gpu: calls, cpu: 0 });
    } finally {
      backend.dispose();
    }
  });

  it('moves a kernel only below its own threshold (work < threshold)', T, async () => {
    const backend = await open({ smallWorkOnCpu: { elementwise: 24 } });
    if (!backend) return;
    try {
      const x = randomValues(24, 1);
      const out = new Float32Array(24);
      await backend.reluAsync(x, out); // 24 elements: not below 24
      expect(backend.placements).toEqual({ gpu: 1, cpu: 0 });
      await backend.reluAsync(x.subarray(0, 23), out); // 23: below
      expect(backend.placements).toEqual({ gpu: 1, cpu: 1 });
      await backend.matmulAsync({ m: 1, n: 1, k: 1, a: x, b: x, c: out }); // matmul: 0
      expect(backend.placements).toEqual({ gpu: 2, cpu: 1 });
    } finally {
      backend.dispose();
    }
  });

  it(
    'keeps forward and readRows on the GPU while a GPU update waits for the CPU copy',
    T,
    async () => {
      const backend = await open({ smallWorkOnCpu: HUGE, readbackEvery: 16 });
      if (!backend) return;
      const js = new JsBackend();
      try {
        const a = backend.createTable(spec(30, 5));
        const b = js.createTable(spec(30, 5));
        const values = randomValues(30 * 5, 11, 2);
        backend.writeRows(a, values);
        js.writeRows(b, values);
        const input = bags(30, 6, 12);
        const gradOutput = randomValues(6 * 5, 13);
        const update = { input, pooling: 'sum', gradOutput, step: 0 } as const;
        await backend.embeddingBagBackwardAsync([{ ...update, table: a }]);
        js.embeddingBagBackward([{ ...update, table: b }]);
        const before = backend.placements;
        const got = await backend.embeddingBagForwardAsync(a, input, 'sum');
        expect(bitsOf(got)).toEqual(bitsOf(js.embeddingBagForward(b, input, 'sum')));
        expect(bitsOf(await backend.readRowsAsync(a))).toEqual(bitsOf(js.readRows(b)));
        expect(backend.placements).toEqual({ gpu: before.gpu + 2, cpu: before.cpu });
        // Once the CPU copy caught up, the small calls move to it.
        await backend.syncCpuCopyAsync(a);
        const again = await backend.embeddingBagForwardAsync(a, input, 'sum');
        expect(bitsOf(again)).toEqual(bitsOf(got));
        expect(bitsOf(await backend.readRowsAsync(a))).toEqual(bitsOf(js.readRows(b)));
        expect(backend.placements).toEqual({ gpu: before.gpu + 2, cpu: before.cpu + 2 });
      } finally {
        js.dispose();
        backend.dispose();
      }
    },
  );

  it("measures the thresholds ('measure' at creation, measureCpuThresholds) and applies them", {
    timeout: 60_000,
  }, async () => {
    const backend = await open({ smallWorkOnCpu: 'measure' });
    if (!backend) return;
    try {
      const measured = backend.cpuThresholds;
      expect(Object.keys(measured).sort()).toEqual([...SMALL_WORK_KERNELS].sort());
      for (const kernel of SMALL_WORK_KERNELS) {
        expect(Number.isFinite(measured[kernel])).toBe(true);
        expect(measured[kernel]).toBeGreaterThanOrEqual(SMALL_WORK_START);
      }
      expect(backend.placements).toEqual({ gpu: 0, cpu: 0 });

      await expect(backend.measureCpuThresholds({ maxWork: 10 })).rejects.toThrow(RangeError);
      const report = await backend.measureCpuThresholds({ maxWork: 4096 });
      expect(backend.cpuThresholds).toEqual(report.thresholds);
      expect(backend.placements).toEqual({ gpu: 0, cpu: 0 });
      for (const kernel of SMALL_WORK_KERNELS) {
        const samples = report.samples.filter((s) => s.kernel === kernel);
        expect(samples.length).toBeGreaterThan(0);
        expect(samples[0].work).toBe(SMALL_WORK_START);
        for (const s of samples) {
          expect(s.work).toBeLessThanOrEqual(4096);
          expect(s.cpuMs).toBeGreaterThanOrEqual(0);
          expect(s.gpuMs).toBeGreaterThan(0);
        }
        const threshold = report.thresholds[kernel];
        expect(Number.isFinite(threshold) && threshold >= 0).toBe(true);
        expect(samples.map((s) => s.work)).toContain(threshold);
        if (report.cpuWonUpToCap.includes(kernel)) {
          expect(threshold).toBe(samples[samples.length - 1].work);
        } else {
          const at = samples.findIndex((s) => s.work === threshold);
          expect(samples[at].gpuMs).toBeLessThan(samples[at].cpuMs);
        }
      }
      // The thresholds decide: one relu element below the elementwise threshold moves.
      const one = new Float32Array(1);
      await backend.reluAsync(one, one);
      const onCpu = 1 < report.thresholds.elementwise;
      expect(backend.placements).toEqual({ gpu: onCpu ? 0 : 1, cpu: onCpu ? 1 : 0 });
    } finally {
      backend.dispose();
    }
  });
});
