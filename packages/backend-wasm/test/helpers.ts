import {
  type Backend,
  BadInputError,
  type BagInput,
  type BagUpdate,
  type NonFinitePolicy,
  type Pooling,
  type TableHandle,
  type TableSpec,
} from '@halfstep/backend';
import { adam, rowwiseAdagrad, sgd } from '@halfstep/optim';
import { createEngine } from '@halfstep/rng';
import { expect } from 'vitest';
import { type Kernels, loadKernels, type WasmBuild } from '../src/index.js';

/** Both builds: every test runs on each (the SIMD one only where the platform validates it). */
export const BUILDS: readonly WasmBuild[] = ['simd', 'scalar'];

const cache = new Map<WasmBuild, Promise<Kernels>>();

/** A kernel instance of `build`, shared by the tests of a file. */
export function kernels(build: WasmBuild): Promise<Kernels> {
  let k = cache.get(build);
  if (!k) {
    k = loadKernels({ build });
    cache.set(build, k);
  }
  return k;
}

/** `n` uniformly random 32-bit patterns (seeded), as float32 values. */
export function randomBits(n: number, seed: number): Float32Array {
  const words = createEngine('xoshiro128++', seed).fillUint32(new Uint32Array(n));
  return new Float32Array(words.buffer);
}

/** `n` normal-ish float32 values (sum of uniforms) with standard deviation about `scale`. */
export function normalish(n: number, scale: number, seed: number): Float32Array {
  const engine = createEngine('xoshiro128++', seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = (engine.nextFloat() + engine.nextFloat() + engine.nextFloat() - 1.5) * 2 * scale;
  }
  return out;
}

/** The index of the first difference of two arrays' bit patterns, or -1 (length included). */
export function firstDifference(a: ArrayBufferView, b: ArrayBufferView): number {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** Lengths around the SIMD widths and chunk sizes, empty included. */
export const LENGTHS = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 4095, 4096, 4097, 65535, 65537];

/**
 * Calls that must fail with the reference's error, on a table of 10 rows x 4 (a float16 one in
 * the tests): bad batches, gradients, steps, rows, tensor sizes and dense-op shapes. Each call
 * makes its tensors on the backend it is given, from the same values.
 */
export function badInputCases(): [string, (b: Backend, h: TableHandle) => unknown][] {
  const ok: BagInput = { indices: Int32Array.from([1, 2]), offsets: Int32Array.from([0, 1]) };
  const grad = new Float32Array(8).fill(1);
  const forward = (b: Backend, h: TableHandle, input: BagInput, pooling: Pooling = 'sum') =>
    b.embeddingBagForward(h, input, pooling, b.tensor(input.offsets.length * 4));
  const backward = (
    b: Backend,
    h: TableHandle,
    gradOutput: Float32Array,
    extra: Partial<BagUpdate> = {},
  ) =>
    b.embeddingBagBackward([
      { table: h, input: ok, pooling: 'sum', gradOutput: b.tensor(gradOutput), step: 0, ...extra },
    ]);
  return [
    [
      'index out of range',
      (b, h) => forward(b, h, { indices: Int32Array.from([10]), offsets: Int32Array.from([0]) }),
    ],
    [
      'negative index',
      (b, h) => forward(b, h, { indices: Int32Array.from([-1]), offsets: Int32Array.from([0]) }),
    ],
    [
      'offsets not starting at 0',
      (b, h) => forward(b, h, { indices: Int32Array.from([1]), offsets: Int32Array.from([1]) }),
    ],
    [
      'decreasing offsets',
      (b, h) =>
        forward(b, h, {
          indices: Int32Array.from([1, 2, 3]),
          offsets: Int32Array.from([0, 2, 1]),
        }),
    ],
    [
      'weights with mean',
      (b, h) => forward(b, h, { ...ok, perSampleWeights: new Float32Array(2) }, 'mean'),
    ],
    [
      'non-finite weight',
      (b, h) => forward(b, h, { ...ok, perSampleWeights: Float32Array.from([1, Number.NaN]) }),
    ],
    ['forward out too small', (b, h) => b.embeddingBagForward(h, ok, 'sum', b.tensor(7))],
    ['grad size', (b, h) => backward(b, h, new Float32Array(7))],
    [
      'grad NaN (rejects)',
      (b, h) => backward(b, h, Float32Array.from([1, 1, 1, 1, 1, Number.NaN, 1, 1])),
    ],
    [
      'bad nonFinite policy',
      (b, h) => backward(b, h, grad, { nonFinite: 'ignore' as unknown as NonFinitePolicy }),
    ],
    [
      'grad sum overflow (rejects)',
      (b, h) =>
        b.embeddingBagBackward([
          {
            table: h,
            input: { indices: Int32Array.from([1, 1]), offsets: Int32Array.from([0, 1]) },
            pooling: 'sum',
            gradOutput: b.tensor(new Float32Array(8).fill(3e38)),
            step: 0,
          },
        ]),
    ],
    ['bad step', (b, h) => backward(b, h, grad, { step: -1 })],
    [
      'same table twice',
      (b, h) =>
        b.embeddingBagBackward([
          { table: h, input: ok, pooling: 'sum', gradOutput: b.tensor(grad), step: 0 },
          { table: h, input: ok, pooling: 'sum', gradOutput: b.tensor(grad), step: 0 },
        ]),
    ],
    [
      'a NaN gradient before a bad index in a later table: the index error, at once',
      (b, h) => {
        const second = b.createTable({
          name: 'second',
          index: 1,
          rows: h.rows,
          dim: h.dim,
          storage: h.storage,
          rounding: h.rounding,
          optimizer: h.optimizer,
          seed: h.seed,
        });
        return b.embeddingBagBackward([
          {
            table: h,
            input: ok,
            pooling: 'sum',
            gradOutput: b.tensor(grad.map(() => Number.NaN)),
            step: 0,
          },
          {
            table: second,
            input: { indices: Int32Array.from([1, 10]), offsets: Int32Array.from([0, 1]) },
            pooling: 'sum',
            gradOutput: b.tensor(grad),
            step: 0,
          },
        ]);
      },
    ],
    ['readRows out of range (rejects)', (b, h) => b.readRows(h, Int32Array.from([0, 10]))],
    ['readRowsSync out of range', (b, h) => b.readRowsSync?.(h, Int32Array.from([0, 10]))],
    ['writeRows wrong length', (b, h) => b.writeRows(h, new Float32Array(3))],
    [
      'writeRows row out of range',
      (b, h) => b.writeRows(h, new Float32Array(4), Int32Array.from([10])),
    ],
    [
      'importTable wrong length',
      (b, h) => b.importTable(h, { weights: new Uint8Array(3), state: new Uint8Array(0) }),
    ],
    [
      'matmul bad m',
      (b) => b.matmul({ m: -1, n: 1, k: 1, a: b.tensor(1), b: b.tensor(1), c: b.tensor(1) }),
    ],
    [
      'matmul short a',
      (b) => b.matmul({ m: 2, n: 1, k: 2, a: b.tensor(3), b: b.tensor(2), c: b.tensor(2) }),
    ],
    [
      'matmul short c',
      (b) => b.matmul({ m: 2, n: 2, k: 1, a: b.tensor(2), b: b.tensor(2), c: b.tensor(3) }),
    ],
    ['addBias bad cols', (b) => b.addBias(b.tensor(4), b.tensor(2), 2, 1.5)],
    ['addBias short bias', (b) => b.addBias(b.tensor(4), b.tensor(1), 2, 2)],
    ['relu short out', (b) => b.relu(b.tensor(3), b.tensor(2))],
    ['reluBackward short x', (b) => b.reluBackward(b.tensor(3), b.tensor(2), b.tensor(3))],
    ['sigmoid short out', (b) => b.sigmoid(b.tensor(3), b.tensor(2))],
    ['bceWithLogits short labels', (b) => b.bceWithLogits(b.tensor(3), b.tensor(2), b.tensor(1))],
    ['bceWithLogits empty loss', (b) => b.bceWithLogits(b.tensor(3), b.tensor(3), b.tensor(0))],
    ['sumRows short x', (b) => b.sumRows(b.tensor(3), 2, 2, b.tensor(2))],
    ['sumRows short out', (b) => b.sumRows(b.tensor(4), 2, 2, b.tensor(1))],
    ['tensor of a bad size', (b) => b.tensor(-1)],
    ['write past the end', (b) => b.write(b.tensor(2), new Float32Array(2), 1)],
  ];
}

/** How a call failed: it threw at once, or returned a promise (or step result) that rejected. */
interface Failure {
  readonly how: 'throws' | 'rejects';
  readonly error: unknown;
}

/** Runs `run` and awaits what it returns when that is thenable; null when nothing failed. */
async function failureOf(run: () => unknown): Promise<Failure | null> {
  let result: unknown;
  try {
    result = run();
  } catch (error) {
    return { how: 'throws', error };
  }
  if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
    try {
      await result;
    } catch (error) {
      return { how: 'rejects', error };
    }
  }
  return null;
}

/**
 * Expects `actual()` to fail as `expected()` fails: thrown at once or rejected alike, the same
 * class, message and fields.
 */
export async function expectSameError(
  label: string,
  expected: () => unknown,
  actual: () => unknown,
): Promise<void> {
  const want = await failureOf(expected);
  if (want === null) throw new Error(`${label}: the reference did not fail`);
  const error = want.error as Error;
  expect(error, label).toBeInstanceOf(Error);
  const got = await failureOf(actual);
  if (got === null) throw new Error(`${label}: expected a failure like "${error.message}"`);
  expect(got.how, label).toBe(want.how);
  expect(got.error, label).toBeInstanceOf(error.constructor);
  expect((got.error as Error).message, label).toBe(error.message);
  if (error instanceof BadInputError) {
    expect({ ...(got.error as BadInputError) }, label).toEqual({ ...error });
  }
}

/**
 * Three tables that exercise the threaded update paths: float16 SGD (stochastic), bfloat16 Adam
 * with float16 state (stochastic), float8 e4m3 row-wise Adagrad (nearest-even). Fresh optimizer
 * objects on every call.
 */
export function threeTableSpecs(): TableSpec[] {
  return [
    {
      name: 'a',
      index: 0,
      rows: 500,
      dim: 16,
      storage: 'float16',
      rounding: 'stochastic',
      optimizer: sgd({ lr: 0.3 }),
      seed: 7n,
    },
    {
      name: 'b',
      index: 1,
      rows: 300,
      dim: 5,
      storage: 'bfloat16',
      rounding: 'stochastic',
      optimizer: adam({ lr: 0.01, stateStorage: 'float16' }),
      seed: 8n,
    },
    {
      name: 'c',
      index: 2,
      rows: 200,
      dim: 8,
      storage: 'float8e4m3',
      rounding: 'nearest-even',
      optimizer: rowwiseAdagrad({ lr: 0.1 }),
      seed: 9n,
    },
  ];
}
