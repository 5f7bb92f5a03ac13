import {
  adagrad,
  adam,
  momentum,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import type {
  Backend,
  BagInput,
  BagUpdateResult,
  Pooling,
  StorageName,
  TableHandle,
  TableSpec,
} from '../types.js';
import { type ConformanceContext, lcg } from './helpers.js';

const STORAGES: readonly StorageName[] = [
  'float32',
  'float16',
  'bfloat16',
  'float8e4m3',
  'float8e5m2',
];

/** Every optimizer, with the options that change its kernel (decay, max-norm, 16-bit state). */
const OPTIMIZERS: ReadonlyArray<readonly [string, SparseOptimizer]> = [
  ['sgd', sgd({ lr: 0.05 })],
  ['sgd l2 max-norm', sgd({ lr: 0.05, weightDecay: { mode: 'l2', rate: 0.01 }, maxNorm: 0.9 })],
  ['momentum', momentum({ lr: 0.05, momentum: 0.9 })],
  ['momentum fp16 state', momentum({ lr: 0.05, momentum: 0.9, stateStorage: 'float16' })],
  ['adagrad', adagrad({ lr: 0.05 })],
  ['adagrad bf16 state', adagrad({ lr: 0.05, stateStorage: 'bfloat16' })],
  ['row-wise adagrad', rowwiseAdagrad({ lr: 0.05 })],
  ['adam', adam({ lr: 0.01 })],
  ['adam decoupled', adam({ lr: 0.01, weightDecay: { mode: 'decoupled', rate: 0.01 } })],
];

/** One table of the identity run: its spec and how its bags pool. */
interface Case {
  readonly spec: TableSpec;
  readonly pooling: Pooling;
  readonly weighted: boolean;
}

let runs = 0;

/** The identity run's tables; names are new each call (a store keeps tables by name). */
function cases(): Case[] {
  const list: Case[] = [];
  const run = ++runs;
  const add = (
    name: string,
    rest: Omit<TableSpec, 'name' | 'index' | 'seed' | 'rows'>,
    pooling: Pooling,
    weighted = false,
  ) =>
    list.push({
      spec: {
        name: `${name} #${run}`,
        index: list.length,
        seed: 0x1234_5678_9abcn,
        rows: 37,
        ...rest,
      },
      pooling,
      weighted,
    });
  for (const [what, optimizer] of OPTIMIZERS) {
    for (const storage of STORAGES) {
      add(`${what} ${storage}`, { dim: 6, storage, rounding: 'stochastic', optimizer }, 'sum');
    }
  }
  for (const storage of STORAGES) {
    add(
      `nearest-even ${storage}`,
      { dim: 5, storage, rounding: 'nearest-even', optimizer: sgd({ lr: 0.1 }) },
      'sum',
    );
  }
  add(
    'mean',
    { dim: 8, storage: 'float16', rounding: 'stochastic', optimizer: sgd({ lr: 0.1 }) },
    'mean',
  );
  add(
    'weighted',
    { dim: 8, storage: 'float16', rounding: 'stochastic', optimizer: adagrad({ lr: 0.1 }) },
    'sum',
    true,
  );
  add(
    'wide',
    { dim: 67, storage: 'bfloat16', rounding: 'stochastic', optimizer: adam({ lr: 0.01 }) },
    'sum',
  );
  return list;
}

/** One step's batch for a table: 9 bags of 0..5 lookups with duplicates. */
function batchOf(rnd: () => number, c: Case): BagInput {
  const offsets = new Int32Array(9);
  const indices: number[] = [];
  for (let b = 0; b < 9; b++) {
    offsets[b] = indices.length;
    const size = Math.floor(rnd() * 6);
    for (let i = 0; i < size; i++) indices.push(Math.floor(rnd() * rnd() * c.spec.rows));
  }
  const input: BagInput = { indices: Int32Array.from(indices), offsets };
  return c.weighted
    ? { ...input, perSampleWeights: Float32Array.from(indices, () => rnd() * 2 - 1) }
    : input;
}

/** Trains every case on `backend` for `steps` steps; returns the stored bytes and the outputs. */
async function train(backend: Backend, steps: number, exportsTables: boolean): Promise<Trained> {
  const list = cases();
  const rnd = lcg(2024);
  // Table 0 starts from the seeded uniform init (the same on every backend), the others from
  // given values.
  const tables: TableHandle[] = list.map((c, k) =>
    backend.createTable({
      ...c.spec,
      init:
        k === 0
          ? { uniform: 0.3 }
          : Float32Array.from({ length: c.spec.rows * c.spec.dim }, () => (rnd() - 0.5) * 0.4),
    }),
  );
  const outputs: Float32Array[] = [];
  const results: BagUpdateResult[] = [];
  for (let step = 0; step < steps; step++) {
    const inputs = list.map((c) => batchOf(rnd, c));
    const outs = list.map((c, k) => {
      const out = backend.tensor(inputs[k]!.offsets.length * c.spec.dim);
      backend.embeddingBagForward(tables[k]!, inputs[k]!, c.pooling, out);
      return out;
    });
    const grads = list.map((c, k) => {
      const g = Float32Array.from(
        { length: inputs[k]!.offsets.length * c.spec.dim },
        () => (rnd() - 0.5) * 0.5,
      );
      // The last step puts a huge finite value in each gradient: depending on the optimizer the
      // row's sum, new weight or new state overflows, and 'skip-rows' must skip the same rows.
      if (step === steps - 1) g[Math.floor(rnd() * g.length)] = rnd() < 0.5 ? 3e38 : -3e38;
      return backend.tensor(g);
    });
    const result = await backend.embeddingBagBackward(
      list.map((c, k) => ({
        table: tables[k]!,
        input: inputs[k]!,
        pooling: c.pooling,
        gradOutput: grads[k]!,
        step,
        nonFinite: 'skip-rows' as const,
      })),
    );
    if (step === steps - 1) results.push(...result);
    if (step === steps - 1) for (const o of outs) outputs.push(await backend.read(o));
    for (const t of [...outs, ...grads]) backend.disposeTensor(t);
  }
  const values: Float32Array[] = [];
  const bytes: Uint8Array[] = [];
  for (const t of tables) {
    values.push(await backend.readRows(t));
    if (exportsTables) {
      const data = await backend.exportTable(t);
      bytes.push(data.weights, data.state);
    }
    backend.disposeTable(t);
  }
  return { values, bytes, outputs, results };
}

/** What a run of `train` leaves: decoded weights, stored bytes (when exported), last outputs. */
interface Trained {
  readonly values: Float32Array[];
  readonly bytes: Uint8Array[];
  readonly outputs: Float32Array[];
  /** What the last step's backward reported per table. */
  readonly results: BagUpdateResult[];
}

/**
 * Bit identity with the reference backend: every optimizer x storage, both roundings, every
 * pooling, trained table-batched for a few steps from the same data; stored bytes and pooled
 * outputs compared exactly.
 */
export function describeIdentity(ctx: ConformanceContext): void {
  describe('bit identity with the reference backend', () => {
    it('every optimizer, storage, rounding and pooling: the same stored bytes and outputs', async () => {
      const reference = ctx.reference();
      const backend = ctx.backend();
      const got = await train(backend, 4, ctx.exportsTables);
      // Against the reference; on the reference itself, a rerun must reproduce every bit.
      const want = await train(reference ?? backend, 4, ctx.exportsTables);
      cases().forEach((c, k) => {
        expect([...got.values[k]!], `${c.spec.name} weights`).toEqual([...want.values[k]!]);
      });
      const names = cases().flatMap((c) => [`${c.spec.name} weights`, `${c.spec.name} state`]);
      for (let k = 0; k < got.bytes.length; k++) {
        expect(
          Buffer.compare(Buffer.from(got.bytes[k]!), Buffer.from(want.bytes[k]!)),
          names[k],
        ).toBe(0);
      }
      for (let k = 0; k < got.outputs.length; k++) {
        expect([...got.outputs[k]!], cases()[k]!.spec.name).toEqual([...want.outputs[k]!]);
      }
      const counts = (r: BagUpdateResult[]) =>
        r.map(({ updatedRows, skippedRows }) => ({ updatedRows, skippedRows }));
      expect(counts(got.results)).toEqual(counts(want.results));
      expect(
        got.results.reduce((n, r) => n + r.skippedRows, 0),
        'rows skipped in the last step',
      ).toBeGreaterThan(0);
    }, 120_000);

    it('the random bits depend on the seed: another seed gives other bytes', async () => {
      const backend = ctx.backend();
      const make = (seed: bigint, k: number) =>
        backend.createTable({
          name: `seeded${k}`,
          index: 0,
          rows: 8,
          dim: 16,
          storage: 'float16',
          rounding: 'stochastic',
          optimizer: sgd({ lr: 0.01 }),
          seed,
          init: new Float32Array(128).fill(0.3),
        });
      const ids = Int32Array.from({ length: 8 }, (_, i) => i);
      const g = backend.tensor(Float32Array.from({ length: 128 }, (_, i) => Math.sin(i) * 0.3));
      const results: Float32Array[] = [];
      for (const [k, seed] of [1n, 1n, 2n].entries()) {
        const t = make(seed, k);
        await backend.embeddingBagBackward([
          {
            table: t,
            input: { indices: ids, offsets: ids },
            pooling: 'sum',
            gradOutput: g,
            step: 3,
          },
        ]);
        results.push(await backend.readRows(t));
      }
      expect([...results[0]!]).toEqual([...results[1]!]);
      expect([...results[0]!]).not.toEqual([...results[2]!]);
    });
  });
}
