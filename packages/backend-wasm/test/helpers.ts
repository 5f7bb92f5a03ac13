import {
  type Backend,
  BadInputError,
  type BagInput,
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
 * the tests): bad batches, gradients, steps, rows, and dense-op shapes.
 */
export function badInputCases(): [string, (b: Backend, h: TableHandle) => unknown][] {
  const ok: BagInput = { indices: Int32Array.from([1, 2]), offsets: Int32Array.from([0, 1]) };
  const grad = new Float32Array(8).fill(1);
  return [
    [
      'index out of range',
      (b, h) =>
        b.embeddingBagForward(
          h,
          { indices: Int32Array.from([10]), offsets: Int32Array.from([0]) },
          'sum',
        ),
    ],
    [
      'negative index',
      (b, h) =>
        b.embeddingBagForward(
          h,
          { indices: Int32Array.from([-1]), offsets: Int32Array.from([0]) },
          'sum',
        ),
    ],
    [
      'offsets not starting at 0',
      (b, h) =>
        b.embeddingBagForward(
          h,
          { indices: Int32Array.from([1]), offsets: Int32Array.from([1]) },
          'sum',
        ),
    ],
    [
      'decreasing offsets',
      (b, h) =>
        b.embeddingBagForward(
          h,
          { indices: Int32Array.from([1, 2, 3]), offsets: Int32Array.from([0, 2, 1]) },
          'sum',
        ),
    ],
    [
      'weights with mean',
      (b, h) => b.embeddingBagForward(h, { ...ok, perSampleWeights: new Float32Array(2) }, 'mean'),
    ],
    [
      'non-finite weight',
      (b, h) =>
        b.embeddingBagForward(
          h,
          { ...ok, perSampleWeights: Float32Array.from([1, Number.NaN]) },
          'sum',
        ),
    ],
    [
      'grad length',
      (b, h) =>
        b.embeddingBagBackward([
          { table: h, input: ok, pooling: 'sum', gradOutput: new Float32Array(7), step: 0 },
        ]),
    ],
    [
      'grad NaN',
      (b, h) =>
        b.embeddingBagBackward([
          {
            table: h,
            input: ok,
            pooling: 'sum',
            gradOutput: Float32Array.from([1, 1, 1, 1, 1, Number.NaN, 1, 1]),
            step: 0,
          },
        ]),
    ],
    [
      'grad sum overflow',
      (b, h) =>
        b.embeddingBagBackward([
          {
            table: h,
            input: { indices: Int32Array.from([1, 1]), offsets: Int32Array.from([0, 1]) },
            pooling: 'sum',
            gradOutput: new Float32Array(8).fill(3e38),
            step: 0,
          },
        ]),
    ],
    [
      'bad step',
      (b, h) =>
        b.embeddingBagBackward([
          { table: h, input: ok, pooling: 'sum', gradOutput: grad, step: -1 },
        ]),
    ],
    [
      'same table twice',
      (b, h) =>
        b.embeddingBagBackward([
          { table: h, input: ok, pooling: 'sum', gradOutput: grad, step: 0 },
          { table: h, input: ok, pooling: 'sum', gradOutput: grad, step: 0 },
        ]),
    ],
    ['readRows out of range', (b, h) => b.readRows(h, Int32Array.from([0, 10]))],
    ['writeRows wrong length', (b, h) => b.writeRows(h, new Float32Array(3))],
    [
      'importTable wrong length',
      (b, h) => b.importTable(h, { weights: new Uint8Array(3), state: new Uint8Array(0) }),
    ],
    [
      'matmul bad m',
      (b) =>
        b.matmul({
          m: -1,
          n: 1,
          k: 1,
          a: new Float32Array(1),
          b: new Float32Array(1),
          c: new Float32Array(1),
        }),
    ],
    [
      'matmul short a',
      (b) =>
        b.matmul({
          m: 2,
          n: 1,
          k: 2,
          a: new Float32Array(3),
          b: new Float32Array(2),
          c: new Float32Array(2),
        }),
    ],
    ['relu short out', (b) => b.relu(new Float32Array(3), new Float32Array(2))],
    ['sumRows short x', (b) => b.sumRows(new Float32Array(3), 2, 2, new Float32Array(2))],
  ];
}

/** Expects `actual()` to throw what `expected()` throws: same class, message and fields. */
export function expectSameError(
  label: string,
  expected: () => unknown,
  actual: () => unknown,
): void {
  let want: unknown;
  try {
    expected();
  } catch (error) {
    want = error;
  }
  expect(want, label).toBeInstanceOf(Error);
  let got: unknown;
  try {
    actual();
  } catch (error) {
    got = error;
  }
  expect(got, label).toBeInstanceOf((want as Error).constructor);
  expect((got as Error).message, label).toBe((want as Error).message);
  if (want instanceof BadInputError) {
    expect({ ...(got as BadInputError) }, label).toEqual({ ...want });
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
