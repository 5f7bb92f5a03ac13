import type {
  Backend,
  BagUpdate,
  BagUpdateResult,
  NonFinitePolicy,
  TableHandle,
  TableSpec,
} from '@halfstep/backend';
import { JsBackend } from '@halfstep/backend-js';
import { adagrad, adam, momentum, rowwiseAdagrad, sgd } from '@halfstep/optim';
import { createEngine } from '@halfstep/rng';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createWasmBackend,
  HogwildPool,
  loadKernels,
  UpdatePool,
  WasmBackend,
} from '../src/index.js';
import { workerFaults } from '../src/threads.js';
import { firstDifference } from './helpers.js';

// A finite gradient whose update is not: lr 2 x 3e38 overflows SGD and momentum, 3e38^2 the
// state of Adam and Adagrad (see the conformance suite's non-finite cases).
const HUGE = 3e38;
const ROWS = 64;

/**
 * Tables over the kernel's paths: float16 and bfloat16 SGD of 8 and 16 elements (the
 * register-resident path, random words drawn two rows at a time), float32 Adam (float32 state
 * copied in and out), float16 Adagrad with float16 state and L2, float8 momentum with max-norm.
 */
function specs(): TableSpec[] {
  const base = { rows: ROWS, rounding: 'stochastic' as const };
  return [
    {
      ...base,
      name: 'f16',
      index: 0,
      dim: 8,
      storage: 'float16',
      optimizer: sgd({ lr: 2 }),
      seed: 3n,
    },
    {
      ...base,
      name: 'bf16',
      index: 1,
      dim: 16,
      storage: 'bfloat16',
      optimizer: sgd({ lr: 2 }),
      seed: 4n,
    },
    {
      ...base,
      name: 'f32',
      index: 2,
      dim: 5,
      storage: 'float32',
      optimizer: adam({ lr: 0.01 }),
      seed: 5n,
    },
    {
      ...base,
      name: 'ada',
      index: 3,
      dim: 12,
      storage: 'float16',
      optimizer: adagrad({
        lr: 0.1,
        weightDecay: { rate: 0.01, mode: 'l2' },
        stateStorage: 'float16',
      }),
      seed: 6n,
    },
    {
      ...base,
      name: 'f8',
      index: 4,
      dim: 3,
      storage: 'float8e5m2',
      optimizer: momentum({ lr: 2, momentum: 0.9, maxNorm: 4 }),
      seed: 7n,
    },
    {
      ...base,
      name: 'rw',
      index: 5,
      dim: 7,
      storage: 'bfloat16',
      rounding: 'nearest-even',
      optimizer: rowwiseAdagrad({ lr: 0.1 }),
      seed: 8n,
    },
    // Plain SGD of float32 rows: its own one-pass path (dim 6: the scalar tail too).
    {
      ...base,
      name: 'f32sgd',
      index: 6,
      dim: 6,
      storage: 'float32',
      optimizer: sgd({ lr: 2 }),
      seed: 9n,
    },
  ] as TableSpec[];
}

/** [table, row]: rows whose gradient gets a HUGE element at one step. */
type Poison = readonly (readonly [number, number])[];

/**
 * The poisoned rows of each case. With 3 threads (`minRowsPerThread` 1) the 64 rows split as
 * 0-20, 21-41, 42-63: rows 30 and 50 lie in the workers' parts.
 */
const CASES: readonly { readonly name: string; readonly poison: Poison }[] = [
  { name: 'none', poison: [] },
  { name: 'the calling thread’s part', poison: [[0, 5]] },
  {
    name: 'two workers’ parts (the smaller row is named)',
    poison: [
      [2, 50],
      [2, 30],
      [6, 45],
    ],
  },
  { name: 'the last row, state only (Adagrad)', poison: [[3, 63]] },
  {
    name: 'an even row of a pair (the odd one keeps its bits)',
    poison: [
      [0, 2],
      [1, 40],
      [4, 10],
      [4, 20],
      [4, 44],
    ],
  },
  {
    name: 'both rows of a pair, and later tables',
    poison: [
      [1, 0],
      [1, 1],
      [4, 33],
      [5, 60],
      [6, 0],
      [6, 63],
    ],
  },
];

/** Every row once, in a shuffled order, one bag per row; small gradients except the poison. */
function step(
  backend: Backend,
  tables: readonly TableHandle[],
  s: number,
  poison: Poison,
  policy: NonFinitePolicy,
): BagUpdate[] {
  const rng = createEngine('xoshiro128++', 100 + s);
  return tables.map((table, t) => {
    const order = Int32Array.from({ length: ROWS }, (_, r) => r);
    for (let i = ROWS - 1; i > 0; i--) {
      const j = Math.floor(rng.nextFloat() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const grad = new Float32Array(ROWS * table.dim).map(() => rng.nextFloat() - 0.5);
    for (const [pt, row] of poison) {
      if (pt === t) grad[order.indexOf(row) * table.dim] = HUGE;
    }
    return {
      table,
      input: { indices: order, offsets: Int32Array.from({ length: ROWS }, (_, b) => b) },
      pooling: 'sum' as const,
      gradOutput: backend.tensor(grad),
      step: s,
      nonFinite: policy,
    };
  });
}

/** The step's counts, or its error's message. */
async function outcome(result: PromiseLike<BagUpdateResult[]>): Promise<unknown> {
  try {
    return await result;
  } catch (error) {
    return String(error);
  }
}

/** Exported bytes of every table. */
async function contents(backend: Backend, tables: readonly TableHandle[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const t of tables) {
    const { weights, state } = await backend.exportTable(t);
    out.push(weights, state);
  }
  return out;
}

/** Trains fresh tables 3 steps (the second poisoned); per step the outcome and the tables. */
async function run(
  backend: Backend,
  poison: Poison,
  policy: NonFinitePolicy,
): Promise<{ outcomes: unknown[]; snapshots: Uint8Array[][] }> {
  const tables = specs().map((s) => backend.createTable(s));
  const rng = createEngine('xoshiro128++', 1);
  for (const t of tables) {
    backend.writeRows(
      t,
      new Float32Array(t.rows * t.dim).map(() => rng.nextFloat() - 0.5),
    );
  }
  const outcomes: unknown[] = [];
  const snapshots: Uint8Array[][] = [];
  for (let s = 0; s < 3; s++) {
    const updates = step(backend, tables, s, s === 1 ? poison : [], policy);
    outcomes.push(await outcome(backend.embeddingBagBackward(updates)));
    snapshots.push(await contents(backend, tables));
    for (const u of updates) backend.disposeTensor(u.gradOutput);
  }
  for (const t of tables) backend.disposeTable(t);
  return { outcomes, snapshots };
}

const backends: Backend[] = [];
afterAll(() => {
  for (const b of backends) b.dispose();
});

const MODES: readonly { readonly name: string; readonly create: () => Promise<WasmBackend> }[] = [
  { name: 'SIMD, one thread', create: () => createWasmBackend() },
  { name: 'scalar', create: () => createWasmBackend({ build: 'scalar' }) },
  {
    name: '3 threads, reproducible',
    create: () => createWasmBackend({ threads: 3, minRowsPerThread: 1 }),
  },
  // Every step awaited: one job at a time, so hogwild is deterministic here.
  { name: '2 threads, hogwild', create: () => createWasmBackend({ threads: 2, mode: 'hogwild' }) },
];

describe.each(MODES)('a non-finite new weight or state: $name', ({ create }) => {
  it.each(CASES)(
    '$name: the reference’s outcome and bytes under both policies',
    async ({ poison }) => {
      const backend = await create();
      backends.push(backend);
      for (const policy of ['error', 'skip-rows'] as const) {
        const want = await run(new JsBackend(), poison, policy);
        const got = await run(backend, poison, policy);
        expect(got.outcomes, policy).toEqual(want.outcomes);
        for (let s = 0; s < 3; s++) {
          for (let i = 0; i < want.snapshots[s]!.length; i++) {
            const label = `${policy}, step ${s}, table ${i >> 1} ${i & 1 ? 'state' : 'weights'}`;
            expect(firstDifference(got.snapshots[s]![i]!, want.snapshots[s]![i]!), label).toBe(-1);
          }
        }
        if (poison.length > 0 && policy === 'error') {
          // Refused: the poisoned step changed no table.
          expect(got.outcomes[1]).toMatch(/gives a non-finite weight or optimizer state/);
          for (let i = 0; i < got.snapshots[0]!.length; i++) {
            expect(firstDifference(got.snapshots[1]![i]!, got.snapshots[0]![i]!)).toBe(-1);
          }
        }
      }
    },
  );
});

describe("a mixed call: 'skip-rows' tables before an 'error' table that refuses", () => {
  it.each(MODES)('$name: every table of the call is left unchanged', async ({ create }) => {
    const backend = await create();
    backends.push(backend);
    const tables = specs().map((s) => backend.createTable(s));
    const rng = createEngine('xoshiro128++', 2);
    for (const t of tables) {
      backend.writeRows(
        t,
        new Float32Array(t.rows * t.dim).map(() => rng.nextFloat() - 0.5),
      );
    }
    // A clean step first: the journals then hold other codes than the next call's rows.
    await backend.embeddingBagBackward(step(backend, tables, 0, [], 'error'));
    const before = await contents(backend, tables);
    // Every 'skip-rows' table skips a row (journaled all the same), then "f8" refuses.
    const poison: Poison = [
      [0, 7],
      [1, 8],
      [2, 9],
      [3, 10],
      [5, 11],
      [6, 12],
      [4, 40],
    ];
    const all = step(backend, tables, 1, poison, 'skip-rows');
    const updates = [6, 0, 1, 2, 3, 5, 4].map((t) =>
      t === 4 ? { ...all[t]!, nonFinite: 'error' as const } : all[t]!,
    );
    await expect(backend.embeddingBagBackward(updates)).rejects.toThrow(
      /table "f8": the update of row 40 gives a non-finite weight/,
    );
    const after = await contents(backend, tables);
    for (let i = 0; i < before.length; i++) {
      expect(firstDifference(after[i]!, before[i]!), `table ${i >> 1}`).toBe(-1);
    }
    for (const t of tables) backend.disposeTable(t);
  });
});

describe('hogwild: the outcome comes from the worker', () => {
  it('a refused step nobody awaited: flush rejects with it once, and no table changed', async () => {
    const backend = await createWasmBackend({ threads: 2, mode: 'hogwild' });
    backends.push(backend);
    const tables = specs().map((s) => backend.createTable(s));
    const before = await contents(backend, tables);
    backend.embeddingBagBackward(step(backend, tables, 0, [[2, 30]], 'error'));
    expect(backend.stats().submissions).toBe(1);
    await expect(backend.flush()).rejects.toThrow(
      /table "f32": the update of row 30 gives a non-finite weight or optimizer state; nothing was updated/,
    );
    await backend.flush();
    const after = await contents(backend, tables);
    for (let i = 0; i < before.length; i++) expect(firstDifference(after[i]!, before[i]!)).toBe(-1);
    // 'skip-rows': the worker's counts.
    const result = backend.embeddingBagBackward(
      step(
        backend,
        tables,
        1,
        [
          [2, 30],
          [3, 1],
          [3, 2],
        ],
        'skip-rows',
      ),
    );
    expect((await result).map((r) => r.skippedRows)).toEqual([0, 0, 1, 2, 0, 0, 0]);
    expect((await result).map((r) => r.updatedRows)).toEqual([64, 64, 63, 62, 64, 64, 64]);
  });
});

describe('a worker that dies half-way through a refused update', () => {
  it.each(['reproducible', 'hogwild'] as const)(
    '%s: the call is still refused, no table changed',
    async (mode) => {
      const kernels = await loadKernels({ shared: true });
      const pool =
        mode === 'hogwild'
          ? await HogwildPool.start(kernels, 2)
          : await UpdatePool.start(kernels, 2);
      const backend = new WasmBackend(kernels, pool, 1, mode);
      backends.push(backend);
      const tables = specs().map((s) => backend.createTable(s));
      const before = await contents(backend, tables);
      // Reproducible: rows 32-63 are the worker's. Hogwild: the worker runs the whole call.
      workerFaults(pool).arm(0, 'mid-update', 4);
      const result = backend.embeddingBagBackward(step(backend, tables, 0, [[3, 50]], 'error'));
      await expect(result).rejects.toThrow(/table "ada": the update of row 50 gives a non-finite/);
      await backend.flush();
      const after = await contents(backend, tables);
      for (let i = 0; i < before.length; i++)
        expect(firstDifference(after[i]!, before[i]!)).toBe(-1);
      expect(workerFaults(pool).failures).toHaveLength(1);
    },
  );
});
