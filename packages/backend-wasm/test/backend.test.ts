import {
  type Backend,
  type BagInput,
  type Pooling,
  registerBackend,
  type StorageName,
  selectBackend,
  type TableSpec,
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
  a: Backend,
  b: Backend,
  ha: ReturnType<Backend['createTable']>,
  hb: typeof ha,
  label: string,
) {
  const x = a.exportTable(ha);
  const y = b.exportTable(hb);
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
        const gradOutput = randomValues(rng, input.offsets.length * dim, 2e-4);
        wasm.embeddingBagBackward([{ table: hw, input, pooling: 'sum', gradOutput, step }]);
        js.embeddingBagBackward([{ table: hj, input, pooling: 'sum', gradOutput, step }]);
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
              const fw = wasm.embeddingBagForward(hw, input, pooling);
              const fj = js.embeddingBagForward(hj, input, pooling);
              expect(firstDifference(fw, fj), `forward dim ${dim} step ${step}`).toBe(-1);
              const gradOutput = randomValues(rng, input.offsets.length * dim, 2);
              const rw = wasm.embeddingBagBackward([
                { table: hw, input, pooling, gradOutput: gradOutput.slice(), step },
              ]);
              const rj = js.embeddingBagBackward([
                { table: hj, input, pooling, gradOutput: gradOutput.slice(), step },
              ]);
              expect(rw).toEqual(rj);
              expectSameTables(wasm, js, hw, hj, `${rounding} dim ${dim} step ${step}`);
            }
            expect(firstDifference(wasm.readRows(hw), js.readRows(hj))).toBe(-1);
            const some = Int32Array.from([3, 0, 39, 3]);
            expect(firstDifference(wasm.readRows(hw, some), js.readRows(hj, some))).toBe(-1);
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
    grads[1][7] = Number.NaN;
    grads[1][20] = Number.POSITIVE_INFINITY;
    const run = (b: Backend, h: typeof hw) =>
      b.embeddingBagBackward(
        h.map((table, i) => ({
          table,
          input,
          pooling: 'sum' as const,
          gradOutput: grads[i].slice(),
          step: 4,
          nonFinite: 'skip-rows' as const,
        })),
      );
    expect(run(wasm, hw)).toEqual(run(js, hj));
    for (let i = 0; i < 2; i++) expectSameTables(wasm, js, hw[i], hj[i], `table ${i}`);
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
    const cases = badInputCases();
    const before = wasm.exportTable(hw);
    for (const [label, run] of cases)
      expectSameError(
        label,
        () => run(js, hj),
        () => run(wasm, hw),
      );
    expect(wasm.exportTable(hw)).toEqual(before);
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
    ];
    for (const [m, n, k] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const [alpha, beta] of [
            [1, 0],
            [0.5, 0],
            [1, 1],
            [-2, 0.25],
          ]) {
            const a = randomValues(rng, m * k, 1);
            const b = randomValues(rng, k * n, 1);
            const c0 = randomValues(rng, m * n, 1);
            const cw = c0.slice();
            const cj = c0.slice();
            wasm.matmul({ m, n, k, a, b, c: cw, transA, transB, alpha, beta });
            js.matmul({ m, n, k, a, b, c: cj, transA, transB, alpha, beta });
            expect(
              firstDifference(cw, cj),
              `matmul ${m}x${n}x${k} ${transA} ${transB} ${alpha} ${beta}`,
            ).toBe(-1);
          }
        }
      }
      const x = randomValues(rng, m * n, 3);
      x[0] = -0;
      const bias = randomValues(rng, n, 1);
      const xw = x.slice();
      const xj = x.slice();
      wasm.addBias(xw, bias, m, n);
      js.addBias(xj, bias, m, n);
      expect(firstDifference(xw, xj)).toBe(-1);
      for (const op of ['relu', 'sigmoid'] as const) {
        const ow = new Float32Array(x.length);
        const oj = new Float32Array(x.length);
        wasm[op](x, ow);
        js[op](x, oj);
        expect(firstDifference(ow, oj), op).toBe(-1);
      }
      const g = randomValues(rng, m * n, 1);
      const rw = new Float32Array(g.length);
      const rj = new Float32Array(g.length);
      wasm.reluBackward(g, x, rw);
      js.reluBackward(g, x, rj);
      expect(firstDifference(rw, rj)).toBe(-1);
      const sw = new Float32Array(n);
      const sj = new Float32Array(n);
      wasm.sumRows(x, m, n, sw);
      js.sumRows(x, m, n, sj);
      expect(firstDifference(sw, sj)).toBe(-1);
      const labels = x.map((v) => (v > 0 ? 1 : 0));
      const gw = new Float32Array(x.length);
      const gj = new Float32Array(x.length);
      expect(wasm.bceWithLogits(x, labels, gw)).toBe(js.bceWithLogits(x, labels, gj));
      expect(firstDifference(gw, gj)).toBe(-1);
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
    expect(backend.readRows(small)).toEqual(new Float32Array(16));
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
    expect(backend.exportTable(b).state.every((v) => v === 0)).toBe(true);
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
