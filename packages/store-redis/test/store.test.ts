import type { TableSpec } from '@halfstep/backend';
import { describeBackendConformance } from '@halfstep/backend/testing';
import { createJsBackend } from '@halfstep/backend-js';
import {
  createEmbeddingBagCollection,
  createStoreBackend,
  type StoreBagUpdateResult,
  type TableConfig,
  TableMismatchError,
} from '@halfstep/embedding';
import { adagrad, adam, momentum, rowwiseAdagrad, sgd } from '@halfstep/optim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRedisClusterStore,
  keySlot,
  parseRedisNodes,
  type RedisClusterStore,
  RedisStoreError,
} from '../src/index.js';
import { redisAvailable, cluster as runScript, startCluster } from './cluster.js';

const BASE = 21200;
const available = redisAvailable();

/** A small deterministic generator for test data. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe.skipIf(!available)('RedisClusterStore on a local 3+3 cluster', () => {
  let nodes = '';
  /** The store of the conformance suite below (its tables' names are unique per process). */
  let store: RedisClusterStore;
  let prefix = 0;
  const nextPrefix = () => `t${BASE}-${prefix++}`;

  // Runs before the tests and nested suites below, the conformance suite's own beforeAll
  // (which creates its backend over `store`) included.
  beforeAll(async () => {
    nodes = startCluster(BASE);
    store = await createRedisClusterStore({
      nodes,
      keyPrefix: `conformance-${process.pid}-${Date.now()}`,
    });
  }, 90_000);
  afterAll(async () => {
    await store?.close();
    if (available) runScript('stop', BASE);
  }, 60_000);

  const configs: TableConfig[] = [
    { name: 'sgd16', rows: 700, dim: 8, storage: 'float16', optimizer: sgd({ lr: 0.7 }) },
    {
      name: 'rowwise16',
      rows: 300,
      dim: 16,
      storage: 'float16',
      optimizer: rowwiseAdagrad({ lr: 0.2, weightDecay: { mode: 'l2', rate: 0.05 } }),
    },
    {
      name: 'adagrad-bf16',
      rows: 200,
      dim: 4,
      storage: 'bfloat16',
      rounding: 'nearest-even',
      optimizer: adagrad({ lr: 0.3, stateStorage: 'bfloat16' }),
      pooling: 'mean',
    },
    {
      name: 'momentum32',
      rows: 100,
      dim: 5,
      storage: 'float32',
      optimizer: momentum({ lr: 0.1, maxNorm: 0.4, weightDecay: { mode: 'decoupled', rate: 0.1 } }),
    },
    {
      name: 'adam16',
      rows: 150,
      dim: 6,
      storage: 'float16',
      optimizer: adam({ lr: 0.05, stateStorage: 'float16' }),
    },
    // 8-bit weights: 2040 rows per block, so two blocks with a short last one.
    { name: 'sgd e4m3', rows: 2100, dim: 8, storage: 'float8e4m3', optimizer: sgd({ lr: 0.5 }) },
    {
      name: 'momentum e5m2',
      rows: 300,
      dim: 7,
      storage: 'float8e5m2',
      optimizer: momentum({ lr: 0.2, stateStorage: 'bfloat16' }),
    },
  ];

  it('trains bit-identically to EmbeddingBagCollection on backend-js (every optimizer)', async () => {
    const reference = await createEmbeddingBagCollection(configs, { seed: 1234n });
    const redis = await createRedisClusterStore({ nodes, keyPrefix: nextPrefix() });
    const backend = createStoreBackend({ store: redis });
    const trained = await createEmbeddingBagCollection(configs, { seed: 1234n, backend });
    expect(backend.opened.map((o) => o.created)).toEqual(configs.map(() => true));
    // Initial tables equal too.
    const initial: Float32Array[] = [];
    for (let t = 0; t < configs.length; t++) {
      initial.push(await reference.readRows(t));
      expect(await trained.readRows(t)).toEqual(initial[t]);
    }
    const rand = lcg(42);
    for (let step = 0; step < 8; step++) {
      const batches = configs.map((c) => {
        const indices = Array.from({ length: 64 }, () =>
          // Hot rows (duplicates) and the table's last rows (the short last block).
          rand() < 0.5 ? Math.floor(rand() * 5) : c.rows - 1 - Math.floor(rand() * 40),
        );
        return { indices, offsets: [0, 10, 20, 33, 50, 60] };
      });
      const referenceForward = reference.forward(batches);
      const trainedForward = trained.forward(batches);
      const expected = await referenceForward.read();
      const got = await trainedForward.read();
      for (let t = 0; t < configs.length; t++) expect(got[t]).toEqual(expected[t]);
      // Large gradients now and then, so 16- and 8-bit stores saturate and subnormals occur.
      const grads = expected.map((o) =>
        Float32Array.from(o, () => (rand() < 0.02 ? 3e4 : (rand() - 0.5) * 2 ** (-20 * rand()))),
      );
      const a = await reference.backward(referenceForward, grads);
      const b = (await trained.backward(trainedForward, grads)) as StoreBagUpdateResult[];
      for (let t = 0; t < configs.length; t++) {
        expect(b[t]!.updatedRows).toBe(a[t]!.updatedRows);
        expect(b[t]!.acknowledgedRows).toBe(a[t]!.updatedRows); // replicas: 0
      }
    }
    let changed = 0;
    for (let t = 0; t < configs.length; t++) {
      const want = await reference.readRows(t);
      const have = await trained.readRows(t);
      expect(new Uint32Array(have.buffer)).toEqual(new Uint32Array(want.buffer));
      for (let i = 0; i < want.length; i++) if (want[i] !== initial[t]![i]) changed++;
    }
    expect(changed).toBeGreaterThan(500); // the comparison is not between untouched tables
    await trained.flush();
    await redis.close();
  }, 120_000);

  it('rounds float32 edge cases inside Redis as backend-js does (ties, subnormals, the largest binade)', async () => {
    const w = Float32Array.of(
      1,
      1 + 2 ** -23,
      -1,
      1e-40,
      -1e-40,
      2 ** -126,
      3e38,
      -3e38,
      1.5,
      2 ** -149,
      0,
      -0,
      65504,
      1e-45,
      7,
      0.1,
    );
    const g = Float32Array.of(
      -(2 ** -24),
      -(2 ** -24),
      2 ** -24,
      -1.5e-40,
      1e-40,
      -(2 ** -149),
      -3e37,
      4e37,
      -(2 ** -25),
      2 ** -150,
      -0,
      0,
      0.0001,
      -1e-45,
      1e-7,
      0.2,
    );
    const config: TableConfig = {
      name: 'edges',
      rows: 2,
      dim: 8,
      storage: 'float32',
      optimizer: sgd({ lr: 1 }),
      init: w,
    };
    const reference = await createEmbeddingBagCollection([config]);
    const redis = await createRedisClusterStore({ nodes, keyPrefix: nextPrefix() });
    const trained = await createEmbeddingBagCollection([config], {
      backend: createStoreBackend({ store: redis }),
    });
    const batch = [{ indices: [0, 1], offsets: [0, 1] }];
    await reference.backward(reference.forward(batch), [g]);
    await trained.backward(trained.forward(batch), [g]);
    const want = await reference.readRows(0);
    const have = await trained.readRows(0);
    expect(new Uint32Array(have.buffer)).toEqual(new Uint32Array(want.buffer));
    // Independent spot checks: a tie to even stays, the other rounds up; the largest binade.
    expect(have[0]).toBe(1);
    expect(have[1]).toBe(1 + 2 ** -22);
    expect(have[6]).toBe(Math.fround(Math.fround(3e38) + Math.fround(3e37)));
    expect(have[7]).toBe(Math.fround(Math.fround(-3e38) - Math.fround(4e37)));
    await redis.close();
  });

  // A row whose new float32 weights or state are not finite (from finite inputs) is never
  // written; the other rows of its block are written with the bits backend-js gives them under
  // 'skip-rows', state included (compared byte for byte with backend-js's exported codes).
  it('skips a row whose new weights or state are not finite; the other rows equal backend-js bit for bit', async () => {
    const HUGE = 3e38;
    const cases: { spec: Omit<TableSpec, 'name' | 'index' | 'seed' | 'init'>; bad: number[] }[] = [
      // lr x -3e38 overflows: the new weight is +Infinity (weights bad, nothing else).
      {
        spec: {
          rows: 40,
          dim: 4,
          storage: 'float16',
          rounding: 'stochastic',
          optimizer: sgd({ lr: 2 }),
        },
        bad: [3, 5, 16],
      },
      // Adam's (1 - beta2) x g^2 overflows: the new state is infinite, the weight finite.
      {
        spec: {
          rows: 30,
          dim: 3,
          storage: 'float16',
          rounding: 'stochastic',
          optimizer: adam({ lr: 0.01, stateStorage: 'float16' }),
        },
        bad: [0, 1, 29],
      },
      // Adagrad's accumulator overflows (float32 state).
      {
        spec: {
          rows: 20,
          dim: 2,
          storage: 'float32',
          rounding: 'nearest-even',
          optimizer: adagrad({ lr: 0.1 }),
        },
        bad: [7],
      },
      // Momentum: the new momentum (bfloat16 state) is finite, the new weight is not; the state
      // must stay unchanged too.
      {
        spec: {
          rows: 50,
          dim: 5,
          storage: 'float8e5m2',
          rounding: 'stochastic',
          optimizer: momentum({ lr: 2, stateStorage: 'bfloat16' }),
        },
        bad: [12, 13, 43],
      },
    ];
    const js = await createJsBackend();
    const s = await createRedisClusterStore({ nodes, keyPrefix: nextPrefix(), blockBytes: 64 });
    const rand = lcg(3);
    for (const [index, c] of cases.entries()) {
      const name = `nf${index}`;
      const spec: TableSpec = { ...c.spec, name, index, seed: 77n, init: { uniform: 1 } };
      const handle = js.createTable(spec);
      await s.openTables([spec]);
      const layout = s.layout(name);
      expect(layout.blocks, name).toBeGreaterThan(2); // several rows per block, several blocks
      /** The table's bytes in Redis, every block in order. */
      const stored = async () => {
        const blocks: Buffer[] = [];
        for (let b = 0; b < layout.blocks; b++)
          blocks.push((await s.cluster.getBuffer(s.blockKey(name, b)))!);
        return Buffer.concat(blocks);
      };
      /** backend-js's codes in the Redis record layout: a row's weights, then its state. */
      const expected = async () => {
        const { weights, state } = await js.exportTable(handle);
        const w = weights.length / spec.rows;
        const st = state.length / spec.rows;
        const out = Buffer.alloc(spec.rows * (w + st));
        for (let r = 0; r < spec.rows; r++) {
          out.set(weights.subarray(r * w, (r + 1) * w), r * (w + st));
          out.set(state.subarray(r * st, (r + 1) * st), r * (w + st) + w);
        }
        return out;
      };
      const initial = await stored();
      expect(initial, `${name}: initial bytes`).toEqual(await expected());
      // Every row but rows 8, 17, ..., in a shuffled order; the bad rows (in it) get one huge
      // gradient value at step 1.
      const rows = Int32Array.from({ length: spec.rows }, (_, r) => r)
        .filter((r) => r % 9 !== 8)
        .sort((a, b) => ((a * 7919) % 31) - ((b * 7919) % 31));
      for (let step = 0; step < 3; step++) {
        const g = Float32Array.from({ length: rows.length * spec.dim }, () => rand() - 0.5);
        if (step === 1) {
          for (const r of c.bad) {
            const k = rows.indexOf(r);
            g[k * spec.dim + (r % spec.dim)] = spec.optimizer.kind === 'sgd' ? -HUGE : HUGE;
          }
        }
        const before = await stored();
        const result = await s.applyGradients(name, rows, g, step);
        const [want] = await js.embeddingBagBackward([
          {
            table: handle,
            input: { indices: rows, offsets: Int32Array.from(rows, (_, k) => k) },
            pooling: 'sum',
            gradOutput: js.tensor(g),
            step,
            nonFinite: 'skip-rows',
          },
        ]);
        const bad = step === 1 ? c.bad.length : 0;
        expect(want!.skippedRows, `${name}: backend-js skips the same rows`).toBe(bad);
        expect(result, `${name} step ${step}`).toEqual({
          updatedRows: rows.length - bad,
          acknowledgedRows: rows.length - bad,
          nonFiniteRows: bad,
          firstNonFiniteRow: bad > 0 ? Math.min(...c.bad) : -1,
        });
        const have = await stored();
        expect(have.equals(await expected()), `${name} step ${step}: the bytes of backend-js`).toBe(
          true,
        );
        if (step === 1) {
          const record = layout.recordBytes;
          for (const r of c.bad) {
            expect(
              have.subarray(r * record, (r + 1) * record),
              `${name}: row ${r} unchanged`,
            ).toEqual(before.subarray(r * record, (r + 1) * record));
          }
        }
      }
    }
    js.dispose();
    await s.close();
  });

  it('spreads a table over the three masters and keeps the 2x float16 saving (MEMORY USAGE)', async () => {
    const p = nextPrefix();
    const s = await createRedisClusterStore({ nodes, keyPrefix: p });
    const rows = 20_000;
    const dim = 64;
    const opened = await s.openTables(
      (['float32', 'float16'] as const).map((storage, index) => ({
        name: storage,
        index,
        rows,
        dim,
        storage,
        rounding: 'stochastic' as const,
        optimizer: sgd({ lr: 0.1 }),
        seed: 1n,
        init: 'zeros' as const,
      })),
    );
    expect(opened.map((o) => o.created)).toEqual([true, true]);
    const perMaster = new Map<string, number>();
    const bytes: Record<string, number> = {};
    for (const storage of ['float32', 'float16']) {
      const layout = s.layout(storage);
      let total = 0;
      for (let b = 0; b < layout.blocks; b++) {
        const key = s.blockKey(storage, b);
        const owner = s.cluster.slots[keySlot(key)]![0]!;
        perMaster.set(owner, (perMaster.get(owner) ?? 0) + 1);
        total += Number(await s.cluster.memory('USAGE', key));
      }
      bytes[storage] = total / rows;
    }
    const payload32 = dim * 4;
    console.log(
      `[store-redis] MEMORY USAGE per row, dim ${dim}, SGD: float32 ${bytes.float32!.toFixed(1)} B (payload ${payload32}), float16 ${bytes.float16!.toFixed(1)} B (payload ${payload32 / 2}); ratio ${(bytes.float16! / bytes.float32!).toFixed(3)}; blocks per master ${[...perMaster.values()].join('/')}`,
    );
    expect(perMaster.size).toBe(3);
    const counts = [...perMaster.values()];
    const total = counts.reduce((a, b) => a + b, 0);
    for (const c of counts) expect(c / total).toBeGreaterThan(0.2);
    expect(bytes.float32).toBeLessThan(payload32 * 1.03);
    expect(bytes.float16! / bytes.float32!).toBeLessThan(0.52);
    await s.close();
  }, 120_000);

  it('rejects a table whose stored shape differs, naming the table and field', async () => {
    const p = nextPrefix();
    const spec = {
      name: 'emb',
      index: 0,
      rows: 10,
      dim: 4,
      storage: 'float16' as const,
      rounding: 'stochastic' as const,
      optimizer: sgd({ lr: 0.1 }),
      seed: 1n,
      init: 'zeros' as const,
    };
    const a = await createRedisClusterStore({ nodes, keyPrefix: p });
    await a.openTables([spec]);
    const b = await createRedisClusterStore({ nodes, keyPrefix: p });
    expect(await b.openTables([spec])).toEqual([{ name: 'emb', created: false }]);
    await expect(b.openTables([{ ...spec, dim: 8 }])).rejects.toThrow(TableMismatchError);
    await expect(b.openTables([{ ...spec, storage: 'bfloat16' }])).rejects.toThrow(
      /table "emb": the stored table has storage = float16, but bfloat16 was requested/,
    );
    await expect(b.openTables([{ ...spec, name: 'wide', dim: 6001 }])).rejects.toThrow(
      /table "wide": dim \+ optimizer state = 6001 values per row; the Redis store handles at most 6000/,
    );
    await expect(b.openTables([{ ...spec, name: 'x{y}' }])).rejects.toThrow(/without braces/);
    await expect(b.openTables([{ ...spec, name: 'x\ty' }])).rejects.toThrow(
      /without braces or control characters/,
    );
    for (const name of ['wide', 'x{y}', 'x\ty'])
      expect(await b.cluster.exists(b.metaKey(name))).toBe(0);
    await a.close();
    await b.close();
  });

  it('reports a missing key, a key of the wrong size and an unopened table, never zeros', async () => {
    const p = nextPrefix();
    const s = await createRedisClusterStore({ nodes, keyPrefix: p, blockBytes: 40 });
    await s.openTables([
      {
        name: 'emb',
        index: 0,
        rows: 20,
        dim: 4,
        storage: 'float32',
        rounding: 'nearest-even',
        optimizer: sgd({ lr: 1 }),
        seed: 1n,
        init: 'zeros',
      },
    ]);
    expect(s.layout('emb').blockRows).toBe(2); // 40 bytes / 16-byte records
    // Row 5 lives in block 2: damage it.
    await s.cluster.set(s.blockKey('emb', 2), Buffer.alloc(31));
    const wrong = await s.readRows('emb', Int32Array.of(0, 5)).catch((e) => e);
    expect(wrong).toBeInstanceOf(RedisStoreError);
    expect(wrong.reason).toBe('wrong-size');
    expect(wrong.message).toMatch(/table "emb", row 5: key .*:emb:2 holds 31 bytes, expected 32/);
    const update = await s
      .applyGradients('emb', Int32Array.of(1, 4), new Float32Array(8).fill(-1), 0)
      .catch((e) => e);
    expect(update.reason).toBe('wrong-size');
    expect(update.rows).toEqual([4]);
    expect(update.updatedRows).toBe(1); // row 1 (block 0) was applied
    expect(await s.readRows('emb', Int32Array.of(1))).toEqual(Float32Array.of(1, 1, 1, 1));
    expect(await s.cluster.strlen(s.blockKey('emb', 2))).toBe(31); // untouched
    // Row 9 lives in block 4: delete it.
    await s.cluster.del(s.blockKey('emb', 4));
    const missing = await s.readRows('emb', Int32Array.of(9)).catch((e) => e);
    expect(missing.reason).toBe('missing');
    expect(missing.message).toMatch(/table "emb", row 9: key .*:emb:4 does not exist/);
    // A name with spaces: the key in the message is whole.
    await s.openTables([
      {
        name: 'two words',
        index: 1,
        rows: 10, // 5 rows of 8 bytes per 40-byte block
        dim: 4,
        storage: 'float16',
        rounding: 'nearest-even',
        optimizer: sgd({ lr: 1 }),
        seed: 1n,
      },
    ]);
    expect(await s.readRows('two words', Int32Array.of(7))).toEqual(new Float32Array(4)); // zeros
    await s.cluster.set(s.blockKey('two words', 1), Buffer.alloc(3));
    const spaced = await s
      .applyGradients('two words', Int32Array.of(7), new Float32Array(4), 0)
      .catch((e) => e);
    expect(spaced.reason).toBe('wrong-size');
    expect(spaced.message).toMatch(
      /table "two words", row 7: key .*:two words:1 holds 3 bytes, expected 40/,
    );
    await s.cluster.del(s.blockKey('two words', 0));
    const spacedMissing = await s.readRows('two words', Int32Array.of(0)).catch((e) => e);
    expect(spacedMissing.message).toMatch(/row 0: key .*:two words:0 does not exist in Redis/);
    const notOpen = await s.readRows('other', Int32Array.of(0)).catch((e) => e);
    expect(notOpen.reason).toBe('no-table');
    expect(notOpen.message).toMatch(/table "other": the table is not open/);
    await expect(s.readRows('emb', Int32Array.of(20))).rejects.toThrow(
      /table "emb": rows\[0\] = 20 is out of range \[0, 20\)/,
    );
    await s.close();
  });

  it('fails clearly when the cluster is unreachable', async () => {
    const started = Date.now();
    const error = await createRedisClusterStore({
      nodes: 'redis://127.0.0.1:1',
      connectTimeoutMs: 1500,
    }).catch((e) => e);
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error.reason).toBe('unreachable');
    expect(error.message).toMatch(/Redis Cluster at 127\.0\.0\.1:1 could not be used/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('parses node lists', () => {
    expect(parseRedisNodes('redis://a:1,b:2')).toEqual([
      { host: 'a', port: 1 },
      { host: 'b', port: 2 },
    ]);
    expect(() => parseRedisNodes('redis://a')).toThrow(/Redis node "a": expected host:port/);
    // More in url.test.ts (users, passwords, rediss://).
  });

  // The suite every backend runs, with the tables in this cluster: StoreBackend over the Redis
  // store, held to bit identity with backend-js.
  describeBackendConformance({
    name: 'store (redis cluster)',
    create: async () => createStoreBackend({ store }),
    reference: createJsBackend,
    exportsTables: false,
    tablesInMemory: false,
    // A store commits per block: a step refused for a non-finite result keeps its finite rows.
    stepsAreAtomic: false,
  });
});
