import {
  type Backend,
  BadInputError,
  initialRows,
  type TableHandle,
  type TableSpec,
} from '@halfstep/backend';
import { createJsBackend } from '@halfstep/backend-js';
import { adagrad, adam, momentum, rowwiseAdagrad, sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import {
  createEmbeddingBagCollection,
  createMemoryTableStore,
  createStoreBackend,
  type StoreBackendOptions,
  type StoreBagUpdateResult,
  type TableConfig,
  TableMismatchError,
  type TableStore,
} from '../src/index.js';

/** A small deterministic generator for test data (independent of the code under test). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const tables: TableConfig[] = [
  { name: 'users', rows: 50, dim: 8, storage: 'float16', optimizer: rowwiseAdagrad({ lr: 0.1 }) },
  {
    name: 'items',
    rows: 30,
    dim: 5,
    storage: 'bfloat16',
    pooling: 'mean',
    optimizer: sgd({ lr: 0.3, weightDecay: { mode: 'l2', rate: 0.01 } }),
  },
  {
    name: 'tags',
    rows: 20,
    dim: 4,
    storage: 'float16',
    optimizer: adam({ lr: 0.05, stateStorage: 'float16' }),
  },
  { name: 'plain', rows: 10, dim: 3, storage: 'float32', optimizer: sgd({ lr: 0.5 }) },
];

function batch(rand: () => number, rows: number, bags: number, weighted: boolean) {
  const offsets: number[] = [];
  const indices: number[] = [];
  for (let b = 0; b < bags; b++) {
    offsets.push(indices.length);
    const size = Math.floor(rand() * 4); // empty bags too
    // Few distinct rows, so duplicates are frequent.
    for (let k = 0; k < size; k++) indices.push(Math.floor(rand() * Math.min(rows, 7)));
  }
  const perSampleWeights = weighted ? Float32Array.from(indices, () => rand() * 2 - 1) : undefined;
  return { indices, offsets, perSampleWeights };
}

/** The one collection over a store backend (a new memory store unless given). */
async function storeCollection(
  configs: readonly TableConfig[],
  seed: number | bigint,
  options: Partial<StoreBackendOptions> = {},
) {
  const store = options.store ?? (await createMemoryTableStore());
  const backend = createStoreBackend({ ...options, store });
  return createEmbeddingBagCollection(configs, { seed, backend });
}

describe('the collection on a store backend (memory store)', () => {
  it('trains bit-identically to the collection on backend-js (duplicates, mean, weights, 16-bit state)', async () => {
    const reference = await createEmbeddingBagCollection(tables, { seed: 99n });
    const stored = await storeCollection(tables, 99n);
    const rand = lcg(7);
    for (let step = 0; step < 12; step++) {
      const batches = tables.map((c, t) => batch(rand, c.rows, 6, t === 0));
      const f1 = reference.forward(batches);
      const f2 = stored.forward(batches);
      const expected = f1.readSync();
      const got = await f2.read();
      for (let t = 0; t < tables.length; t++) expect(got[t]).toEqual(expected[t]);
      const grads = expected.map((o) => Float32Array.from(o, () => rand() - 0.5));
      const r1 = await reference.backward(f1, grads);
      const r2 = (await stored.backward(f2, grads)) as StoreBagUpdateResult[];
      for (let t = 0; t < tables.length; t++) {
        expect(r2[t]!.updatedRows).toBe(r1[t]!.updatedRows);
        expect(r2[t]!.acknowledgedRows).toBe(r1[t]!.updatedRows);
      }
    }
    for (let t = 0; t < tables.length; t++) {
      const a = reference.readRowsSync(t);
      const b = await stored.readRows(t);
      // Bit patterns, so that -0 vs +0 and NaN payloads would show.
      expect(new Uint32Array(b.buffer)).toEqual(new Uint32Array(a.buffer));
    }
    // Something did change: the tables are not at their initial values.
    const h = stored.handles[0]!;
    const init = initialRows({ ...h, init: { uniform: 1 / Math.sqrt(h.dim) } }, 0, 50);
    expect(await stored.readRows(0)).not.toEqual(init);
  });

  it("skips the rows a non-finite gradient reaches under 'skip-rows', as on backend-js", async () => {
    const config: TableConfig = {
      name: 'skip',
      rows: 6,
      dim: 2,
      storage: 'float16',
      optimizer: sgd({ lr: 1 }),
      nonFinite: 'skip-rows',
    };
    const reference = await createEmbeddingBagCollection([config], { seed: 2 });
    const stored = await storeCollection([config], 2);
    const batches = [{ indices: [0, 1, 1, 2], offsets: [0, 1, 3] }];
    const grad = Float32Array.of(0.5, 0.25, Number.NaN, 1, 0.125, -0.5);
    const r1 = await reference.backward(reference.forward(batches), [grad]);
    const r2 = await stored.backward(stored.forward(batches), [grad]);
    expect(r2[0]).toEqual({ ...r1[0], acknowledgedRows: r1[0]!.updatedRows, unconfirmedRows: 0 });
    expect(r2[0]!.skippedRows).toBe(1);
    expect(await stored.readRows(0)).toEqual(reference.readRowsSync(0));
  });

  it('the memory store skips a row whose new weights or state are not finite; the other rows equal backend-js bit for bit', async () => {
    const HUGE = 3e38;
    // Finite gradients whose update overflows float32: sgd's lr x g (the weight), Adam's and
    // Adagrad's g^2 (the state), momentum's lr x m (the weight, the new momentum being finite).
    const cases: { spec: Omit<TableSpec, 'name' | 'index' | 'seed' | 'init'>; bad: number[] }[] = [
      {
        spec: {
          rows: 12,
          dim: 4,
          storage: 'float16',
          rounding: 'stochastic',
          optimizer: sgd({ lr: 2 }),
        },
        bad: [3, 5, 10],
      },
      {
        spec: {
          rows: 9,
          dim: 3,
          storage: 'bfloat16',
          rounding: 'stochastic',
          optimizer: adam({ lr: 0.01, stateStorage: 'float16' }),
        },
        bad: [0, 8],
      },
      {
        spec: {
          rows: 6,
          dim: 2,
          storage: 'float32',
          rounding: 'nearest-even',
          optimizer: adagrad({ lr: 0.1 }),
        },
        bad: [4],
      },
      {
        spec: {
          rows: 10,
          dim: 5,
          storage: 'float8e4m3',
          rounding: 'stochastic',
          optimizer: momentum({ lr: 2, stateStorage: 'bfloat16' }),
        },
        bad: [2, 9],
      },
    ];
    const js = await createJsBackend();
    const store = await createMemoryTableStore();
    const rand = lcg(11);
    for (const [index, c] of cases.entries()) {
      const spec: TableSpec = {
        ...c.spec,
        name: `nf${index}`,
        index,
        seed: 5n,
        init: { uniform: 1 },
      };
      const reference = js.createTable(spec);
      await store.openTables([spec]);
      const bytes = async (backend: Backend, handle: TableHandle) => {
        const { weights, state } = await backend.exportTable(handle);
        return [...weights, -1, ...state];
      };
      const stored = () => bytes(store.backend, store.handle(spec.name));
      const rows = Int32Array.from({ length: spec.rows }, (_, r) => (r * 7) % spec.rows);
      for (let step = 0; step < 3; step++) {
        const g = Float32Array.from({ length: rows.length * spec.dim }, () => rand() - 0.5);
        if (step === 1) {
          for (const r of c.bad)
            g[rows.indexOf(r) * spec.dim + (r % spec.dim)] =
              spec.optimizer.kind === 'sgd' ? -HUGE : HUGE;
        }
        const bad = step === 1 ? c.bad.length : 0;
        const before = await store.readRows(spec.name, Int32Array.from(c.bad));
        const result = await store.applyGradients(spec.name, rows, g, step);
        expect(result, `${spec.name} step ${step}`).toEqual({
          updatedRows: rows.length - bad,
          acknowledgedRows: rows.length - bad,
          nonFiniteRows: bad,
          firstNonFiniteRow: bad > 0 ? Math.min(...c.bad) : -1,
        });
        const [want] = await js.embeddingBagBackward([
          {
            table: reference,
            input: { indices: rows, offsets: Int32Array.from(rows, (_, k) => k) },
            pooling: 'sum',
            gradOutput: js.tensor(g),
            step,
            nonFinite: 'skip-rows',
          },
        ]);
        expect(want!.skippedRows).toBe(bad);
        expect(await stored(), `${spec.name} step ${step}`).toEqual(await bytes(js, reference));
        if (bad > 0)
          expect(await store.readRows(spec.name, Int32Array.from(c.bad))).toEqual(before);
      }
    }
    js.dispose();
    await store.close();
  });

  it("a non-finite new weight or state: 'skip-rows' counts it in skippedRows; 'error' rejects naming the row, the step's finite rows staying applied", async () => {
    const HUGE = 3e38;
    const configs = (nonFinite: 'error' | 'skip-rows'): TableConfig[] => [
      {
        name: 'good',
        rows: 4,
        dim: 2,
        storage: 'float16',
        optimizer: sgd({ lr: 1 }),
        init: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8),
        nonFinite,
      },
      {
        name: 'bad',
        rows: 4,
        dim: 1,
        storage: 'float32',
        optimizer: sgd({ lr: 1 }),
        init: Float32Array.of(1, HUGE, 1, HUGE),
        nonFinite,
      },
    ];
    const batches = [
      { indices: [0, 1, 2], offsets: [0, 1] },
      { indices: [0, 1, 2, 3], offsets: [0, 1, 2, 3] },
    ];
    const grads = [Float32Array.of(1, 1, 1, 1), Float32Array.of(1, -HUGE, 1, -HUGE)];

    // 'skip-rows': the same rows and results as backend-js.
    const reference = await createEmbeddingBagCollection(configs('skip-rows'), { seed: 3 });
    const skipping = await storeCollection(configs('skip-rows'), 3);
    const want = await reference.backward(reference.forward(batches), grads);
    const got = await skipping.backward(skipping.forward(batches), grads);
    expect(want[1]).toEqual({ updatedRows: 2, skippedRows: 2 });
    expect(got).toEqual(
      want.map((r) => ({ ...r, acknowledgedRows: r.updatedRows, unconfirmedRows: 0 })),
    );
    for (const t of [0, 1]) expect(await skipping.readRows(t)).toEqual(reference.readRowsSync(t));

    // 'error': the step rejects, naming the smallest bad row; the bad rows are never written,
    // but the finite rows of the step (both tables) stay applied: a store cannot undo them.
    const refusing = await storeCollection(configs('error'), 3);
    const initial = [await refusing.readRows(0), await refusing.readRows(1)];
    const error = (await refusing
      .backward(refusing.forward(batches), grads)
      .catch((e) => e)) as BadInputError;
    expect(error).toBeInstanceOf(BadInputError);
    expect(error.message).toBe(
      `table "bad": the update of row 1 gives a non-finite weight or optimizer state; this row was not written, but the step's other rows were (a store commits per block) (nonFinite: 'skip-rows' skips such rows instead)`,
    );
    expect(error.value).toBe(1);
    expect(await refusing.readRows(0)).toEqual(reference.readRowsSync(0));
    expect(await refusing.readRows(1)).toEqual(reference.readRowsSync(1));
    expect(await refusing.readRows(1)).not.toEqual(initial[1]);
    expect((await refusing.readRows(1))[1]).toBe(Math.fround(HUGE));
    // The error was observed: the backend goes on.
    await refusing.flush();
    await refusing.backward(refusing.forward(batches), [grads[0]!, Float32Array.of(1, 1, 1, 1)]);
    await refusing.flush();
  });

  it('the store initialises a new table from initialRows, exactly as backend-js does', async () => {
    const config: TableConfig = {
      name: 'w',
      rows: 40,
      dim: 6,
      storage: 'float32',
      optimizer: sgd({ lr: 1 }),
      init: { uniform: 0.25 },
    };
    const reference = await createEmbeddingBagCollection([config], { seed: 5 });
    const stored = await storeCollection([config], 5);
    const values = initialRows({ ...stored.handles[0]!, init: { uniform: 0.25 } }, 10, 20);
    expect(values).toEqual(reference.readRowsSync(0).slice(60, 180));
    expect(
      await stored.readRows(
        0,
        Int32Array.from({ length: 20 }, (_, k) => 10 + k),
      ),
    ).toEqual(values);
    for (const v of values) expect(Math.abs(v)).toBeLessThanOrEqual(0.25);
  });

  it('attaches to existing tables and rejects a mismatch naming the table and field', async () => {
    const store = await createMemoryTableStore();
    const a = await storeCollection([tables[0]!], 1, { store });
    const b = await storeCollection([tables[0]!], 1, { store });
    expect(await b.readRows(0)).toEqual(await a.readRows(0));
    await expect(storeCollection([{ ...tables[0]!, dim: 9 }], 1, { store })).rejects.toThrow(
      TableMismatchError,
    );
    await expect(
      storeCollection([{ ...tables[0]!, optimizer: sgd({ lr: 0.1 }) }], 1, { store }),
    ).rejects.toThrow(/table "users".*optimizer/);
    await store.close();
  });

  it('gives trainers disjoint optimizer steps and rejects bad worker numbers', async () => {
    const memory = await createMemoryTableStore();
    const steps: number[] = [];
    const store: TableStore = {
      kind: 'spy',
      openTables: (specs) => memory.openTables(specs),
      readRows: (table, rows) => memory.readRows(table, rows),
      applyGradients: (table, rows, gradients, step) => {
        steps.push(step);
        return memory.applyGradients(table, rows, gradients, step);
      },
      close: () => memory.close(),
    };
    const c = await storeCollection([tables[3]!], 0, { store, worker: 2, workers: 3 });
    for (let k = 0; k < 2; k++)
      await c.backward(c.forward([{ indices: [1], offsets: [0] }]), [new Float32Array(3)]);
    expect(steps).toEqual([2, 5]);
    await expect(storeCollection([tables[3]!], 0, { worker: 3, workers: 3 })).rejects.toThrow(
      /worker must be an integer in \[0, 3\)/,
    );
  });

  it('a failed store call fails the backend: every later call reports it, nothing trains on', async () => {
    const memory = await createMemoryTableStore();
    let fail = false;
    const store: TableStore = {
      kind: 'flaky',
      openTables: (specs) => memory.openTables(specs),
      readRows: (table, rows) =>
        fail ? Promise.reject(new Error('connection lost')) : memory.readRows(table, rows),
      applyGradients: (table, rows, gradients, step) =>
        memory.applyGradients(table, rows, gradients, step),
      close: () => memory.close(),
    };
    const c = await storeCollection([tables[3]!], 0, { store });
    fail = true;
    const f = c.forward([{ indices: [1], offsets: [0] }]);
    await expect(f.read()).rejects.toThrow('connection lost');
    await expect(c.backward(f, [new Float32Array(3)])).rejects.toThrow('connection lost');
    await expect(c.flush()).rejects.toThrow('connection lost');
  });

  it('an update whose outcome the store calls unknown is reported unconfirmed, and training goes on', async () => {
    const memory = await createMemoryTableStore();
    let failover = false;
    const store: TableStore = {
      kind: 'failing-over',
      openTables: (specs) => memory.openTables(specs),
      readRows: (table, rows) => memory.readRows(table, rows),
      applyGradients: (table, rows, gradients, step) =>
        failover
          ? Promise.reject(new Error('master failing over'))
          : memory.applyGradients(table, rows, gradients, step),
      close: () => memory.close(),
      outcomeUnknown: (error) => error instanceof Error && error.message === 'master failing over',
    };
    const c = await storeCollection([tables[3]!], 0, { store });
    const batches = [{ indices: [1, 2, 2], offsets: [0, 1] }];
    failover = true;
    const r = (await c.backward(c.forward(batches), [
      new Float32Array(6),
    ])) as StoreBagUpdateResult[];
    expect(r[0]).toMatchObject({ updatedRows: 0, acknowledgedRows: 0, unconfirmedRows: 2 });
    failover = false;
    const again = (await c.backward(c.forward(batches), [
      new Float32Array(6),
    ])) as StoreBagUpdateResult[];
    expect(again[0]).toMatchObject({ updatedRows: 2, unconfirmedRows: 0 });
    await c.flush();
  });

  it("a store's own limits are checked when the table is created, before anything is queued", async () => {
    const memory = await createMemoryTableStore();
    const store: TableStore = {
      kind: 'picky',
      openTables: (specs) => memory.openTables(specs),
      readRows: (table, rows) => memory.readRows(table, rows),
      applyGradients: (table, rows, gradients, step) =>
        memory.applyGradients(table, rows, gradients, step),
      close: () => memory.close(),
      checkSpec: (spec) => {
        if (spec.name.includes('{')) throw new RangeError(`table "${spec.name}": no braces`);
      },
    };
    const backend = createStoreBackend({ store });
    await expect(
      createEmbeddingBagCollection([{ ...tables[3]!, name: 'a{b}' }], { backend }),
    ).rejects.toThrow(RangeError);
    // The backend did not fail: another collection on it trains.
    const ok = await createEmbeddingBagCollection([tables[3]!], { backend });
    await ok.backward(ok.forward([{ indices: [1], offsets: [0] }]), [new Float32Array(3)]);
    await ok.flush();
  });

  it('a disposed tensor is dead at once: disposing it again throws, and the backend goes on', async () => {
    const backend = createStoreBackend({ store: await createMemoryTableStore() });
    const t = backend.tensor(4);
    backend.disposeTensor(t);
    expect(() => backend.disposeTensor(t)).toThrow(/disposed/);
    expect(() => backend.relu(t, t)).toThrow(/disposed/);
    await expect(backend.read(t)).rejects.toThrow(/disposed/);
    await backend.flush();
    const u = backend.tensor(Float32Array.of(-1, 2));
    backend.relu(u, u);
    expect([...(await backend.read(u))]).toEqual([0, 2]);
  });

  it('store.applyGradients rejects repeated rows, bad lengths and non-finite values', async () => {
    const store = await createMemoryTableStore();
    await storeCollection([tables[3]!], 0, { store });
    const before = await store.readRows('plain', Int32Array.of(1, 2));
    await expect(
      store.applyGradients('plain', Int32Array.of(1, 1), new Float32Array(6), 0),
    ).rejects.toThrow(/table "plain": rows\[1\] = 1 is repeated/);
    await expect(
      store.applyGradients('plain', Int32Array.of(1, 2), new Float32Array(5), 0),
    ).rejects.toThrow(/table "plain".*2 rows x 3 = 6 values/);
    await expect(
      store.applyGradients(
        'plain',
        Int32Array.of(1, 2),
        Float32Array.of(0, 0, 0, 0, Number.NaN, 0),
        0,
      ),
    ).rejects.toThrow(/not finite/);
    await expect(store.readRows('nope', Int32Array.of(0))).rejects.toThrow(
      /table "nope" is not open/,
    );
    expect(await store.readRows('plain', Int32Array.of(1, 2))).toEqual(before);
  });
});
