/**
 * Property-based fuzz of the public training APIs (fast-check), issue #21: "every call either
 * succeeds with finite tables or throws a typed error, and a throw leaves every table unchanged".
 *
 * Inputs: tables of 1..64 rows x 1..8 columns in every storage (float32, float16, bfloat16,
 * float8e4m3, float8e5m2), both roundings and poolings, both non-finite policies, every optimizer
 * with valid hyper-parameters from small to huge (lr up to 3e38, decay, max-norm, 16-bit state),
 * initial weights up to +-3.4e38; batches whose indices may be negative, out of range, not
 * integers or huge, whose offsets may be unsorted, out of range, missing the first 0, end in
 * PyTorch's trailing total or leave bags empty, with per-sample weights (NaN, huge, of the wrong
 * length); gradients with +-3e38, NaN, +-Infinity, subnormals, of the wrong length, as host arrays
 * or backend tensors; several steps in a row.
 *
 * Properties, on the js backend, the wasm backend, and the wasm backend with 2 update threads
 * (reproducible mode, rows split between the threads from 1 row on). Each backend is shared by
 * every run of a property, as in a long training run (scratch and journals are reused):
 *
 * 1. Collection (`createEmbeddingBagCollection`, `forward`, `backward`): every call either
 *    - succeeds, and then every stored weight and every optimizer-state value of every table is
 *      finite (decoded from the exported bytes); a backward's result counts each distinct row of
 *      its batch once (updated or skipped) and skips none under the 'error' policy; or
 *    - throws (or its step result rejects) with a typed error: a RangeError (BadInputError is
 *      one) or a TypeError; a rejected step rejects with a BadInputError. Every table's bytes
 *      (weights and state) are then those of the snapshot taken before the call.
 *    At the end `flush()` resolves (every error was delivered) and nothing hangs (10 s per run).
 * 2. Backend contract (`createTable`, `writeRows`, `embeddingBagForward`, `embeddingBagBackward`
 *    called directly, with arbitrary specs: bad rows/dim/storage/rounding/index/seed/init; values
 *    with NaN/Infinity/huge, rows out of range; updates naming a table twice, bad steps and
 *    policies, tensors of the wrong size): the same property over every table the backend holds.
 *
 * Deterministic: fixed seeds; 200 runs (RUNS) per property and backend, each a collection of up
 * to 3 tables and 4 steps or up to 3 tables and 4 backend calls; a failure prints its seed and
 * shrunk counterexample. `HALFSTEP_FUZZ_STATS=1` prints how often each outcome (success, each
 * error message) occurred. `writeRows(..., { allowNonFinite: true })` stores NaN on purpose and
 * is not fuzzed here.
 */
import {
  type Backend,
  BadInputError,
  type BagUpdate,
  type NonFinitePolicy,
  type Pooling,
  type RoundingMode,
  type StorageName,
  type TableData,
  type TableHandle,
  type TableSpec,
  type Tensor,
} from '@halfstep/backend';
import { createJsBackend } from '@halfstep/backend-js';
import { createWasmBackend } from '@halfstep/backend-wasm';
import { decode } from '@halfstep/codecs';
import {
  adagrad,
  adam,
  momentum,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '@halfstep/optim';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEmbeddingBagCollection,
  type EmbeddingBagCollection,
  type EmbeddingForward,
  type TableConfig,
} from '../src/index.js';

const SEED = 21_021;
/** Runs per property and backend. */
const RUNS = 200;
const LIMITS = {
  seed: SEED,
  numRuns: RUNS,
  /** A run past this is a hang. */
  timeout: 10_000,
  interruptAfterTimeLimit: 60_000,
};
const TEST_TIMEOUT = 120_000;
const F32_MAX = 3.4028234663852886e38;

// ---------------------------------------------------------------------------------------------
// Values

/** Finite float32 values around the edges of the formats (and far beyond 16/8-bit ranges). */
const HUGE = [F32_MAX, -F32_MAX, 3e38, -3e38, 1e30, -1e30, 65504, -65504, 57344, 448, -448];
const TINY = [0, -0, 1e-40, -1e-40, 2 ** -149, 6e-8];

/** A finite float32 weight (initial weights must be finite). */
const weightValue = fc.oneof(
  { weight: 10, arbitrary: fc.float({ min: -2, max: 2, noNaN: true }) },
  { weight: 3, arbitrary: fc.constantFrom(...HUGE, ...TINY) },
  { weight: 1, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true }) },
);

/** A gradient value: mostly moderate, sometimes huge but finite, sometimes NaN or infinite. */
const gradValue = fc.oneof(
  { weight: 30, arbitrary: fc.float({ min: -10, max: 10, noNaN: true }) },
  { weight: 10, arbitrary: fc.constantFrom(...HUGE, ...TINY) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  },
  { weight: 1, arbitrary: fc.float() },
);

/** A per-sample weight: like a gradient value. */
const sampleWeight = gradValue;

/** `values` repeated to `length` (zeros when there are none). */
function tile(values: readonly number[], length: number): Float32Array {
  const out = new Float32Array(Math.max(0, length));
  if (values.length > 0) for (let i = 0; i < out.length; i++) out[i] = values[i % values.length]!;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Optimizers, tables

type OptimizerKind = 'sgd' | 'momentum' | 'adagrad' | 'rowwiseAdagrad' | 'adam';
const FACTORIES: Record<OptimizerKind, (options: never) => SparseOptimizer> = {
  sgd,
  momentum,
  adagrad,
  rowwiseAdagrad,
  adam,
};

const fraction = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom(0, 0.5, 0.9, 0.999, 1 - 2 ** -24),
  fc.double({ min: 0, max: 0.9999, noNaN: true }),
);
/** The options every factory takes: valid, from tiny to huge (a combination may still overflow). */
const commonOptions = {
  lr: fc.oneof(
    { weight: 4, arbitrary: fc.double({ min: 1e-4, max: 10, noNaN: true }) },
    { weight: 2, arbitrary: fc.constantFrom(1, 100, 1e10, 1e30, 3e38) },
  ),
  maxNorm: fc.constantFrom(undefined, 1e-30, 0.01, 1, 100, 1e30, 3e38),
  weightDecay: fc.option(
    fc.record({
      mode: fc.constantFrom('l2', 'decoupled'),
      rate: fc.constantFrom(0, 1e-4, 0.1, 1, 100, 1e30),
    }),
    { nil: undefined },
  ),
  stateStorage: fc.constantFrom(undefined, 'float32', 'float16', 'bfloat16'),
};
const eps = fc.constantFrom(undefined, 1e-45, 1e-30, 1e-10, 1e-8, 1, 1e30);
const initialAccumulator = fc.constantFrom(undefined, 0, 1, 1e30, 3e38);
const optionsOf = <T extends Record<string, fc.Arbitrary<unknown>>>(
  kind: OptimizerKind,
  extra: T,
) =>
  fc.record({
    kind: fc.constant(kind),
    options: fc.record({ ...commonOptions, ...extra }, { requiredKeys: ['lr'] }),
  });
/** An optimizer's factory and options (only the options it takes). */
const optimizerSpec = fc.oneof(
  optionsOf('sgd', {}),
  optionsOf('momentum', { momentum: fraction }),
  optionsOf('adagrad', { eps, initialAccumulator }),
  optionsOf('rowwiseAdagrad', { eps, initialAccumulator }),
  optionsOf('adam', { beta1: fraction, beta2: fraction, eps }),
);
type OptimizerSpec = typeof optimizerSpec extends fc.Arbitrary<infer T> ? T : never;

const STORAGES: readonly StorageName[] = [
  'float32',
  'float16',
  'bfloat16',
  'float8e4m3',
  'float8e5m2',
];

const initSpec = fc.oneof(
  { weight: 2, arbitrary: fc.constant<'zeros' | undefined>('zeros') },
  { weight: 1, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc
      .oneof(
        { weight: 12, arbitrary: fc.double({ min: 0, max: 4, noNaN: true }) },
        { weight: 3, arbitrary: fc.constantFrom(1e38, 1.7e38) }, // rows near the float32 limit
        { weight: 1, arbitrary: fc.constantFrom(3e38, Number.NaN, -1, Number.POSITIVE_INFINITY) },
      )
      .map((uniform) => ({ uniform })),
  },
  {
    weight: 4,
    arbitrary: fc.array(weightValue, { minLength: 1, maxLength: 12 }).map((values) => ({ values })),
  },
);

const tableSpec = fc.record({
  rows: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 64 }) },
    { weight: 1, arbitrary: fc.constantFrom(1, 2) },
  ),
  dim: fc.integer({ min: 1, max: 8 }),
  storage: fc.constantFrom(...STORAGES),
  rounding: fc.constantFrom<RoundingMode>('stochastic', 'nearest-even'),
  pooling: fc.constantFrom<Pooling>('sum', 'mean'),
  nonFinite: fc.constantFrom<NonFinitePolicy>('error', 'skip-rows'),
  optimizer: optimizerSpec,
  init: initSpec,
});
type TableSpecArb = typeof tableSpec extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------------------------------------
// Batches, resolved against a table's rows and dim when the run starts

/** An index: in range (a fraction of rows), or a raw value (negative, out of range, not an integer). */
const indexSpec = fc.oneof(
  { weight: 80, arbitrary: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<number | 'rows'>(
        -1,
        -(2 ** 31),
        2 ** 31,
        2 ** 53,
        1.5,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        -0,
        'rows',
      )
      .map((raw) => ({ raw })),
  },
);

const offsetsSpec = fc.oneof(
  {
    weight: 40,
    arbitrary: fc.record({
      kind: fc.constant('valid' as const),
      cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 5 }),
      trailing: fc.boolean(), // PyTorch's include_last_offset: the total at the end
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom('unsorted' as const, 'missing-zero' as const, 'empty' as const),
      cuts: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 5 }),
      trailing: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      values: fc.array(
        fc.oneof(
          fc.integer({ min: -2, max: 14 }),
          fc.constantFrom(1.5, Number.NaN, 2 ** 31, -(2 ** 31), Number.POSITIVE_INFINITY),
        ),
        { maxLength: 6 },
      ),
    }),
  },
);
type OffsetsSpec = typeof offsetsSpec extends fc.Arbitrary<infer T> ? T : never;

const lengthDelta = fc.oneof(
  { weight: 40, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 1) },
);

const batchSpec = fc.record({
  indices: fc.array(indexSpec, { maxLength: 12 }),
  offsets: offsetsSpec,
  /** Pass indices and offsets as Int32Arrays (raw values wrap as Int32Array.from does). */
  typed: fc.boolean(),
  perSampleWeights: fc.oneof(
    { weight: 8, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.record({
        values: fc.array(sampleWeight, { minLength: 1, maxLength: 4 }),
        lengthDelta,
      }),
    },
  ),
  grad: fc.record({
    values: fc.array(gradValue, { minLength: 1, maxLength: 8 }),
    lengthDelta,
    /** Give the gradient as a tensor on the backend rather than a host array. */
    tensor: fc.boolean(),
  }),
});
type BatchSpec = typeof batchSpec extends fc.Arbitrary<infer T> ? T : never;

function resolveIndices(spec: BatchSpec, rows: number): number[] {
  return spec.indices.map((i) =>
    typeof i === 'number' ? Math.floor(i * rows) : i.raw === 'rows' ? rows : i.raw,
  );
}

function resolveOffsets(spec: OffsetsSpec, n: number): number[] {
  if (spec.kind === 'raw') return spec.values;
  const cuts = spec.cuts.map((u) => Math.min(n, Math.floor(u * (n + 1)))).sort((a, b) => a - b);
  const valid = [0, ...cuts];
  if (spec.trailing) valid.push(n);
  switch (spec.kind) {
    case 'valid':
      // No bag at all is valid only without indices.
      return n === 0 && cuts.length === 0 && !spec.trailing ? [] : valid;
    case 'unsorted':
      return valid.reverse();
    case 'missing-zero':
      return valid.slice(1);
    case 'empty':
      return [];
  }
}

interface Batch {
  /** What `forward` is given. */
  readonly batch: {
    readonly indices: number[] | Int32Array;
    readonly offsets: number[] | Int32Array;
    readonly perSampleWeights?: Float32Array;
  };
  /** The distinct rows the batch touches, when it is valid. */
  readonly distinct: number;
  readonly bags: number;
}

function resolveBatch(spec: BatchSpec, rows: number): Batch {
  const indices = resolveIndices(spec, rows);
  const offsets = resolveOffsets(spec.offsets, indices.length);
  const psw = spec.perSampleWeights;
  return {
    batch: {
      indices: spec.typed ? Int32Array.from(indices) : indices,
      offsets: spec.typed ? Int32Array.from(offsets) : offsets,
      ...(psw === undefined
        ? {}
        : { perSampleWeights: tile(psw.values, indices.length + psw.lengthDelta) }),
    },
    distinct: new Set(indices.map((i) => i | 0)).size,
    bags: offsets.length,
  };
}

// ---------------------------------------------------------------------------------------------
// Snapshots and checks

type Snapshot = readonly TableData[];

function snapshot(backend: Backend, handles: readonly TableHandle[]): Snapshot {
  return handles.map((h) => {
    const data = backend.exportTableSync!(h);
    return { weights: data.weights.slice(), state: data.state.slice() };
  });
}

function expectUnchanged(
  backend: Backend,
  handles: readonly TableHandle[],
  before: Snapshot,
  what: string,
  error: unknown,
): void {
  const after = snapshot(backend, handles);
  what = `${what} (${String(error)})`;
  handles.forEach((h, t) => {
    expect(
      Buffer.compare(after[t]!.weights, before[t]!.weights),
      `${what}: table "${h.name}" weights changed after a throw`,
    ).toBe(0);
    expect(
      Buffer.compare(after[t]!.state, before[t]!.state),
      `${what}: table "${h.name}" state changed after a throw`,
    ).toBe(0);
  });
}

/** Decodes stored codes of `storage` to float32. */
function decodeBytes(storage: StorageName, bytes: Uint8Array): Float32Array {
  const copy = bytes.slice();
  if (storage === 'float32') return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  if (storage === 'float8e4m3' || storage === 'float8e5m2') return decode(storage, copy);
  return decode(storage, new Uint16Array(copy.buffer, 0, copy.byteLength / 2));
}

function firstNonFinite(values: Float32Array): number {
  return values.findIndex((v) => !Number.isFinite(v));
}

function expectFinite(backend: Backend, handles: readonly TableHandle[], what: string): void {
  for (const h of handles) {
    const data = backend.exportTableSync!(h);
    const weights = decodeBytes(h.storage, data.weights);
    const w = firstNonFinite(weights);
    expect(
      w,
      `${what}: table "${h.name}" (${h.storage}, ${h.optimizer.kind}) weight ${w} (row ${Math.floor(w / h.dim)}) = ${weights[w]}`,
    ).toBe(-1);
    const state = decodeBytes(h.optimizer.stateStorage, data.state);
    const s = firstNonFinite(state);
    expect(
      s,
      `${what}: table "${h.name}" (${h.optimizer.kind}, state ${h.optimizer.stateStorage}) state value ${s} = ${state[s]}`,
    ).toBe(-1);
  }
}

/** Outcome counts, printed with HALFSTEP_FUZZ_STATS=1 (to see that every path is exercised). */
const stats = new Map<string, number>();
function tally(outcome: string, error?: unknown): void {
  if (!process.env.HALFSTEP_FUZZ_STATS) return;
  const message =
    error instanceof Error ? error.message.replace(/-?\d[\d.e+-]*|"[^"]*"/g, '#') : '';
  const key = message ? `${outcome}: ${message.slice(0, 90)}` : outcome;
  stats.set(key, (stats.get(key) ?? 0) + 1);
}

/** A RangeError (BadInputError is one) or a TypeError; anything else is a crash. */
function expectTyped(error: unknown, what: string): void {
  tally(what.replace(/^(step|op) \d+ ?/, ''), error);
  expect(
    error instanceof RangeError || error instanceof TypeError,
    `${what}: expected a RangeError/TypeError, got ${String((error as Error)?.stack ?? error)}`,
  ).toBe(true);
}

// ---------------------------------------------------------------------------------------------
// Backends

/** The backends, each shared by every run (a long-lived backend, as in training). */
const BACKENDS = {
  js: () => createJsBackend(),
  wasm: () => createWasmBackend(),
  /** Two update threads, each table's rows split between them (reproducible mode). */
  'wasm-2-threads': () => createWasmBackend({ threads: 2, minRowsPerThread: 1 }),
} as const;
type BackendName = keyof typeof BACKENDS;
const backends = {} as Record<BackendName, Backend>;

beforeAll(async () => {
  for (const name of Object.keys(BACKENDS) as BackendName[])
    backends[name] = await BACKENDS[name]();
});
afterAll(() => {
  for (const b of Object.values(backends)) b.dispose();
  if (stats.size > 0) {
    const lines = [...stats]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${String(n).padStart(6)}  ${k}`);
    console.log(`fuzz outcomes:\n${lines.join('\n')}`);
  }
});

// ---------------------------------------------------------------------------------------------
// 1. The collection

function makeOptimizer(spec: OptimizerSpec): SparseOptimizer {
  return (FACTORIES[spec.kind] as (options: unknown) => SparseOptimizer)(spec.options);
}

function tableConfig(spec: TableSpecArb, optimizer: SparseOptimizer): TableConfig {
  const init = spec.init;
  return {
    rows: spec.rows,
    dim: spec.dim,
    storage: spec.storage,
    rounding: spec.rounding,
    pooling: spec.pooling,
    nonFinite: spec.nonFinite,
    optimizer,
    ...(init === undefined
      ? {}
      : {
          init:
            typeof init === 'object' && 'values' in init
              ? tile(init.values, spec.rows * spec.dim)
              : init,
        }),
  };
}

const collectionScenario = fc.record({
  seed: fc.oneof(
    { weight: 30, arbitrary: fc.integer({ min: 0, max: 1000 }) },
    { weight: 1, arbitrary: fc.constantFrom<number | bigint>(-1, 2 ** 53, 1.5, 2n ** 64n - 1n) },
  ),
  tables: fc.array(tableSpec, { minLength: 1, maxLength: 3 }),
  steps: fc.array(
    fc.record({
      batches: fc.array(batchSpec, { minLength: 3, maxLength: 3 }),
      /** Sometimes one batch or gradient too few or too many. */
      batchCountDelta: lengthDelta,
      gradCountDelta: lengthDelta,
    }),
    { minLength: 1, maxLength: 4 },
  ),
});
type CollectionScenario = typeof collectionScenario extends fc.Arbitrary<infer T> ? T : never;

async function runCollection(backend: Backend, scenario: CollectionScenario): Promise<void> {
  let configs: TableConfig[];
  try {
    configs = scenario.tables.map((t) => tableConfig(t, makeOptimizer(t.optimizer)));
  } catch (error) {
    expectTyped(error, 'optimizer factory');
    return;
  }
  let collection: EmbeddingBagCollection;
  try {
    collection = await createEmbeddingBagCollection(configs, { seed: scenario.seed, backend });
  } catch (error) {
    expectTyped(error, 'createEmbeddingBagCollection');
    return;
  }
  const { handles } = collection;
  const tensors: Tensor[] = [];
  try {
    expectFinite(backend, handles, 'after creation');
    for (const [k, step] of scenario.steps.entries()) {
      const what = `step ${k}`;
      const batches = configs.map((c, t) => resolveBatch(step.batches[t]!, c.rows));
      const given = batches
        .slice(0, Math.max(0, batches.length + step.batchCountDelta))
        .map((b) => b.batch);
      if (step.batchCountDelta > 0) given.push(batches[0]!.batch);
      let before = snapshot(backend, handles);
      let forward: EmbeddingForward;
      try {
        forward = collection.forward(given);
      } catch (error) {
        expectTyped(error, `${what} forward`);
        expectUnchanged(backend, handles, before, `${what} forward`, error);
        continue;
      }
      // Every pooled output is readable (its values may be infinite: 3e38 x 3e38 overflows).
      expect(forward.readSync().map((o) => o.length)).toEqual(
        batches.map((b, t) => b.bags * configs[t]!.dim),
      );
      const grads = configs.map((c, t) => {
        const g = step.batches[t]!.grad;
        const values = tile(g.values, batches[t]!.bags * c.dim + g.lengthDelta);
        if (!g.tensor) return values;
        const tensor = backend.tensor(values);
        tensors.push(tensor);
        return tensor;
      });
      const givenGrads = grads.slice(0, Math.max(0, grads.length + step.gradCountDelta));
      if (step.gradCountDelta > 0) givenGrads.push(grads[0]!);
      before = snapshot(backend, handles);
      let result: PromiseLike<readonly { updatedRows: number; skippedRows: number }[]>;
      try {
        result = collection.backward(forward, givenGrads);
      } catch (error) {
        expectTyped(error, `${what} backward`);
        expectUnchanged(backend, handles, before, `${what} backward`, error);
        forward.release();
        continue;
      }
      let outcome: readonly { updatedRows: number; skippedRows: number }[];
      try {
        outcome = await result;
      } catch (error) {
        tally('collection rejected', error);
        expect(
          error instanceof BadInputError,
          `${what}: a step rejected with ${String((error as Error)?.stack ?? error)}`,
        ).toBe(true);
        expectUnchanged(backend, handles, before, `${what} rejected step`, error);
        continue;
      }
      expectFinite(backend, handles, `${what} backward`);
      tally(
        outcome.some((r) => r.skippedRows > 0)
          ? 'collection step, rows skipped'
          : 'collection step',
      );
      outcome.forEach((r, t) => {
        expect(r.updatedRows + r.skippedRows, `${what} table ${t}: rows counted`).toBe(
          batches[t]!.distinct,
        );
        if (configs[t]!.nonFinite === 'error') expect(r.skippedRows).toBe(0);
      });
    }
    // Every step's error was delivered where it was awaited: nothing left for flush.
    await collection.flush();
  } finally {
    for (const t of tensors) backend.disposeTensor(t);
    collection.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// 2. The backend contract

/** A table spec that is mostly valid; `bad` replaces one field with an invalid value. */
const backendTableSpec = fc.record({
  table: tableSpec,
  index: fc.integer({ min: 0, max: 2 ** 24 - 1 }),
  seed: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  bad: fc.oneof(
    { weight: 30, arbitrary: fc.constant(undefined) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<[string, unknown]>(
        ['rows', 0],
        ['rows', -1],
        ['rows', 1.5],
        ['rows', Number.NaN],
        ['rows', 2 ** 31],
        ['dim', 0],
        ['dim', Number.POSITIVE_INFINITY],
        ['storage', 'float64'],
        ['rounding', 'up'],
        ['index', -1],
        ['index', 2 ** 24],
        ['index', 0.5],
        ['seed', -1n],
        ['seed', 2n ** 64n],
        ['seed', 1],
        ['init', { uniform: Number.NaN }],
        ['init', { uniform: 3e38 }],
        ['init', 'ones'],
        ['init', Float32Array.of(Number.NaN)],
        ['init', new Float32Array(3)],
      ),
    },
  ),
});
type BackendTableSpec = typeof backendTableSpec extends fc.Arbitrary<infer T> ? T : never;

function resolveTableSpec(spec: BackendTableSpec, name: string): TableSpec {
  const { table } = spec;
  let init: TableSpec['init'];
  if (table.init !== undefined) {
    init =
      typeof table.init === 'object' && 'values' in table.init
        ? tile(table.init.values, table.rows * table.dim)
        : table.init;
  }
  let optimizer: SparseOptimizer;
  try {
    optimizer = makeOptimizer(table.optimizer);
  } catch {
    optimizer = sgd({ lr: 0.5 });
  }
  const resolved: Record<string, unknown> = {
    name,
    index: spec.index,
    rows: table.rows,
    dim: table.dim,
    storage: table.storage,
    rounding: table.rounding,
    optimizer,
    seed: spec.seed,
    ...(init === undefined ? {} : { init }),
  };
  if (spec.bad !== undefined) resolved[spec.bad[0]] = spec.bad[1];
  return resolved as unknown as TableSpec;
}

const rowSpec = fc.oneof(
  { weight: 12, arbitrary: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 'rows' as const, 2 ** 31).map((raw) => ({ raw })) },
);

const writeOp = fc.record({
  op: fc.constant('write' as const),
  table: fc.nat(),
  rows: fc.option(fc.array(rowSpec, { maxLength: 4 }), { nil: undefined }),
  values: fc.array(
    fc.oneof(
      { weight: 8, arbitrary: weightValue },
      {
        weight: 1,
        arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
      },
    ),
    { minLength: 1, maxLength: 8 },
  ),
  lengthDelta,
  allowNonFinite: fc.constantFrom(undefined, false),
});

const updateSpec = fc.record({
  batch: batchSpec,
  pooling: fc.constantFrom<Pooling>('sum', 'mean'),
  step: fc.oneof(
    { weight: 40, arbitrary: fc.integer({ min: 0, max: 2 ** 31 }) },
    { weight: 1, arbitrary: fc.constantFrom(-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY) },
  ),
  nonFinite: fc.oneof(
    {
      weight: 40,
      arbitrary: fc.constantFrom<NonFinitePolicy | undefined>('error', 'skip-rows', undefined),
    },
    { weight: 1, arbitrary: fc.constantFrom<unknown>('ignore', null) },
  ),
  /** Pass a plain array instead of an Int32Array (the backend wants typed arrays). */
  untyped: fc.oneof(
    { weight: 40, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

const backwardOp = fc.record({
  op: fc.constant('backward' as const),
  updates: fc.array(updateSpec, { minLength: 1, maxLength: 3 }),
  /** The first update's table; the others follow it in order (wrapping: the same table twice). */
  firstTable: fc.nat(),
  /** Sometimes name the first update's table again at the end. */
  repeat: fc.oneof(
    { weight: 30, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
});

const forwardOp = fc.record({
  op: fc.constant('forward' as const),
  update: updateSpec,
  table: fc.nat(),
});

const backendScenario = fc.record({
  tables: fc.array(backendTableSpec, { minLength: 1, maxLength: 3 }),
  ops: fc.array(
    fc.oneof(
      { weight: 2, arbitrary: writeOp },
      { weight: 4, arbitrary: backwardOp },
      { weight: 1, arbitrary: forwardOp },
    ),
    { minLength: 1, maxLength: 4 },
  ),
});
type BackendScenario = typeof backendScenario extends fc.Arbitrary<infer T> ? T : never;
type UpdateSpec = typeof updateSpec extends fc.Arbitrary<infer T> ? T : never;

function backendInput(spec: UpdateSpec, table: TableHandle) {
  const batch = resolveBatch(spec.batch, table.rows);
  const asTyped = (v: ArrayLike<number>) => (spec.untyped ? Array.from(v) : Int32Array.from(v));
  return {
    input: {
      indices: asTyped(batch.batch.indices) as Int32Array,
      offsets: asTyped(batch.batch.offsets) as Int32Array,
      perSampleWeights: batch.batch.perSampleWeights,
    },
    batch,
  };
}

async function runBackend(backend: Backend, scenario: BackendScenario): Promise<void> {
  const handles: TableHandle[] = [];
  const tensors: Tensor[] = [];
  try {
    for (const [t, spec] of scenario.tables.entries()) {
      const before = snapshot(backend, handles);
      try {
        handles.push(backend.createTable(resolveTableSpec(spec, `t${t}`)));
      } catch (error) {
        expectTyped(error, `createTable t${t}`);
        expectUnchanged(backend, handles, before, `createTable t${t}`, error);
      }
    }
    if (handles.length === 0) return;
    expectFinite(backend, handles, 'after createTable');
    for (const [k, op] of scenario.ops.entries()) {
      const what = `op ${k} (${op.op})`;
      const before = snapshot(backend, handles);
      if (op.op === 'write') {
        const h = handles[op.table % handles.length]!;
        const rows =
          op.rows === undefined
            ? undefined
            : Int32Array.from(
                op.rows.map((r) =>
                  typeof r === 'number'
                    ? Math.floor(r * h.rows)
                    : r.raw === 'rows'
                      ? h.rows
                      : r.raw,
                ),
              );
        const count = rows === undefined ? h.rows : rows.length;
        const values = tile(op.values, count * h.dim + op.lengthDelta);
        try {
          backend.writeRows(h, values, rows, { allowNonFinite: op.allowNonFinite });
        } catch (error) {
          expectTyped(error, what);
          expectUnchanged(backend, handles, before, what, error);
          continue;
        }
        expectFinite(backend, handles, what);
        tally('backend writeRows');
        continue;
      }
      if (op.op === 'forward') {
        const h = handles[op.table % handles.length]!;
        const { input, batch } = backendInput(op.update, h);
        const out = backend.tensor(
          Math.max(0, batch.bags * h.dim + op.update.batch.grad.lengthDelta),
        );
        tensors.push(out);
        try {
          backend.embeddingBagForward(h, input, op.update.pooling, out);
        } catch (error) {
          expectTyped(error, what);
        }
        expectUnchanged(
          backend,
          handles,
          before,
          `${what} (a forward writes no table)`,
          'no error',
        );
        continue;
      }
      const specs = op.updates.slice(0, handles.length);
      if (op.repeat) specs.push(op.updates[0]!);
      const last = specs.length - 1;
      const updates: BagUpdate[] = specs.map((u, j) => {
        const shift = op.repeat && j === last ? 0 : j;
        const h = handles[(op.firstTable + shift) % handles.length]!;
        const { input, batch } = backendInput(u, h);
        const gradOutput = backend.tensor(
          tile(u.batch.grad.values, batch.bags * h.dim + u.batch.grad.lengthDelta),
        );
        tensors.push(gradOutput);
        return {
          table: h,
          input,
          pooling: u.pooling,
          gradOutput,
          step: u.step,
          nonFinite: u.nonFinite as NonFinitePolicy,
        };
      });
      let result: PromiseLike<readonly { updatedRows: number; skippedRows: number }[]>;
      try {
        result = backend.embeddingBagBackward(updates);
      } catch (error) {
        expectTyped(error, what);
        expectUnchanged(backend, handles, before, what, error);
        continue;
      }
      try {
        await result;
      } catch (error) {
        tally('backend rejected', error);
        expect(
          error instanceof BadInputError,
          `${what}: a step rejected with ${String((error as Error)?.stack ?? error)}`,
        ).toBe(true);
        expectUnchanged(backend, handles, before, `${what} rejected`, error);
        continue;
      }
      expectFinite(backend, handles, what);
      tally('backend step');
    }
    await backend.flush();
  } finally {
    for (const t of tensors) backend.disposeTensor(t);
    for (const h of handles) backend.disposeTable(h);
  }
}

// ---------------------------------------------------------------------------------------------

describe('fuzz of the public training APIs (fast-check)', () => {
  for (const name of Object.keys(BACKENDS) as BackendName[]) {
    it(
      `${name}: a collection's create/forward/backward succeed with finite tables or throw typed errors, changing nothing`,
      async () => {
        await fc.assert(
          fc.asyncProperty(collectionScenario, (scenario) =>
            runCollection(backends[name], scenario),
          ),
          LIMITS,
        );
      },
      TEST_TIMEOUT,
    );
    it(
      `${name}: the backend contract (createTable, writeRows, forward, backward) holds the same property`,
      async () => {
        await fc.assert(
          fc.asyncProperty(backendScenario, (scenario) => runBackend(backends[name], scenario)),
          { ...LIMITS, seed: SEED + 1 },
        );
      },
      TEST_TIMEOUT,
    );
  }
});
