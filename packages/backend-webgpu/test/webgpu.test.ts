import {
  type Backend,
  BadInputError,
  type BagInput,
  type BagUpdate,
  type Pooling,
  registerBackend,
  type StorageName,
  selectBackend,
  type TableHandle,
  type TableSpec,
  type Tensor,
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
import { WebGpuBackend, webgpuBackend } from '../src/index.js';
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
      await gpu!.decode(format, codes, out);
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
            await gpu!.encode(format, src, out, mine, overflow);
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
                  gpu!.encodeCounterStochastic(format, src, out, options, 'saturate'),
                ).rejects.toThrow((error as Error).message);
                continue;
              }
              await gpu!.encodeCounterStochastic(format, src, out, options, 'saturate');
              expect({ ...label, out }).toEqual({ ...label, out: want });
            }
          }
        }
      }
    },
  );

  it(
    'draws a stream engine passed to encodeCounterStochastic on the CPU, in order',
    T,
    async () => {
      const src = randomBits(5000, 17);
      const out = new Uint16Array(5000);
      const stream = { random: createEngine('xoshiro128++', 9n) };
      await gpu!.encodeCounterStochastic(
        'float16',
        src,
        out,
        stream as unknown as Parameters<WebGpuBackend['encodeCounterStochastic']>[3],
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
      await expect(gpu!.encodeCounterStochastic('float16', src, out, options)).rejects.toThrow(
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
    await gpu!.decode('float16', codes, out);
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
        js.encodeSync(f, s, o as Uint16Array, r as RoundingStrategy);
      } catch (error) {
        expected = error;
      }
      expect(expected).toBeInstanceOf(Error);
      await expect(gpu!.encode(f, s, o as Uint16Array, r as RoundingStrategy)).rejects.toThrow(
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

/** A `BagUpdate` whose gradient is a host array: each backend gets it as its own tensor. */
type HostUpdate = Omit<BagUpdate, 'gradOutput'> & { readonly gradOutput: Float32Array };

/** The forward of `input` on `backend` into a new tensor, read back. */
async function forward(
  backend: Backend,
  table: TableHandle,
  input: BagInput,
  pooling: Pooling,
): Promise<Float32Array> {
  const out = backend.tensor(input.offsets.length * table.dim);
  try {
    backend.embeddingBagForward(table, input, pooling, out);
    return await backend.read(out);
  } finally {
    backend.disposeTensor(out);
  }
}

/**
 * The fused backward of host updates on `backend`, each gradient uploaded as a tensor (disposed
 * once the call is recorded).
 */
function backward(backend: Backend, updates: readonly HostUpdate[]) {
  const grads = updates.map((u) => backend.tensor(u.gradOutput));
  try {
    return backend.embeddingBagBackward(updates.map((u, k) => ({ ...u, gradOutput: grads[k]! })));
  } finally {
    for (const g of grads) backend.disposeTensor(g);
  }
}

/** The message of what `run` throws or rejects with. */
async function messageOf(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected a failure');
}

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
      ] as const) {
        const s = spec(storage, rows, dim);
        const a = gpu!.createTable(s);
        const b = js.createTable(s);
        const values = randomValues(rows * dim, seed++, 8);
        gpu!.writeRows(a, values);
        js.writeRows(b, values);
        expect(bitsOf(await gpu!.readRows(a))).toEqual(bitsOf(await js.readRows(b)));
        const some = Int32Array.of(rows - 1, 0, rows - 1);
        expect(bitsOf(await gpu!.readRows(a, some))).toEqual(bitsOf(await js.readRows(b, some)));
        // writeRows of chosen rows (a row twice: the last wins), codes sharing words.
        const part = randomValues(3 * dim, seed++, 8);
        gpu!.writeRows(a, part, some);
        js.writeRows(b, part, some);
        expect(await gpu!.exportTable(a)).toEqual(await js.exportTable(b));
        for (const [pooling, weights] of [
          ['sum', false],
          ['mean', false],
          ['sum', true],
        ] as const) {
          const input = batch(rows, 1 + (seed % 9), 6, seed++, weights);
          const got = await forward(gpu!, a, input, pooling);
          expect(bitsOf(got)).toEqual(bitsOf(await forward(js, b, input, pooling)));
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
        const got = await forward(gpu!, a, input, 'sum');
        const want = await forward(js, b, input, 'sum');
        const sizes = [2, 2, 2, 1, 1, 1, 2, 2, 2];
        for (let i = 0; i < got.length; i++) {
          expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual((2 * sizes[i]! + 1) * 2 ** -126);
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
          ] as const) {
            const s = spec(storage, rows, dim, { rounding });
            const s2 = { ...s, name: 'second', index: 4, optimizer: sgd({ lr: 0.37 }) };
            const a = [gpu!.createTable(s), gpu!.createTable(s2)];
            const b = [js.createTable(s), js.createTable(s2)];
            for (let k = 0; k < 2; k++) {
              const values = randomValues(rows * dim, seed++, 2);
              gpu!.writeRows(a[k]!, values);
              js.writeRows(b[k]!, values);
            }
            for (let step = 0; step < 3; step++) {
              const pooling = step === 1 ? 'mean' : 'sum';
              const inputs = [0, 1].map((k) => batch(rows, 6, 5, seed++, step === 2 && k === 0));
              const grads = inputs.map((input) =>
                randomValues(input.offsets.length * dim, seed++, 0.5),
              );
              const make = (tables: typeof a): HostUpdate[] =>
                tables.map((table, k) => ({
                  table,
                  input: inputs[k]!,
                  pooling: pooling as Pooling,
                  gradOutput: grads[k]!,
                  step,
                }));
              const got = await backward(gpu!, make(a));
              expect(got).toEqual(await backward(js, make(b)));
              for (let k = 0; k < 2; k++) {
                const label = { storage, rounding, rows, dim, step, k };
                expect({ ...label, w: (await gpu!.exportTable(a[k]!)).weights }).toEqual({
                  ...label,
                  w: (await js.exportTable(b[k]!)).weights,
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
          expect(WebGpuBackend.runsOnGpu(s)).toBe(true);
          // The initial optimizer state (Adagrad's accumulator) is the same bytes.
          expect(await gpu!.exportTable(a)).toEqual(await js.exportTable(b));
          const values = randomValues(rows * dim, seed++, 1.5);
          gpu!.writeRows(a, values);
          js.writeRows(b, values);
          for (let step = 0; step < 3; step++) {
            const input = batch(rows, 8, 6, seed++, step === 2);
            const gradOutput = randomValues(8 * dim, seed++, 0.5);
            const pooling = step === 1 ? ('mean' as const) : ('sum' as const);
            const u = { input, pooling, gradOutput, step };
            const got = await backward(gpu!, [{ ...u, table: a }]);
            expect(got).toEqual(await backward(js, [{ ...u, table: b }]));
            const label = { kind: optimizer.kind, options: optimizer.options, storage, step };
            expect({ ...label, data: await gpu!.exportTable(a) }).toEqual({
              ...label,
              data: await js.exportTable(b),
            });
          }
          gpu!.disposeTable(a);
        }
      }
    },
  );

  it('rejects a table whose optimizer the GPU does not run', () => {
    const custom = { ...momentum({ lr: 0.1 }), kind: 'custom' } as unknown as SparseOptimizer;
    const s = spec('float16', 20, 5, { optimizer: custom });
    expect(WebGpuBackend.runsOnGpu(s)).toBe(false);
    expect(() => gpu!.createTable(s)).toThrow(
      'table "t-float16": optimizer "custom" does not run on the WebGPU backend',
    );
  });

  it('skips rows with a non-finite sum and rejects bad input like the JS backend', T, async () => {
    const js = new JsBackend();
    const s = spec('float16', 6, 2);
    const a = gpu!.createTable(s);
    const b = js.createTable(s);
    const input = { indices: Int32Array.of(1, 1, 2), offsets: Int32Array.of(0, 1, 2) };
    const gradOutput = Float32Array.of(3e38, 1, 3e38, 1, 0.5, 0.5);
    const u = { input, pooling: 'sum' as const, gradOutput, step: 0 };
    const want = await messageOf(() => backward(js, [{ ...u, table: b }]));
    expect(want).toContain('row 1 overflows');
    await expect(backward(gpu!, [{ ...u, table: a }])).rejects.toThrow(want);
    const skip = { ...u, nonFinite: 'skip-rows' as const };
    const got = await backward(gpu!, [{ ...skip, table: a }]);
    expect(got).toEqual(await backward(js, [{ ...skip, table: b }]));
    expect(await gpu!.exportTable(a)).toEqual(await js.exportTable(b));
    const bad = { indices: Int32Array.of(0, 6), offsets: Int32Array.of(0) };
    const expected = await messageOf(() => forward(js, b, bad, 'sum'));
    expect(expected).toContain('out of range');
    await expect(forward(gpu!, a, bad, 'sum')).rejects.toThrow(expected);
    const grad = gpu!.tensor(2);
    expect(() =>
      gpu!.embeddingBagBackward([
        { table: a, input: bad, pooling: 'sum', gradOutput: grad, step: 0 },
      ]),
    ).toThrow(expected);
    // A gradient of the wrong size, or of another backend.
    const jsGrad = js.tensor(4);
    const good = { indices: Int32Array.of(0, 1), offsets: Int32Array.of(0, 1) };
    const update = (table: TableHandle, g: Tensor) => [
      { table, input: good, pooling: 'sum' as const, gradOutput: g, step: 0 },
    ];
    const jsMessage = await messageOf(() => js.embeddingBagBackward(update(b, js.tensor(2))));
    expect(jsMessage).toContain('gradOutput: expected a tensor of 2 bags x 2 = 4 values');
    expect(await messageOf(() => gpu!.embeddingBagBackward(update(a, grad)))).toBe(jsMessage);
    expect(await messageOf(() => gpu!.embeddingBagBackward(update(a, jsGrad)))).toContain(
      'gradOutput: not a tensor of backend "webgpu"',
    );
    gpu!.disposeTensor(grad);
    gpu!.disposeTable(a);
  });

  it(
    'a non-finite new weight or state in one segment of a row: skip-rows and error like the JS backend',
    T,
    async () => {
      const js = new JsBackend();
      const HUGE = 3e38;
      // Each overflows with a finite gradient of 3e38: the weights (lr x g), through the max-norm
      // clip (an infinite norm scales to NaN), or only the state (g x g; the weight stays finite).
      const optimizers: SparseOptimizer[] = [
        sgd({ lr: 2 }),
        sgd({ lr: 2, maxNorm: 1 }),
        momentum({ lr: 2, momentum: 0.9, stateStorage: 'float16' }),
        adagrad({ lr: 0.1 }),
        rowwiseAdagrad({ lr: 0.1, stateStorage: 'bfloat16' }),
        adam({ lr: 0.01, stateStorage: 'float16' }),
      ];
      let seed = 900;
      for (const optimizer of optimizers) {
        for (const storage of ['float32', 'float16'] as const) {
          // Three segments of 8 columns; codes of two rows share words.
          const [rows, dim] = [7, 19];
          const s = spec(storage, rows, dim, { optimizer });
          const s2 = { ...s, name: 'second', index: 6, optimizer: sgd({ lr: 0.5 }) };
          const a = [gpu!.createTable(s), gpu!.createTable(s2)];
          const b = [js.createTable(s), js.createTable(s2)];
          for (let k = 0; k < 2; k++) {
            const values = randomValues(rows * dim, seed++, 1);
            gpu!.writeRows(a[k]!, values);
            js.writeRows(b[k]!, values);
          }
          // One bag per row 0..6; rows 4 and 2 overflow, each in one column of another segment.
          const input = {
            indices: Int32Array.of(0, 1, 2, 3, 4, 5, 6),
            offsets: Int32Array.of(0, 1, 2, 3, 4, 5, 6),
          };
          const g = randomValues(rows * dim, seed++, 0.5);
          g[4 * dim + 3] = HUGE;
          g[2 * dim + 17] = HUGE;
          const other = randomValues(rows * dim, seed++, 0.5);
          const make = (tables: TableHandle[], nonFinite: 'error' | 'skip-rows'): HostUpdate[] => [
            { table: tables[1]!, input, pooling: 'sum', gradOutput: other, step: 1 },
            { table: tables[0]!, input, pooling: 'sum', gradOutput: g, step: 1, nonFinite },
          ];
          const label = { kind: optimizer.kind, options: optimizer.options, storage };
          const before = await Promise.all(a.map((t) => gpu!.exportTable(t)));
          const want = await messageOf(() => backward(js, make(b, 'error')));
          expect(want).toContain(
            'the update of row 2 gives a non-finite weight or optimizer state',
          );
          expect({
            ...label,
            got: await messageOf(() => backward(gpu!, make(a, 'error'))),
          }).toEqual({
            ...label,
            got: want,
          });
          // The first table of the call was fine, and is unchanged too.
          for (let k = 0; k < 2; k++) {
            expect({ ...label, k, data: await gpu!.exportTable(a[k]!) }).toEqual({
              ...label,
              k,
              data: before[k],
            });
          }
          const got = await backward(gpu!, make(a, 'skip-rows'));
          expect(got).toEqual([
            { updatedRows: rows, skippedRows: 0 },
            { updatedRows: rows - 2, skippedRows: 2 },
          ]);
          expect(got).toEqual(await backward(js, make(b, 'skip-rows')));
          for (let k = 0; k < 2; k++) {
            expect({ ...label, k, data: await gpu!.exportTable(a[k]!) }).toEqual({
              ...label,
              k,
              data: await js.exportTable(b[k]!),
            });
          }
          for (const t of a) gpu!.disposeTable(t);
        }
      }
    },
  );

  it(
    "a bad result under 'error' leaves a 'skip-rows' table of the same call unchanged too",
    T,
    async () => {
      const s = spec('float16', 4, 10, { optimizer: sgd({ lr: 2 }) });
      const a = [gpu!.createTable(s), gpu!.createTable({ ...s, name: 'strict', index: 7 })];
      for (let k = 0; k < 2; k++) gpu!.writeRows(a[k]!, randomValues(40, 70 + k, 1));
      const before = await Promise.all(a.map((t) => gpu!.exportTable(t)));
      const input = { indices: Int32Array.of(3, 0, 1), offsets: Int32Array.of(0, 1, 2) };
      const g = randomValues(30, 80, 0.5);
      g[9] = 3e38; // row 3, column 9: skipped in the first table, refused in the second
      const updates = (nonFinite: 'error' | 'skip-rows'): HostUpdate[] =>
        a.map((table, k) => ({
          table,
          input,
          pooling: 'sum',
          gradOutput: g,
          step: 0,
          nonFinite: k === 0 ? 'skip-rows' : nonFinite,
        }));
      await expect(backward(gpu!, updates('error'))).rejects.toThrow(
        'table "strict": the update of row 3 gives a non-finite weight or optimizer state',
      );
      for (let k = 0; k < 2; k++) expect(await gpu!.exportTable(a[k]!)).toEqual(before[k]);
      expect(await backward(gpu!, updates('skip-rows'))).toEqual([
        { updatedRows: 2, skippedRows: 1 },
        { updatedRows: 2, skippedRows: 1 },
      ]);
      for (const t of a) gpu!.disposeTable(t);
    },
  );

  it(
    'rejects a non-finite gradient value (first position, its value) and changes nothing',
    T,
    async () => {
      const js = new JsBackend();
      const s = spec('bfloat16', 6, 3);
      const a = [gpu!.createTable(s), gpu!.createTable({ ...s, name: 'other', index: 5 })];
      const b = [js.createTable(s), js.createTable({ ...s, name: 'other', index: 5 })];
      for (let k = 0; k < 2; k++) {
        const values = randomValues(18, 40 + k);
        gpu!.writeRows(a[k]!, values);
        js.writeRows(b[k]!, values);
      }
      const before = await Promise.all(a.map((t) => gpu!.exportTable(t)));
      const input = { indices: Int32Array.of(1, 4, 4), offsets: Int32Array.of(0, 2) };
      const make = (tables: TableHandle[], poison: number): HostUpdate[] =>
        tables.map((table, k) => {
          const g = randomValues(6, 60 + k);
          if (k === 1) {
            g[poison] = Number.NaN;
            g[5] = Number.NEGATIVE_INFINITY;
          }
          return { table, input, pooling: 'sum', gradOutput: g, step: 0 };
        });
      for (const poison of [0, 4]) {
        const want = await messageOf(() => backward(js, make(b, poison)));
        expect(want).toContain(`gradOutput[${poison}]`);
        const result = backward(gpu!, make(a, poison));
        await expect(result).rejects.toThrow(want);
        for (let k = 0; k < 2; k++) expect(await gpu!.exportTable(a[k]!)).toEqual(before[k]);
      }
      // Not awaited: flush reports it, once.
      const result = backward(gpu!, make(a, 2));
      await expect(gpu!.flush()).rejects.toThrow('gradOutput[2]');
      await expect(gpu!.flush()).resolves.toBeUndefined();
      await expect(result).rejects.toThrow(BadInputError);
      for (const t of a) gpu!.disposeTable(t);
    },
  );
});

describe.skipIf(!gpu)('device-resident training', () => {
  it('moves only the batch up and nothing down in a steady-state step (stats)', T, async () => {
    const rows = 100_000;
    const dim = 16;
    const bags = 64;
    const s = spec('float16', rows, dim, {
      name: 'big',
      optimizer: adam({ lr: 0.01, stateStorage: 'float16' }),
    });
    const table = gpu!.createTable(s);
    const out = gpu!.tensor(bags * dim);
    const w = gpu!.tensor(randomValues(dim, 3));
    const logits = gpu!.tensor(bags);
    const labels = gpu!.tensor(Float32Array.from({ length: bags }, (_, i) => i % 2));
    const loss = gpu!.tensor(1);
    const dLogits = gpu!.tensor(bags);
    const gradOutput = gpu!.tensor(bags * dim);
    await gpu!.flush();
    const inputs = [0, 1, 2, 3].map((k) => batch(rows, bags, 4, 77 + k, k % 2 === 1));
    const batchBytes = inputs.map(
      (i) => i.indices.byteLength + i.offsets.byteLength + (i.perSampleWeights?.byteLength ?? 0),
    );
    for (const [step, input] of inputs.entries()) {
      const before = gpu!.stats();
      gpu!.embeddingBagForward(table, input, 'sum', out);
      const afterForward = gpu!.stats();
      // The forward uploads its batch and its parameter block (128 bytes), nothing else.
      expect(afterForward.uploadBytes - before.uploadBytes).toBe(batchBytes[step]! + 128);
      // A little model on the device: logits = out w, the loss and its gradient.
      gpu!.matmul({ m: bags, n: 1, k: dim, a: out, b: w, c: logits });
      gpu!.bceWithLogits(logits, labels, loss, dLogits);
      gpu!.matmul({ m: bags, n: dim, k: 1, a: dLogits, b: w, c: gradOutput, transB: true });
      const result = gpu!.embeddingBagBackward([
        { table, input, pooling: 'sum', gradOutput, step },
      ]);
      const after = gpu!.stats();
      expect(after.downloadBytes - before.downloadBytes).toBe(0);
      expect(after.submissions - before.submissions).toBe(1);
      // The backward's uploads: the grouped batch and parameter blocks, bounded by the batch.
      const backwardBytes = after.uploadBytes - afterForward.uploadBytes - 3 * 128;
      expect(backwardBytes).toBeLessThanOrEqual(3 * batchBytes[step]! + 512);
      expect(backwardBytes).toBeLessThan(s.rows * s.dim);
      if (step === inputs.length - 1) {
        // Asking costs the asked bytes: the status words, the loss.
        const settled = await result;
        expect(settled[0]!.skippedRows).toBe(0);
        const read = gpu!.stats();
        expect(read.downloadBytes - after.downloadBytes).toBe(4 * 5);
        const value = await gpu!.read(loss);
        expect(Number.isFinite(value[0])).toBe(true);
        expect(gpu!.stats().downloadBytes - read.downloadBytes).toBe(4);
      }
    }
    await gpu!.flush();
    for (const t of [out, w, logits, labels, loss, dLogits, gradOutput]) gpu!.disposeTensor(t);
    gpu!.disposeTable(table);
  });

  it('trains a small model on both backends to the same tables and close losses', T, async () => {
    const js = new JsBackend();
    const dim = 8;
    const bags = 16;
    const s = spec('bfloat16', 50, dim, {
      optimizer: rowwiseAdagrad({ lr: 0.1, stateStorage: 'float16' }),
    });
    const run = async (backend: Backend) => {
      const table = backend.createTable(s);
      backend.writeRows(table, randomValues(50 * dim, 5, 1));
      const out = backend.tensor(bags * dim);
      const hidden = backend.tensor(bags * 4);
      const w1 = backend.tensor(randomValues(dim * 4, 6));
      const bias = backend.tensor(randomValues(4, 7));
      const w2 = backend.tensor(randomValues(4, 8));
      const logits = backend.tensor(bags);
      const labels = backend.tensor(Float32Array.from({ length: bags }, (_, i) => (i * 7) % 2));
      const loss = backend.tensor(1);
      // A fixed upstream gradient keeps the backward linear (bit-identical); the loss's own
      // gradient (exp) is compared with a tolerance.
      const dLogits = backend.tensor(randomValues(bags, 9, 0.1));
      const dLoss = backend.tensor(bags);
      const dHidden = backend.tensor(bags * 4);
      const dBias = backend.tensor(4);
      const gradOutput = backend.tensor(bags * dim);
      const losses: number[] = [];
      for (let step = 0; step < 4; step++) {
        const input = batch(50, bags, 5, 300 + step, false);
        backend.embeddingBagForward(table, input, 'mean', out);
        backend.matmul({ m: bags, n: 4, k: dim, a: out, b: w1, c: hidden });
        backend.addBias(hidden, bias, bags, 4);
        const pre = backend.tensor(bags * 4);
        backend.relu(hidden, pre);
        backend.matmul({ m: bags, n: 1, k: 4, a: pre, b: w2, c: logits });
        backend.bceWithLogits(logits, labels, loss, dLoss);
        backend.matmul({ m: bags, n: 4, k: 1, a: dLogits, b: w2, c: dHidden, transB: true });
        backend.reluBackward(dHidden, hidden, dHidden);
        backend.sumRows(dHidden, bags, 4, dBias);
        backend.matmul({ m: bags, n: dim, k: 4, a: dHidden, b: w1, c: gradOutput, transB: true });
        backend.embeddingBagBackward([{ table, input, pooling: 'mean', gradOutput, step }]);
        losses.push((await backend.read(loss))[0]!);
        backend.disposeTensor(pre);
      }
      await backend.flush();
      return {
        losses,
        data: await backend.exportTable(table),
        dBias: await backend.read(dBias),
        dLoss: await backend.read(dLoss),
        sigmoid: await (async () => {
          backend.sigmoid(logits, logits);
          return backend.read(logits);
        })(),
      };
    };
    const got = await run(gpu!);
    const want = await run(js);
    // The embedding and linear parts are bit-identical; the loss's exp/log are within float32 ulps.
    expect(got.data).toEqual(want.data);
    expect(bitsOf(got.dBias)).toEqual(bitsOf(want.dBias));
    for (let i = 0; i < 4; i++) expect(got.losses[i]).toBeCloseTo(want.losses[i]!, 5);
    for (let i = 0; i < bags; i++) {
      expect(got.sigmoid[i]).toBeCloseTo(want.sigmoid[i]!, 6);
      expect(got.dLoss[i]).toBeCloseTo(want.dLoss[i]!, 7);
    }
  });
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
    ] as const) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [alpha, beta] of [
            [1, 0],
            [0.3, 0.7],
          ] as const) {
            const a = randomValues(m * k, seed++, 3);
            const b = randomValues(k * n, seed++, 3);
            const c0 = randomValues(m * n, seed++, 3);
            const results = [];
            for (const backend of [gpu!, js] as Backend[]) {
              const [ta, tb, tc] = [backend.tensor(a), backend.tensor(b), backend.tensor(c0)];
              backend.matmul({ m, n, k, a: ta, b: tb, c: tc, transA, transB, alpha, beta });
              results.push(bitsOf(await backend.read(tc)));
            }
            expect({ m, n, k, transA, transB, alpha, c: results[0] }).toEqual({
              m,
              n,
              k,
              transA,
              transB,
              alpha,
              c: results[1],
            });
          }
        }
      }
    }
    const small = gpu!.tensor(3);
    const four = gpu!.tensor(4);
    expect(() => gpu!.matmul({ m: 2, n: 2, k: 2, a: small, b: four, c: four })).toThrow(
      'a: expected a tensor of at least 4 values, got 3',
    );
    expect(() => gpu!.relu(js.tensor(2), four)).toThrow('x: not a tensor of backend "webgpu"');
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
    const outcomes = [];
    for (const backend of [gpu!, js] as Backend[]) {
      const tx = backend.tensor(x);
      const out = backend.tensor(x.length);
      const seen: Uint32Array[] = [];
      backend.relu(tx, out);
      seen.push(bitsOf(await backend.read(out)));
      backend.reluBackward(backend.tensor(grad), tx, out);
      seen.push(bitsOf(await backend.read(out)));
      const y = backend.tensor(finite);
      backend.addBias(y, backend.tensor(bias), rows, cols);
      seen.push(bitsOf(await backend.read(y)));
      const sums = backend.tensor(cols);
      backend.sumRows(backend.tensor(finite), rows, cols, sums);
      seen.push(bitsOf(await backend.read(sums)));
      // In place: out = relu(out).
      backend.relu(tx, tx);
      seen.push(bitsOf(await backend.read(tx)));
      outcomes.push(seen);
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
  });
});
