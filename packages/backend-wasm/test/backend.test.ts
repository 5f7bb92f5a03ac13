import {
  type Backend,
  BadInputError,
  type BagInput,
  type Pooling,
  registerBackend,
  type StorageName,
  selectBackend,
  type TableHandle,
  type TableSpec,
  type Tensor,
  unregisterBackend,
} from '@halfstep/backend';
import { JsBackend, jsBackend } from '@halfstep/backend-js';
import {
  adagrad,
  adam,
  momentum,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '@halfstep/optim';
import { createEngine, type RandomEngine } from '@halfstep/rng';
import { describe, expect, it } from 'vitest';
import { createWasmBackend, WasmBackend, WasmMemoryLimitError, wasmBackend } from '../src/index.js';
import { BUILDS, badInputCases, expectSameError, firstDifference, kernels } from './helpers.js';

const STORAGES: StorageName[] = ['float32', 'float16', 'bfloat16', 'float8e4m3', 'float8e5m2'];

const OPTIMIZERS: [string, () => SparseOptimizer][] = [
  ['sgd', () => sgd({ lr: 0.5 })],
  ['sgd past the largest finite value (clamped store)', () => sgd({ lr: 40_000 })],
  [
    'sgd l2 + maxNorm',
    () => sgd({ lr: 0.3, weightDecay: { mode: 'l2', rate: 0.01 }, maxNorm: 0.8 }),
  ],
  ['momentum', () => momentum({ lr: 0.2, momentum: 0.8 })],
  ['momentum fp16 state', () => momentum({ lr: 0.2, stateStorage: 'float16' })],
  ['adagrad', () => adagrad({ lr: 0.4, initialAccumulator: 0.1 })],
  [
    'adagrad bf16 state, decoupled',
    () =>
      adagrad({ lr: 0.4, stateStorage: 'bfloat16', weightDecay: { mode: 'decoupled', rate: 0.1 } }),
  ],
  ['rowwise-adagrad', () => rowwiseAdagrad({ lr: 0.3 })],
  [
    'rowwise-adagrad fp16 state',
    () => rowwiseAdagrad({ lr: 0.3, stateStorage: 'float16', initialAccumulator: 0.5 }),
  ],
  ['adam', () => adam({ lr: 0.05 })],
  ['adam fp16 state, maxNorm', () => adam({ lr: 0.05, stateStorage: 'float16', maxNorm: 0.5 })],
];

/** A random batch: `bags` bags of 0..maxBag indices (Zipf-ish, so rows repeat). */
function batch(
  rng: RandomEngine,
  rows: number,
  bags: number,
  maxBag: number,
  weights: boolean,
): BagInput {
  const offsets = new Int32Array(bags);
  const indices: number[] = [];
  for (let b = 0; b < bags; b++) {
    offsets[b] = indices.length;
    const size = Math.floor(rng.nextFloat() * (maxBag + 1));
    for (let i = 0; i < size; i++) indices.push(Math.floor(rows * rng.nextFloat() ** 2));
  }
  const input: BagInput = { indices: Int32Array.from(indices), offsets };
  if (!weights) return input;
  const psw = new Float32Array(indices.length);
  for (let i = 0; i < psw.length; i++) psw[i] = rng.nextFloat() * 2 - 0.5;
  return { ...input, perSampleWeights: psw };
}

function randomValues(rng: RandomEngine, n: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.nextFloat() - 0.5) * 2 * scale;
  return out;
}

function expectSameTables(
  a: WasmBackend,
  b: JsBackend,
  ha: TableHandle,
  hb: TableHandle,
  label: string,
) {
  const x = a.exportTableSync(ha);
  const y = b.exportTableSync(hb);
  expect(firstDifference(x.weights, y.weights), `${label}: weights`).toBe(-1);
  expect(firstDifference(x.state, y.state), `${label}: state`).toBe(-1);
}

describe.each(BUILDS)('WasmBackend (%s build) vs @halfstep/backend-js', (build) => {
  const make = async () => new WasmBackend(await kernels(build));

  it.each([
    ['float16', 8],
    ['float16', 16],
    ['bfloat16', 8],
    ['bfloat16', 16],
  ] as const)(
    'stays bit-identical when %s SGD rows of dim %i leave the fast encode range (zeros, subnormals) for many steps',
    async (storage, dim) => {
      // Rows of 8 or 16 16-bit values take the register-resident SGD path; a chunk whose results
      // are zero or subnormal falls back to encodeOne through a spill buffer. Many steps on a few
      // hot rows make later steps read whatever that spill could have overwritten.
      const wasm = await make();
      const js = new JsBackend();
      const rng = createEngine('xoshiro128++', dim);
      const spec: TableSpec = {
        name: 'tiny',
        index: 0,
        rows: 3,
        dim,
        storage,
        rounding: 'stochastic',
        optimizer: sgd({ lr: 0.1 }),
        seed: 3n,
      };
      const hw = wasm.createTable(spec);
      const hj = js.createTable(spec);
      const init = randomValues(rng, spec.rows * dim, 2e-5);
      wasm.writeRows(hw, init);
      js.writeRows(hj, init);
      for (let step = 0; step < 30; step++) {
        const input = batch(rng, spec.rows, 16, 2, false);
        const grad = randomValues(rng, input.offsets.length * dim, 2e-4);
        await wasm.embeddingBagBackward([
          { table: hw, input, pooling: 'sum', gradOutput: wasm.tensor(grad), step },
        ]);
        await js.embeddingBagBackward([
          { table: hj, input, pooling: 'sum', gradOutput: js.tensor(grad), step },
        ]);
        expectSameTables(wasm, js, hw, hj, `step ${step}`);
      }
      wasm.dispose();
    },
  );

  describe.each(STORAGES)('%s tables', (storage) => {
    it.each(OPTIMIZERS)(
      '%s: forward and fused backward are bit-identical over several steps',
      async (_, optimizer) => {
        const wasm = await make();
        const js = new JsBackend();
        const rng = createEngine('xoshiro128++', storage.length * 7 + _.length);
        for (const dim of [1, 3, 4, 8, 16, 17]) {
          for (const rounding of ['stochastic', 'nearest-even'] as const) {
            const spec: TableSpec = {
              name: `t${dim}`,
              index: dim,
              rows: 40,
              dim,
              storage,
              rounding,
              optimizer: optimizer(),
              seed: 0x1234_5678_9abcn + BigInt(dim),
            };
            const hw = wasm.createTable(spec);
            const hj = js.createTable(spec);
            const init = randomValues(rng, spec.rows * dim, 0.3);
            wasm.writeRows(hw, init);
            js.writeRows(hj, init);
            expectSameTables(wasm, js, hw, hj, `init dim ${dim}`);
            for (let step = 0; step < 3; step++) {
              const pooling: Pooling = step === 1 ? 'mean' : 'sum';
              const input = batch(rng, spec.rows, 9, 5, step === 2);
              const size = input.offsets.length * dim;
              const fw = wasm.tensor(size);
              const fj = js.tensor(size);
              wasm.embeddingBagForward(hw, input, pooling, fw);
              js.embeddingBagForward(hj, input, pooling, fj);
              expect(
                firstDifference(wasm.readSync(fw), js.readSync(fj)),
                `forward dim ${dim} step ${step}`,
              ).toBe(-1);
              const grad = randomValues(rng, size, 2);
              const gw = wasm.tensor(grad);
              const gj = js.tensor(grad);
              const rw = await wasm.embeddingBagBackward([
                { table: hw, input, pooling, gradOutput: gw, step },
              ]);
              const rj = await js.embeddingBagBackward([
                { table: hj, input, pooling, gradOutput: gj, step },
              ]);
              expect(rw).toEqual(rj);
              expect(wasm.readSync(gw), 'the gradient is not written').toEqual(grad);
              expectSameTables(wasm, js, hw, hj, `${rounding} dim ${dim} step ${step}`);
              for (const t of [fw, gw]) wasm.disposeTensor(t);
            }
            expect(firstDifference(await wasm.readRows(hw), await js.readRows(hj))).toBe(-1);
            const some = Int32Array.from([3, 0, 39, 3]);
            expect(firstDifference(wasm.readRowsSync(hw, some), js.readRowsSync(hj, some))).toBe(
              -1,
            );
            wasm.disposeTable(hw);
          }
        }
        wasm.dispose();
      },
    );
  });

  it('updates several tables in one call and skips non-finite rows like the reference', async () => {
    const wasm = await make();
    const js = new JsBackend();
    const rng = createEngine('xorshift128+', 3);
    const specs: TableSpec[] = [0, 1].map((index) => ({
      name: `t${index}`,
      index,
      rows: 20,
      dim: 6,
      storage: 'float16',
      rounding: 'stochastic',
      optimizer: adagrad({ lr: 0.1 }),
      seed: 99n,
    }));
    const hw = specs.map((s) => wasm.createTable(s));
    const hj = specs.map((s) => js.createTable(s));
    const input = batch(rng, 20, 8, 3, false);
    const grads = specs.map(() => randomValues(rng, 8 * 6, 1));
    grads[1]![7] = Number.NaN;
    grads[1]![20] = Number.POSITIVE_INFINITY;
    const run = (b: Backend, h: typeof hw) =>
      b.embeddingBagBackward(
        h.map((table, i) => ({
          table,
          input,
          pooling: 'sum' as const,
          gradOutput: b.tensor(grads[i]!),
          step: 4,
          nonFinite: 'skip-rows' as const,
        })),
      );
    const rw = await run(wasm, hw);
    expect(rw).toEqual(await run(js, hj));
    expect(rw[1]!.skippedRows).toBeGreaterThan(0);
    for (let i = 0; i < 2; i++) expectSameTables(wasm, js, hw[i]!, hj[i]!, `table ${i}`);
  });

  it('rejects bad input with the errors of the reference, leaving tables unchanged', async () => {
    const wasm = await make();
    const js = new JsBackend();
    const spec: TableSpec = {
      name: 'bad',
      index: 0,
      rows: 10,
      dim: 4,
      storage: 'float16',
      rounding: 'stochastic',
      optimizer: sgd({ lr: 1 }),
      seed: 1n,
    };
    const hw = wasm.createTable(spec);
    const hj = js.createTable(spec);
    const init = new Float32Array(40).map((_, i) => i / 8);
    wasm.writeRows(hw, init);
    js.writeRows(hj, init);
    const cases = badInputCases();
    const before = wasm.exportTableSync(hw);
    for (const [label, run] of cases) {
      await expectSameError(
        label,
        () => run(js, hj),
        () => run(wasm, hw),
      );
    }
    expect(wasm.exportTableSync(hw)).toEqual(before);
    // Every rejection was awaited: nothing is left for flush() to report.
    await expect(wasm.flush()).resolves.toBeUndefined();
  });

  it('rejects tensors that are not its own, and a disposed backend', async () => {
    const wasm = await make();
    const js = new JsBackend();
    const x = wasm.tensor(4);
    expect(() => wasm.relu(js.tensor(4), x)).toThrow(
      /^x: not a tensor of backend "wasm" \(made by "js", or disposed\)$/,
    );
    const gone = wasm.tensor(4);
    wasm.disposeTensor(gone);
    expect(() => wasm.relu(x, gone)).toThrow(TypeError);
    await expect(wasm.read(gone)).rejects.toThrow(/not a tensor of backend "wasm"/);
    const h = wasm.createTable({
      name: 'gone',
      index: 0,
      rows: 2,
      dim: 2,
      storage: 'float32',
      rounding: 'nearest-even',
      optimizer: sgd({ lr: 1 }),
      seed: 0n,
    });
    wasm.dispose();
    expect(() => wasm.tensor(1)).toThrow('backend "wasm" was disposed');
    expect(() => wasm.readSync(x)).toThrow('backend "wasm" was disposed');
    expect(() => wasm.readRowsSync(h)).toThrow('backend "wasm" was disposed');
    await expect(wasm.flush()).rejects.toThrow('backend "wasm" was disposed');
  });

  it('keeps a rejected step nobody awaited for flush(), which reports it once, as the reference', async () => {
    const wasm = await make();
    const js = new JsBackend();
    const spec: TableSpec = {
      name: 'quiet',
      index: 0,
      rows: 4,
      dim: 2,
      storage: 'bfloat16',
      rounding: 'stochastic',
      optimizer: sgd({ lr: 1 }),
      seed: 1n,
    };
    const errors: unknown[] = [];
    for (const b of [wasm, js] as Backend[]) {
      const h = b.createTable(spec);
      const input = { indices: Int32Array.from([0, 3]), offsets: Int32Array.from([0, 1]) };
      const nan = b.tensor(Float32Array.from([1, 2, 3, Number.NaN]));
      b.embeddingBagBackward([{ table: h, input, pooling: 'sum', gradOutput: nan, step: 0 }]);
      errors.push(await b.flush().catch((error: unknown) => error));
      await expect(b.flush()).resolves.toBeUndefined();
      // An awaited rejection is delivered there and not again.
      await expect(
        b.embeddingBagBackward([{ table: h, input, pooling: 'sum', gradOutput: nan, step: 1 }]),
      ).rejects.toThrow(/gradOutput\[3\]/);
      await expect(b.flush()).resolves.toBeUndefined();
      expect(b.readRowsSync?.(h)).toEqual(new Float32Array(8));
    }
    expect(errors[0]).toBeInstanceOf(BadInputError);
    expect({ ...(errors[0] as BadInputError) }).toEqual({ ...(errors[1] as BadInputError) });
    expect((errors[0] as Error).message).toBe((errors[1] as Error).message);
  });

  it('counts the same traffic as the reference (tensors, batches not, table rows and bytes)', async () => {
    const wasm = await make();
    const js = new JsBackend();
    const spec: TableSpec = {
      name: 'traffic',
      index: 0,
      rows: 6,
      dim: 3,
      storage: 'float16',
      rounding: 'stochastic',
      optimizer: adagrad({ lr: 0.1 }),
      seed: 2n,
    };
    for (const b of [wasm, js] as (WasmBackend | JsBackend)[]) {
      const h = b.createTable(spec);
      const x = b.tensor(Float32Array.from([1, -2, 3, -4, 5, -6]));
      b.write(x, Float32Array.from([7, 8]), 4);
      b.readSync(x);
      await b.read(x);
      b.writeRows(h, new Float32Array(18).fill(0.5));
      b.writeRows(h, new Float32Array(6).fill(0.25), Int32Array.from([1, 4]));
      const input = { indices: Int32Array.from([0, 1, 1]), offsets: Int32Array.from([0, 2]) };
      const out = b.tensor(6);
      b.embeddingBagForward(h, input, 'sum', out);
      await b.embeddingBagBackward([{ table: h, input, pooling: 'sum', gradOutput: out, step: 0 }]);
      b.matmul({ m: 2, n: 3, k: 1, a: b.tensor(2), b: b.tensor(3), c: out });
      await b.readRows(h, Int32Array.from([5]));
      b.readRowsSync(h);
      b.importTable(h, await b.exportTable(h));
      b.importTable(h, b.exportTableSync(h));
      await b.flush();
    }
    expect(wasm.stats()).toEqual(js.stats());
    expect(wasm.stats()).toEqual({
      uploadBytes: 24 + 8 + 72 + 24 + 2 * (36 + 72),
      downloadBytes: 2 * 24 + 12 + 72 + 2 * (36 + 72),
      submissions: 0,
    });
  });

  it('writes only the leading values of larger tensors, as the reference', async () => {
    const wasm = await make();
    const js = new JsBackend();
    const rng = createEngine('xoshiro128++', 5);
    const spec: TableSpec = {
      name: 'pad',
      index: 0,
      rows: 5,
      dim: 3,
      storage: 'float8e5m2',
      rounding: 'nearest-even',
      optimizer: sgd({ lr: 1 }),
      seed: 4n,
    };
    const init = randomValues(rng, 15, 1);
    const input = { indices: Int32Array.from([4, 0, 2]), offsets: Int32Array.from([0, 1]) };
    const values = [6, 3, 4, 6, 3, 9, 12, 3].map((n) => randomValues(rng, n + 5, 2));
    const results: Float32Array[][] = [];
    for (const b of [wasm, js] as (WasmBackend | JsBackend)[]) {
      const h = b.createTable(spec);
      b.writeRows(h, init);
      const [out, a, bb, c, x, bias, g, loss] = values.map((v) => b.tensor(v)) as [
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
        Tensor,
      ];
      b.embeddingBagForward(h, input, 'mean', out);
      b.matmul({ m: 2, n: 3, k: 2, a, b: bb, c, transB: true, beta: 0.5 });
      b.addBias(x, bias, 2, 3);
      b.relu(g, g);
      b.reluBackward(a, x, bias);
      b.sumRows(x, 2, 3, loss);
      b.sigmoid(a, bb);
      b.bceWithLogits(x, c, loss, g);
      results.push([out, a, bb, c, x, bias, g, loss].map((t) => b.readSync(t)));
    }
    for (let i = 0; i < results[0]!.length; i++) {
      expect(firstDifference(results[0]![i]!, results[1]![i]!), `tensor ${i}`).toBe(-1);
    }
  });

  it('runs the dense ops bit-identically at many shapes', async () => {
    const wasm = await make();
    const js = new JsBackend();
    const rng = createEngine('xoshiro128++', 77);
    const shapes = [
      [0, 3, 2],
      [1, 1, 1],
      [3, 5, 7],
      [4, 8, 3],
      [5, 9, 0],
      [8, 16, 16],
      [13, 17, 19],
      [33, 31, 9],
      [64, 64, 64],
      [128, 36, 20],
    ] as const;
    for (const [m, n, k] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [alpha, beta] of [
            [1, 0],
            [0.5, 0],
            [1, 1],
            [-2, 0.25],
          ] as const) {
            const a = randomValues(rng, m * k, 1);
            const b = randomValues(rng, k * n, 1);
            const c0 = randomValues(rng, m * n, 1);
            const cw = wasm.tensor(c0);
            const cj = js.tensor(c0);
            const args = { m, n, k, transA, transB, alpha, beta };
            wasm.matmul({ ...args, a: wasm.tensor(a), b: wasm.tensor(b), c: cw });
            js.matmul({ ...args, a: js.tensor(a), b: js.tensor(b), c: cj });
            expect(
              firstDifference(wasm.readSync(cw), js.readSync(cj)),
              `matmul ${m}x${n}x${k} ${transA} ${transB} ${alpha} ${beta}`,
            ).toBe(-1);
          }
        }
      }
      const values = randomValues(rng, m * n, 3);
      values[0] = -0;
      const bias = randomValues(rng, n, 1);
      const grad = randomValues(rng, m * n, 1);
      const labels = values.map((v) => (v > 0 ? 1 : 0));
      const results: Float32Array[][] = [];
      for (const be of [wasm, js] as (WasmBackend | JsBackend)[]) {
        const x = be.tensor(values);
        const g = be.tensor(grad);
        const [added, relu, sigmoid, back, sums, bceGrad] = [
          m * n,
          m * n,
          m * n,
          m * n,
          n,
          m * n,
        ].map((size) => be.tensor(size)) as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
        const loss = be.tensor(1);
        be.write(added, values);
        be.addBias(added, be.tensor(bias), m, n);
        be.relu(x, relu);
        be.sigmoid(x, sigmoid);
        be.reluBackward(g, x, back);
        be.sumRows(x, m, n, sums);
        be.bceWithLogits(x, be.tensor(labels), loss, bceGrad);
        results.push([added, relu, sigmoid, back, sums, bceGrad, loss].map((t) => be.readSync(t)));
      }
      const names = [
        'addBias',
        'relu',
        'sigmoid',
        'reluBackward',
        'sumRows',
        'bce grad',
        'bce loss',
      ];
      for (let i = 0; i < names.length; i++) {
        expect(firstDifference(results[0]![i]!, results[1]![i]!), `${names[i]} ${m}x${n}`).toBe(-1);
      }
    }
  });
});

describe('WasmBackend: memory and registry', () => {
  it('reports which build was selected', async () => {
    const backend = await createWasmBackend();
    expect(backend.build).toBe('simd');
    expect(backend.simdRejected).toBeUndefined();
    const scalar = await createWasmBackend({ build: 'scalar' });
    expect(scalar.build).toBe('scalar');
  });

  it('throws a clear error for a table beyond the 4 GiB of WASM memory, and stays usable', async () => {
    const backend = await createWasmBackend();
    const spec: TableSpec = {
      name: 'huge',
      index: 0,
      rows: 2 ** 20,
      dim: 2 ** 10,
      storage: 'float32',
      rounding: 'nearest-even',
      optimizer: sgd({ lr: 1 }),
      seed: 0n,
    };
    expect(() => backend.createTable(spec)).toThrow(WasmMemoryLimitError);
    expect(() => backend.createTable(spec)).toThrow(
      /table "huge" weights \(1048576 x 1024 float32\).*4 GiB/,
    );
    const small = backend.createTable({ ...spec, name: 'small', rows: 4, dim: 4 });
    expect(await backend.readRows(small)).toEqual(new Float32Array(16));
  });

  it('grows memory as tables are created and reuses freed blocks', async () => {
    const backend = await createWasmBackend();
    const spec: TableSpec = {
      name: 'grow',
      index: 0,
      rows: 1000,
      dim: 64,
      storage: 'float16',
      rounding: 'stochastic',
      optimizer: adam({ lr: 0.1 }),
      seed: 5n,
    };
    const before = backend.kernels.memory.buffer.byteLength;
    const a = backend.createTable(spec);
    expect(backend.kernels.memory.buffer.byteLength).toBeGreaterThan(before);
    const used = backend.kernels.allocator.bytesInUse;
    backend.disposeTable(a);
    expect(backend.kernels.allocator.bytesInUse).toBeLessThan(used);
    const size = backend.kernels.memory.buffer.byteLength;
    const b = backend.createTable(spec);
    expect(backend.kernels.memory.buffer.byteLength).toBe(size);
    expect(backend.exportTableSync(b).state.every((v) => v === 0)).toBe(true);
  });

  it('registers as "wasm" with priority above "js", and is selected first', async () => {
    registerBackend(jsBackend);
    registerBackend(wasmBackend);
    try {
      const selection = await selectBackend();
      expect(selection.name).toBe('wasm');
      expect(selection.rejected).toEqual([]);
      expect((selection.backend as WasmBackend).build).toBe('simd');
      expect(wasmBackend.priority).toBeGreaterThan(jsBackend.priority);
    } finally {
      unregisterBackend('wasm');
      unregisterBackend('js');
    }
  });
});
