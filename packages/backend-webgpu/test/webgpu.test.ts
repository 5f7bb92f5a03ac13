import {
  BadInputError,
  type BagUpdate,
  registerBackend,
  type StorageName,
  selectBackend,
  type TableHandle,
  type TableSpec,
  unregisterBackend,
} from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import { decode, encode, type RoundingStrategy, resolveFormat } from '@halfstep/codecs';
import {
  adagrad,
  adam,
  momentum,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '@halfstep/optim';
import { createEngine, createPhilox } from '@halfstep/rng';
import { maxRandomBits, stochastic } from '@halfstep/rounding';
import { afterAll, describe, expect, it } from 'vitest';
import { createWebGpuBackend, WebGpuBackend, webgpuBackend } from '../src/index.js';
import {
  batch,
  bitsOf,
  FORMATS,
  ListedThresholds,
  openDevice,
  RULES,
  randomBits,
  randomValues,
} from './device.js';

const device = await openDevice();
const gpu = device.backend;
afterAll(() => gpu?.dispose());

const T = { timeout: 30_000 };

it.skipIf(!gpu && !device.required)('opens a WebGPU adapter and reports it', () => {
  if (!gpu) throw new Error(`no WebGPU adapter in CI: ${device.reason}`);
  expect(gpu.name).toBe('webgpu');
  expect(typeof gpu.adapter.vendor).toBe('string');
  expect(typeof gpu.adapter.architecture).toBe('string');
  console.info(`webgpu adapter: ${JSON.stringify(gpu.adapter)}`);
});

it('rejects a readbackEvery that is not a non-negative integer, before opening a device', async () => {
  await expect(createWebGpuBackend({ readbackEvery: -1 })).rejects.toThrow(RangeError);
  await expect(createWebGpuBackend({ readbackEvery: 1.5 })).rejects.toThrow(
    'readbackEvery: expected a non-negative integer, got 1.5',
  );
});

it('registers as "webgpu" above wasm (10) and js (0)', () => {
  expect(webgpuBackend.name).toBe('webgpu');
  expect(webgpuBackend.priority).toBeGreaterThan(10);
});

it.skipIf(!gpu)('is selected by the registry when it starts', T, async () => {
  registerBackend(webgpuBackend);
  try {
    const selection = await selectBackend(['webgpu']);
    expect(selection.name).toBe('webgpu');
    expect(selection.rejected).toEqual([]);
    selection.backend.dispose();
  } finally {
    unregisterBackend('webgpu');
  }
});

describe.skipIf(!gpu)('encode and decode on the GPU', () => {
  it('decodes every code of every format bit-identically to @halfstep/codecs', T, async () => {
    for (const format of FORMATS) {
      const size = format.startsWith('float8') ? 256 : 65536;
      const codes = size === 256 ? new Uint8Array(size) : new Uint16Array(size);
      for (let i = 0; i < size; i++) codes[i] = i;
      const out = new Float32Array(size);
      await gpu!.decodeAsync(format, codes, out);
      expect(bitsOf(out)).toEqual(bitsOf(decode(format, codes)));
    }
  });

  it('encodes with every rule and overflow mode bit-identically', T, async () => {
    for (const format of FORMATS) {
      for (const n of [1, 3, 4097, 10_001]) {
        const src = randomBits(n, n + format.length);
        for (const overflow of ['infinity', 'saturate'] as const) {
          const strategies: [RoundingStrategy, RoundingStrategy][] = [
            ...RULES.map((rule): [RoundingStrategy, RoundingStrategy] => [{ rule }, { rule }]),
            [new ListedThresholds(n), new ListedThresholds(n)],
          ];
          for (const [mine, reference] of strategies) {
            const out = format.startsWith('float8') ? new Uint8Array(n) : new Uint16Array(n);
            await gpu!.encodeAsync(format, src, out, mine, overflow);
            const expected = encode(format, src, { rounding: reference, overflow });
            expect({ format, n, overflow, rule: mine.rule, out }).toEqual({
              format,
              n,
              overflow,
              rule: mine.rule,
              out: expected,
            });
          }
        }
      }
    }
  });

  it(
    'computes counter-based stochastic rounding (Philox, pcg-hash) in WGSL bit-identically',
    T,
    async () => {
      const engines = [
        createPhilox(0x0123456789abcdefn),
        createPhilox(77n, { rounds: 7 }),
        createEngine('pcg-hash', 0xfedcba9876543210n),
      ];
      const counters: (number | bigint)[] = [
        0,
        3,
        2 ** 32 - 5,
        (1n << 62n) + 7n,
        2n ** 34n - 5n,
        2n ** 64n - 9n,
      ];
      let seed = 3;
      for (const format of FORMATS) {
        for (const engine of engines) {
          for (const bits of [undefined, 5, 8, 16]) {
            if (bits !== undefined && bits > maxRandomBits(resolveFormat(format))) continue;
            // Every counter with the default bits; a lane offset and a wrap with the others.
            for (const counter of bits === undefined ? counters : counters.slice(1, 3)) {
              const n = 4099;
              const src = randomBits(n, seed++);
              const options = { random: { engine, counter }, bits };
              const out = format.startsWith('float8') ? new Uint8Array(n) : new Uint16Array(n);
              const label = { format, engine: engine.name, bits, counter: String(counter) };
              let want: Uint8Array | Uint16Array;
              try {
                want = encode(format, src, { rounding: stochastic(options), overflow: 'saturate' });
              } catch (error) {
                // A counter running past the engine's range: the same error.
                await expect(
                  gpu!.encodeCounterStochasticAsync(format, src, out, options, 'saturate'),
                ).rejects.toThrow((error as Error).message);
                continue;
              }
              await gpu!.encodeCounterStochasticAsync(format, src, out, options, 'saturate');
              expect({ ...label, out }).toEqual({ ...label, out: want });
            }
          }
        }
      }
    },
  );

  it(
    'draws a stream engine passed to encodeCounterStochasticAsync on the CPU, in order',
    T,
    async () => {
      const src = randomBits(5000, 17);
      const out = new Uint16Array(5000);
      const stream = { random: createEngine('xoshiro128++', 9n) };
      await gpu!.encodeCounterStochasticAsync(
        'float16',
        src,
        out,
        stream as unknown as Parameters<WebGpuBackend['encodeCounterStochasticAsync']>[3],
      );
      const want = encode('float16', src, {
        rounding: stochastic({ random: createEngine('xoshiro128++', 9n) }),
      });
      expect(out).toEqual(want);
    },
  );

  it('rejects bad counter-based options with the errors of the CPU path', T, async () => {
    const engine = createEngine('pcg-hash', 1n);
    const src = new Float32Array(64);
    const out = new Uint16Array(64);
    const cases = [
      { random: { engine, counter: -1 } },
      { random: { engine }, bits: 14 },
      { random: { engine, counter: 2n ** 64n } },
    ];
    for (const options of cases) {
      let expected: unknown;
      try {
        encode('float16', src, { out: out.slice(), rounding: stochastic(options) });
      } catch (error) {
        expected = error;
      }
      expect(expected).toBeInstanceOf(Error);
      await expect(gpu!.encodeCounterStochasticAsync('float16', src, out, options)).rejects.toThrow(
        (expected as Error).message,
      );
    }
  });

  it('decodes 4.3 million codes (a 2-D dispatch grid) like @halfstep/codecs', T, async () => {
    // 65535 workgroups of 64 cover 4,194,240 invocations; beyond that the grid gets a y extent.
    const codes = new Uint16Array(4_300_000);
    for (let i = 0; i < codes.length; i++) codes[i] = (i * 40503) & 0xffff;
    const out = new Float32Array(codes.length);
    const started = performance.now();
    await gpu!.decodeAsync('float16', codes, out);
    const gpuMs = performance.now() - started;
    const got = bitsOf(out);
    const want = bitsOf(decode('float16', codes));
    let first = -1;
    for (let i = 0; i < got.length && first < 0; i++) if (got[i] !== want[i]) first = i;
    console.info(`decode of ${codes.length} codes on the GPU: ${gpuMs.toFixed(0)} ms`);
    expect(first).toBe(-1);
  });

  it('rejects bad arguments with the errors of @halfstep/codecs', async () => {
    const js = new JsBackend();
    const src = new Float32Array(4);
    const attempts = [
      () => ['float16', src, new Uint16Array(3), { rule: 'nearest-even' }] as const,
      () => ['float16', src, new Uint8Array(4), { rule: 'nearest-even' }] as const,
      () => ['float16', src, new Uint16Array(4), { rule: 'stochastic' }] as const,
    ];
    for (const make of attempts) {
      const [f, s, o, r] = make();
      let expected: unknown;
      try {
        js.encode(f, s, o as Uint16Array, r as RoundingStrategy);
      } catch (error) {
        expected = error;
      }
      expect(expected).toBeInstanceOf(Error);
      await expect(gpu!.encodeAsync(f, s, o as Uint16Array, r as RoundingStrategy)).rejects.toThrow(
        (expected as Error).message,
      );
    }
  });
});

function spec(
  storage: StorageName,
  rows: number,
  dim: number,
  extra: Partial<TableSpec> = {},
): TableSpec {
  return {
    name: `t-${storage}`,
    index: 3,
    rows,
    dim,
    storage,
    rounding: 'stochastic',
    optimizer: sgd({ lr: 0.1 }) as SparseOptimizer,
    seed: 0x0123456789abcdefn,
    ...extra,
  };
}

const STORAGES: StorageName[] = ['float32', 'float16', 'bfloat16', 'float8e4m3', 'float8e5m2'];

describe.skipIf(!gpu)('embedding bags on the GPU', () => {
  it('forward (sum, mean, per-sample weights) equals the JS backend bit for bit', T, async () => {
    const js = new JsBackend();
    let seed = 1;
    for (const storage of STORAGES) {
      for (const [rows, dim] of [
        [1, 1],
        [7, 3],
        [50, 16],
        [200, 33],
      ]) {
        const s = spec(storage, rows, dim);
        const a = gpu!.createTable(s);
        const b = js.createTable(s);
        const values = randomValues(rows * dim, seed++, 8);
        gpu!.writeRows(a, values);
        js.writeRows(b, values);
        expect(bitsOf(await gpu!.readRowsAsync(a))).toEqual(bitsOf(js.readRows(b)));
        const some = Int32Array.of(rows - 1, 0, rows - 1);
        expect(bitsOf(await gpu!.readRowsAsync(a, some))).toEqual(bitsOf(js.readRows(b, some)));
        for (const [pooling, weights] of [
          ['sum', false],
          ['mean', false],
          ['sum', true],
        ] as const) {
          const input = batch(rows, 1 + (seed % 9), 6, seed++, weights);
          const got = await gpu!.embeddingBagForwardAsync(a, input, pooling);
          const want = js.embeddingBagForward(b, input, pooling);
          expect(bitsOf(got)).toEqual(bitsOf(want));
        }
        gpu!.disposeTable(a);
      }
    }
  });

  it(
    'forward with float32 subnormals: within (2 x bag size + 1) x 2^-126 of the JS backend',
    T,
    async () => {
      // WGSL lets a GPU flush float32 subnormals (|x| < 2^-126) to zero in arithmetic, and
      // SwiftShader does: each flushed operand or result moves a sum by less than 2^-126.
      const js = new JsBackend();
      for (const storage of ['float32', 'bfloat16'] as const) {
        const s = spec(storage, 4, 3);
        const a = gpu!.createTable(s);
        const b = js.createTable(s);
        const values = Float32Array.of(
          1e-40,
          -3e-39,
          1,
          2e-39,
          5e-39,
          -1e-45,
          0.5,
          1e-38,
          0,
          2,
          3,
          4,
        );
        gpu!.writeRows(a, values);
        js.writeRows(b, values);
        const input = { indices: Int32Array.of(0, 1, 0, 3, 2), offsets: Int32Array.of(0, 2, 3) };
        const got = await gpu!.embeddingBagForwardAsync(a, input, 'sum');
        const want = js.embeddingBagForward(b, input, 'sum');
        const sizes = [2, 2, 2, 1, 1, 1, 2, 2, 2];
        for (let i = 0; i < got.length; i++) {
          expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual((2 * sizes[i] + 1) * 2 ** -126);
        }
        gpu!.disposeTable(a);
      }
    },
  );

  it(
    'fused backward + SGD + rounded store equals the JS backend over several steps',
    T,
    async () => {
      const js = new JsBackend();
      let seed = 100;
      for (const storage of STORAGES) {
        for (const rounding of ['stochastic', 'nearest-even'] as const) {
          for (const [rows, dim] of [
            [5, 1],
            [9, 7],
            [64, 16],
          ]) {
            const s = spec(storage, rows, dim, { rounding });
            const s2 = { ...s, name: 'second', index: 4, optimizer: sgd({ lr: 0.37 }) };
            const a = [gpu!.createTable(s), gpu!.createTable(s2)];
            const b = [js.createTable(s), js.createTable(s2)];
            expect(a.map((t) => WebGpuBackend.runsOnGpu(t))).toEqual([true, true]);
            for (let k = 0; k < 2; k++) {
              const values = randomValues(rows * dim, seed++, 2);
              gpu!.writeRows(a[k], values);
              js.writeRows(b[k], values);
            }
            for (let step = 0; step < 3; step++) {
              const pooling = step === 1 ? 'mean' : 'sum';
              const inputs = [0, 1].map((k) => batch(rows, 6, 5, seed++, step === 2 && k === 0));
              const grads = inputs.map((input) =>
                randomValues(input.offsets.length * dim, seed++, 0.5),
              );
              const make = (tables: typeof a) =>
                tables.map((table, k) => ({
                  table,
                  input: inputs[k],
                  pooling: pooling as 'sum' | 'mean',
                  gradOutput: grads[k],
                  step,
                }));
              const got = await gpu!.embeddingBagBackwardAsync(make(a));
              const want = js.embeddingBagBackward(make(b));
              expect(got).toEqual(want);
              for (let k = 0; k < 2; k++) {
                expect({
                  storage,
                  rounding,
                  rows,
                  dim,
                  step,
                  k,
                  w: (await gpu!.exportTableAsync(a[k])).weights,
                }).toEqual({
                  storage,
                  rounding,
                  rows,
                  dim,
                  step,
                  k,
                  w: js.exportTable(b[k]).weights,
                });
              }
            }
            for (const t of a) gpu!.disposeTable(t);
          }
        }
      }
    },
  );

  it(
    'runs every optimizer (decay, max-norm, 16-bit state) on the GPU bit-identically',
    T,
    async () => {
      const js = new JsBackend();
      const optimizers: SparseOptimizer[] = [
        sgd({ lr: 0.05, weightDecay: { mode: 'l2', rate: 0.01 }, maxNorm: 0.8 }),
        sgd({ lr: 0.05, weightDecay: { mode: 'decoupled', rate: 0.1 } }),
        momentum({ lr: 0.1, momentum: 0.9 }),
        momentum({ lr: 0.1, stateStorage: 'float16', maxNorm: 1.5 }),
        adagrad({ lr: 0.1, initialAccumulator: 0.01 }),
        adagrad({ lr: 0.1, stateStorage: 'bfloat16', weightDecay: { mode: 'l2', rate: 0.05 } }),
        rowwiseAdagrad({ lr: 0.1 }),
        rowwiseAdagrad({ lr: 0.1, stateStorage: 'float16', maxNorm: 0.7 }),
        adam({ lr: 0.01 }),
        adam({ lr: 0.02, stateStorage: 'float16', weightDecay: { mode: 'decoupled', rate: 0.01 } }),
        adam({ lr: 0.01, beta1: 0.5, stateStorage: 'bfloat16', maxNorm: 1 }),
      ];
      let seed = 500;
      for (const [k, optimizer] of optimizers.entries()) {
        // Each kind has two variants or more: together they see every storage.
        const storages =
          k % 2 === 0 ? (['float32', 'float16'] as const) : (['bfloat16', 'float8e4m3'] as const);
        for (const storage of storages) {
          const rows = 40;
          // Three segments of 8 columns, the last partial; codes of two rows share words.
          const dim = 19;
          const s = spec(storage, rows, dim, { optimizer, rounding: 'stochastic' });
          const a = gpu!.createTable(s);
          const b = js.createTable(s);
          expect(WebGpuBackend.runsOnGpu(a)).toBe(true);
          const values = randomValues(rows * dim, seed++, 1.5);
          gpu!.writeRows(a, values);
          js.writeRows(b, values);
          for (let step = 0; step < 3; step++) {
            const input = batch(rows, 8, 6, seed++, step === 2);
            const gradOutput = randomValues(8 * dim, seed++, 0.5);
            const pooling = step === 1 ? ('mean' as const) : ('sum' as const);
            const u = { input, pooling, gradOutput, step };
            const got = await gpu!.embeddingBagBackwardAsync([{ ...u, table: a }]);
            expect(got).toEqual(js.embeddingBagBackward([{ ...u, table: b }]));
            const label = { kind: optimizer.kind, options: optimizer.options, storage, step };
            expect({ ...label, data: await gpu!.exportTableAsync(a) }).toEqual({
              ...label,
              data: js.exportTable(b),
            });
          }
          gpu!.disposeTable(a);
        }
      }
    },
  );

  it('runs an optimizer of an unknown kind on the CPU with the same results', T, async () => {
    const js = new JsBackend();
    const custom = { ...momentum({ lr: 0.1 }), kind: 'custom' } as unknown as SparseOptimizer;
    const s = spec('float16', 20, 5, { optimizer: custom });
    const a = gpu!.createTable(s);
    const b = js.createTable(s);
    expect(WebGpuBackend.runsOnGpu(a)).toBe(false);
    const values = randomValues(100, 7);
    gpu!.writeRows(a, values);
    js.writeRows(b, values);
    const input = batch(20, 4, 4, 9, false);
    const gradOutput = randomValues(4 * 5, 11);
    const u = { input, pooling: 'sum' as const, gradOutput, step: 0 };
    await gpu!.embeddingBagBackwardAsync([{ ...u, table: a }]);
    js.embeddingBagBackward([{ ...u, table: b }]);
    expect(gpu!.exportTable(a)).toEqual(js.exportTable(b));
    const f = await gpu!.embeddingBagForwardAsync(a, input, 'sum');
    expect(bitsOf(f)).toEqual(bitsOf(js.embeddingBagForward(b, input, 'sum')));
  });

  it('skips rows with a non-finite sum and rejects bad input like the JS backend', T, async () => {
    const js = new JsBackend();
    const s = spec('float16', 6, 2);
    const a = gpu!.createTable(s);
    const b = js.createTable(s);
    const input = { indices: Int32Array.of(1, 1, 2), offsets: Int32Array.of(0, 1, 2) };
    const gradOutput = Float32Array.of(3e38, 1, 3e38, 1, 0.5, 0.5);
    const u = { input, pooling: 'sum' as const, gradOutput, step: 0 };
    await expect(gpu!.embeddingBagBackwardAsync([{ ...u, table: a }])).rejects.toThrow(
      BadInputError,
    );
    const skip = { ...u, nonFinite: 'skip-rows' as const };
    const got = await gpu!.embeddingBagBackwardAsync([{ ...skip, table: a }]);
    expect(got).toEqual(js.embeddingBagBackward([{ ...skip, table: b }]));
    expect(await gpu!.exportTableAsync(a)).toEqual(js.exportTable(b));
    const bad = { indices: Int32Array.of(0, 6), offsets: Int32Array.of(0) };
    let expected = '';
    try {
      js.embeddingBagForward(b, bad, 'sum');
    } catch (error) {
      expected = (error as Error).message;
    }
    expect(expected).toContain('out of range');
    await expect(gpu!.embeddingBagForwardAsync(a, bad, 'sum')).rejects.toThrow(expected);
    await expect(
      gpu!.embeddingBagBackwardAsync([
        { table: a, input: bad, pooling: 'sum', gradOutput: new Float32Array(2), step: 0 },
      ]),
    ).rejects.toThrow(expected);
  });
});

describe.skipIf(!gpu)('GPU-resident training', () => {
  const DIMS = [19, 5, 8];

  /** Three tables: Adam with float16 state, row-wise Adagrad (bfloat16), momentum (float32). */
  function specs(): TableSpec[] {
    return [
      spec('float16', 30, DIMS[0], {
        name: 'a',
        index: 1,
        optimizer: adam({ lr: 0.01, stateStorage: 'float16' }),
      }),
      spec('bfloat16', 12, DIMS[1], {
        name: 'b',
        index: 2,
        optimizer: rowwiseAdagrad({ lr: 0.1, stateStorage: 'bfloat16' }),
      }),
      spec('float32', 9, DIMS[2], {
        name: 'c',
        index: 3,
        rounding: 'nearest-even',
        optimizer: momentum({ lr: 0.1, momentum: 0.9 }),
      }),
    ];
  }

  /**
   * Step `step` of the three tables: per-sample weights (with duplicates) for the first, mean
   * pooling for the second, and for the third a row (2) twice in a bag of gradients near the
   * float32 maximum, whose sum overflows and is skipped ('skip-rows').
   */
  function updates(tables: readonly TableHandle[], step: number): BagUpdate[] {
    const seed = 700 + 10 * step;
    const first = batch(30, 7, 9, seed, true);
    const second = batch(12, 6, 7, seed + 1, false);
    const third = {
      indices: Int32Array.of(2, 2, step % 9, 3, 1, 1, 4, 2, (step * 5) % 9),
      offsets: Int32Array.of(0, 2, 4, 7),
    };
    const overflow = randomValues(4 * DIMS[2], seed + 2, 0.5);
    overflow.fill(3e38, 0, DIMS[2]);
    return [
      {
        table: tables[0],
        input: first,
        pooling: 'sum',
        gradOutput: randomValues(7 * DIMS[0], seed + 3, 0.5),
        step,
      },
      {
        table: tables[1],
        input: second,
        pooling: 'mean',
        gradOutput: randomValues(6 * DIMS[1], seed + 4, 0.5),
        step,
      },
      {
        table: tables[2],
        input: third,
        pooling: 'sum',
        gradOutput: overflow,
        step,
        nonFinite: 'skip-rows',
      },
    ];
  }

  /** Creates the tables on a backend, initialised with the same values. */
  function create(backend: WebGpuBackend | JsBackend): TableHandle[] {
    return specs().map((s, k) => {
      const table = backend.createTable(s);
      backend.writeRows(table, randomValues(s.rows * s.dim, 900 + k, 1));
      return table;
    });
  }

  it(
    'keeps several GPU steps on the GPU; the synchronous methods and a readback see them exactly',
    T,
    async () => {
      for (const readbackEvery of [undefined, 0, 2]) {
        const g = readbackEvery === undefined ? gpu! : await createWebGpuBackend({ readbackEvery });
        const js = new JsBackend();
        try {
          expect(g.readbackEvery).toBe(readbackEvery ?? 16);
          const a = create(g);
          const b = create(js);
          expect(a.map((t) => WebGpuBackend.runsOnGpu(t))).toEqual([true, true, true]);
          for (let step = 0; step < 6; step++) {
            const got = await g.embeddingBagBackwardAsync(updates(a, step));
            expect(got).toEqual(js.embeddingBagBackward(updates(b, step)));
            expect(got[2].skippedRows).toBe(1);
            if (step === 2) {
              // The GPU copy's bytes, read back.
              for (let k = 0; k < 3; k++) {
                const label = { readbackEvery, step, k };
                expect({ ...label, data: await g.exportTableAsync(a[k]) }).toEqual({
                  ...label,
                  data: js.exportTable(b[k]),
                });
              }
            }
          }
          for (let k = 0; k < 3; k++) {
            const input = batch(a[k].rows, 5, 6, 40 + k, false);
            const want = js.embeddingBagForward(b[k], input, 'sum');
            expect(bitsOf(await g.embeddingBagForwardAsync(a[k], input, 'sum'))).toEqual(
              bitsOf(want),
            );
            // The synchronous methods, with updates still on the GPU only.
            const label = { readbackEvery, k };
            expect({ ...label, data: g.exportTable(a[k]) }).toEqual({
              ...label,
              data: js.exportTable(b[k]),
            });
            expect(bitsOf(g.readRows(a[k]))).toEqual(bitsOf(js.readRows(b[k])));
            expect(bitsOf(g.embeddingBagForward(a[k], input, 'mean'))).toEqual(
              bitsOf(js.embeddingBagForward(b[k], input, 'mean')),
            );
            expect(bitsOf(await g.readRowsAsync(a[k]))).toEqual(bitsOf(js.readRows(b[k])));
          }
          for (const t of a) g.disposeTable(t);
        } finally {
          if (g !== gpu) g.dispose();
          js.dispose();
        }
      }
    },
  );

  it('takes synchronous writes between GPU steps (CPU copy first, then the GPU)', T, async () => {
    const js = new JsBackend();
    const a = create(gpu!);
    const b = create(js);
    const both = async (step: number) => {
      const got = await gpu!.embeddingBagBackwardAsync(updates(a, step));
      expect(got).toEqual(js.embeddingBagBackward(updates(b, step)));
    };
    await both(0);
    await both(1);
    // writeRows on a table whose newest values are on the GPU, then GPU steps.
    const rows = Int32Array.of(0, 7, 29);
    const values = randomValues(3 * DIMS[0], 77, 2);
    gpu!.writeRows(a[0], values, rows);
    js.writeRows(b[0], values, rows);
    // The synchronous backward on the CPU copy, then GPU steps.
    expect(gpu!.embeddingBagBackward(updates(a, 2))).toEqual(
      js.embeddingBagBackward(updates(b, 2)),
    );
    await both(3);
    // importTable replaces every byte: the GPU updates before it no longer count.
    const data = js.exportTable(b[1]);
    gpu!.importTable(a[1], data);
    await both(4);
    // Outside work on the GPU buffers, then invalidateGpuCopy: the CPU copy (with the GPU
    // updates replayed) is uploaded again.
    gpu!.gpuBuffersOf(a[2]);
    gpu!.invalidateGpuCopy(a[2]);
    await both(5);
    for (let k = 0; k < 3; k++) {
      expect({ k, data: await gpu!.exportTableAsync(a[k]) }).toEqual({
        k,
        data: js.exportTable(b[k]),
      });
    }
    for (const t of a) gpu!.disposeTable(t);
    js.dispose();
  });

  it(
    'changes no table when any table of a call has a non-finite row under "error"',
    T,
    async () => {
      const js = new JsBackend();
      const custom = { ...momentum({ lr: 0.1 }), kind: 'custom' } as unknown as SparseOptimizer;
      const extra = spec('float16', 9, DIMS[2], { name: 'cpu', index: 4, optimizer: custom });
      const a = [...create(gpu!), gpu!.createTable(extra)];
      const b = [...create(js), js.createTable(extra)];
      expect(WebGpuBackend.runsOnGpu(a[3])).toBe(false);
      await gpu!.embeddingBagBackwardAsync(updates(a, 0));
      js.embeddingBagBackward(updates(b, 0));
      const before = await Promise.all(a.map((t) => gpu!.exportTableAsync(t)));
      const overflowing = (tables: readonly TableHandle[], bad: readonly number[]): BagUpdate[] => [
        ...updates(tables, 1).map((u, k) =>
          bad.includes(k) ? { ...u, nonFinite: 'error' as const } : u,
        ),
        {
          table: tables[3],
          input: { indices: Int32Array.of(2, 2), offsets: Int32Array.of(0, 1) },
          pooling: 'sum',
          gradOutput: new Float32Array(2 * DIMS[2]).fill(bad.includes(3) ? 3e38 : 0.25),
          step: 1,
        },
      ];
      // The GPU table 2 fails; the CPU table 3 fails; both fail (the first table's error wins).
      for (const bad of [[2], [3], [2, 3]]) {
        let message = '';
        try {
          js.embeddingBagBackward(overflowing(b, bad));
        } catch (error) {
          expect(error).toBeInstanceOf(BadInputError);
          message = (error as Error).message;
        }
        expect(message).toContain(bad[0] === 2 ? '"c"' : '"cpu"');
        await expect(gpu!.embeddingBagBackwardAsync(overflowing(a, bad))).rejects.toThrow(message);
        for (let k = 0; k < 4; k++) {
          expect({ bad, k, data: await gpu!.exportTableAsync(a[k]) }).toEqual({
            bad,
            k,
            data: before[k],
          });
        }
      }
      // And with no bad row the same call goes through on both.
      expect(await gpu!.embeddingBagBackwardAsync(overflowing(a, []))).toEqual(
        js.embeddingBagBackward(overflowing(b, [])),
      );
      for (let k = 0; k < 4; k++) {
        expect(await gpu!.exportTableAsync(a[k])).toEqual(js.exportTable(b[k]));
      }
      for (const t of a) gpu!.disposeTable(t);
      js.dispose();
    },
  );
});

describe.skipIf(!gpu)('dense ops on the GPU', () => {
  it('matmul equals the JS backend bit for bit (all transposes, alpha, beta)', T, async () => {
    const js = new JsBackend();
    let seed = 500;
    for (const [m, n, k] of [
      [1, 1, 1],
      [3, 5, 7],
      [16, 13, 64],
      [33, 8, 100],
      [2, 3, 0],
    ]) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [alpha, beta] of [
            [1, 0],
            [0.3, 0.7],
          ]) {
            const a = randomValues(m * k, seed++, 3);
            const b = randomValues(k * n, seed++, 3);
            const c0 = randomValues(m * n, seed++, 3);
            const mine = c0.slice();
            const want = c0.slice();
            const args = { m, n, k, a, b, transA, transB, alpha, beta };
            await gpu!.matmulAsync({ ...args, c: mine });
            js.matmul({ ...args, c: want });
            expect({ m, n, k, transA, transB, alpha, c: bitsOf(mine) }).toEqual({
              m,
              n,
              k,
              transA,
              transB,
              alpha,
              c: bitsOf(want),
            });
          }
        }
      }
    }
    await expect(
      gpu!.matmulAsync({
        m: 2,
        n: 2,
        k: 2,
        a: new Float32Array(3),
        b: new Float32Array(4),
        c: new Float32Array(4),
      }),
    ).rejects.toThrow('a: expected a Float32Array of at least 4 values, got 3');
  });

  it('addBias, relu, reluBackward and sumRows equal the JS backend bit for bit', T, async () => {
    const js = new JsBackend();
    const rows = 37;
    const cols = 11;
    const x = randomValues(rows * cols, 900, 5);
    x.set([0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-40, -1e-40]);
    const grad = randomValues(rows * cols, 901);
    const bias = randomValues(cols, 902);
    const finite = randomValues(rows * cols, 903, 5);

    const mine = new Float32Array(x.length);
    const want = new Float32Array(x.length);
    await gpu!.reluAsync(x, mine);
    js.relu(x, want);
    expect(bitsOf(mine)).toEqual(bitsOf(want));

    await gpu!.reluBackwardAsync(grad, x, mine);
    js.reluBackward(grad, x, want);
    expect(bitsOf(mine)).toEqual(bitsOf(want));

    const y1 = finite.slice();
    const y2 = finite.slice();
    await gpu!.addBiasAsync(y1, bias, rows, cols);
    js.addBias(y2, bias, rows, cols);
    expect(bitsOf(y1)).toEqual(bitsOf(y2));

    const s1 = new Float32Array(cols);
    const s2 = new Float32Array(cols);
    await gpu!.sumRowsAsync(finite, rows, cols, s1);
    js.sumRows(finite, rows, cols, s2);
    expect(bitsOf(s1)).toEqual(bitsOf(s2));
  });
});
