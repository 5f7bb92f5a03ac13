/**
 * Property-based fuzz of the optimizer factories (fast-check), issue #21.
 *
 * Properties, for each of sgd, momentum, adagrad, rowwiseAdagrad and adam, over arbitrary option
 * objects (lr, eps, beta1, beta2, momentum, weightDecay { mode, rate } for l2 and decoupled decay,
 * maxNorm, stateStorage, initialAccumulator; each absent, or any double: NaN, +-Infinity, 1e39,
 * +-0, negatives, float32 subnormals and values that round to 0, to 1 or to Infinity in float32;
 * or a value of the wrong type):
 *
 * 1. The factory throws exactly when an independent oracle (the README's "Checked options"
 *    table, applied to the value as given and to its float32 value, plus the two derived
 *    constants `lr * weightDecay.rate` and row-wise Adagrad's `lr / eps`) says some option is
 *    invalid. The error is a RangeError (a TypeError for options that are not an object) whose
 *    message names one of the invalid options.
 * 2. Otherwise it returns a frozen optimizer (the optimizer, its `options` and `slots`) whose
 *    hyper-parameters are the float32 values of the options (defaults filled in), finite and in
 *    their ranges, and whose rule keeps a zero row with a zero gradient at zero with finite state
 *    (the state at its initial value) at any step: no 0 / 0, no Infinity * 0.
 *
 * Deterministic: a fixed seed, 300 runs per factory.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  adagrad,
  adam,
  momentum,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '../src/index.js';

const SEED = 20_211_021;
const RUNS = 300;
const f = Math.fround;

/** Doubles that sit on the edges of the checks (as given and in float32). */
const EDGES = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0,
  -0,
  1,
  -1,
  0.5,
  0.9,
  0.999,
  1 - 2 ** -24, // the largest float32 below 1
  1 - 2 ** -26, // < 1, but rounds to 1 in float32
  0.99999999,
  1e39,
  -1e39,
  3.4028234663852886e38, // float32 max
  3.4028235677973366e38, // rounds to Infinity
  3e38,
  1e38,
  1e30,
  2 ** -149, // the smallest float32 subnormal
  2 ** -150, // rounds to 0 in float32
  1e-39, // a float32 subnormal
  1e-45,
  1e-46,
  Number.MIN_VALUE,
  1e-8,
  1e-10,
  -1e-8,
];

const number = fc.oneof(
  // Plausible values (valid for every option but one that rounds to 0 or overflows a product).
  { weight: 16, arbitrary: fc.double({ min: 1e-6, max: 0.99, noNaN: true }) },
  { weight: 3, arbitrary: fc.constantFrom(...EDGES) },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1 }) },
  { weight: 1, arbitrary: fc.double({ min: 1e-12, max: 10, noNaN: true }) },
  { weight: 1, arbitrary: fc.float() },
);
const wrongType = fc.constantFrom<unknown>('0.1', null, true, 1n, [], {});
/** An option's value: absent (often), a number (mostly), or a value of the wrong type (rarely). */
const optionValue = fc.oneof(
  { weight: 8, arbitrary: fc.constant(undefined) },
  { weight: 16, arbitrary: number },
  { weight: 1, arbitrary: wrongType },
);
const requiredNumber = fc.oneof(
  { weight: 24, arbitrary: number },
  { weight: 1, arbitrary: wrongType },
);

const weightDecay = fc.oneof(
  { weight: 6, arbitrary: fc.constant(undefined) },
  {
    weight: 4,
    arbitrary: fc.record(
      {
        mode: fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom('l2', 'decoupled') },
          { weight: 1, arbitrary: fc.constantFrom<unknown>('L2', 'none', undefined, 3) },
        ),
        rate: requiredNumber,
        lambda: fc.oneof(
          { weight: 8, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constant(0.1) }, // not an option of weightDecay
        ),
      },
      { requiredKeys: ['mode', 'rate'] },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 0.01) },
);
const stateStorage = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(undefined, 'float32', 'float16', 'bfloat16') },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('float8e4m3', 'FLOAT16', '', null, 16) },
);

type Factory = 'sgd' | 'momentum' | 'adagrad' | 'rowwiseAdagrad' | 'adam';
const FACTORIES: Record<Factory, (options: never) => SparseOptimizer> = {
  sgd,
  momentum,
  adagrad,
  rowwiseAdagrad,
  adam,
};
const COMMON_KEYS = ['lr', 'weightDecay', 'maxNorm', 'stateStorage'];
/** The options each factory takes; any other key with a defined value is refused. */
const KEYS: Record<Factory, readonly string[]> = {
  sgd: COMMON_KEYS,
  momentum: [...COMMON_KEYS, 'momentum'],
  adagrad: [...COMMON_KEYS, 'eps', 'initialAccumulator'],
  rowwiseAdagrad: [...COMMON_KEYS, 'eps', 'initialAccumulator'],
  adam: [...COMMON_KEYS, 'beta1', 'beta2', 'eps'],
};
const ALL_KEYS = [...new Set(Object.values(KEYS).flat())];
/** Option-like names no factory takes (PyTorch's among them). */
const JUNK_KEYS = ['learning_rate', 'betas', 'nesterov', 'weight_decay', 'lrr', 'Lr'];

/**
 * The options argument of `factory`: mostly an object of its own options (each absent, valid or
 * not), sometimes with one key it does not take (another factory's, or junk), sometimes not an
 * options object at all.
 */
function optionsArgumentFor(factory: Factory): fc.Arbitrary<unknown> {
  const own: Record<string, fc.Arbitrary<unknown>> = {};
  for (const key of KEYS[factory]) {
    own[key] =
      key === 'lr'
        ? requiredNumber
        : key === 'weightDecay'
          ? weightDecay
          : key === 'stateStorage'
            ? stateStorage
            : optionValue;
  }
  const foreignKeys = [...ALL_KEYS.filter((k) => !KEYS[factory].includes(k)), ...JUNK_KEYS];
  const foreign = fc.oneof(
    { weight: 12, arbitrary: fc.constant({}) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...foreignKeys), optionValue)
        .map(([key, value]) => ({ [key]: value })),
    },
  );
  const options = fc
    .tuple(fc.record(own, { requiredKeys: ['lr'] }), foreign)
    .map(([o, extra]) => ({ ...o, ...extra }));
  return fc.oneof(
    { weight: 30, arbitrary: options },
    { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, 0.1, 'lr', [], [0.1]) },
  );
}

const KIND: Record<Factory, string> = {
  sgd: 'sgd',
  momentum: 'momentum',
  adagrad: 'adagrad',
  rowwiseAdagrad: 'rowwise-adagrad',
  adam: 'adam',
};

type Options = Record<string, unknown>;

/** The oracle's verdict: the invalid options' names, and the float32 values of the valid ones. */
interface Verdict {
  readonly bad: string[];
  readonly values: Record<string, number | string>;
}

/** > 0 (>= 0 with allowZero) and finite, as given and in float32. */
function positiveOk(v: unknown, allowZero: boolean): v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !Number.isFinite(f(v))) return false;
  return allowZero ? v >= 0 && f(v) >= 0 : v > 0 && f(v) > 0;
}

/** In [0, 1), as given and in float32. */
function fractionOk(v: unknown): v is number {
  return typeof v === 'number' && v >= 0 && v < 1 && f(v) < 1;
}

/** The README's "Checked options", written independently of the factories. */
function oracle(factory: Factory, o: Options): Verdict {
  const bad: string[] = [];
  const values: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(o))
    if (value !== undefined && !KEYS[factory].includes(key)) bad.push(key);
  const positive = (name: string, value: unknown, fallback: number, allowZero: boolean) => {
    const v = value ?? fallback; // null means the default, as `??` reads it
    if (positiveOk(v, allowZero)) values[name] = f(v);
    else bad.push(name);
  };
  const fraction = (name: string, value: unknown, fallback: number) => {
    const v = value ?? fallback;
    if (fractionOk(v)) values[name] = f(v);
    else bad.push(name);
  };
  if (positiveOk(o.lr, false)) values.lr = f(o.lr);
  else bad.push('lr');
  values.l2 = 0;
  values.decoupled = 0;
  const decay = o.weightDecay as { mode: unknown; rate: unknown } | null | undefined;
  if (typeof decay !== 'object' && decay !== undefined) {
    bad.push('weightDecay', 'weightDecay.rate');
  } else if (decay === null) {
    bad.push('weightDecay');
  } else if (decay !== undefined) {
    if (Object.entries(decay).some(([k, v]) => v !== undefined && k !== 'mode' && k !== 'rate'))
      bad.push('weightDecay');
    if (!positiveOk(decay.rate, true)) bad.push('weightDecay.rate');
    else if (decay.mode === 'l2') values.l2 = f(decay.rate);
    else if (decay.mode === 'decoupled') values.decoupled = f(decay.rate);
    else bad.push('weightDecay.mode');
  }
  if (values.lr !== undefined && values.decoupled !== 0) {
    if (!Number.isFinite(f((values.lr as number) * (values.decoupled as number))))
      bad.push('lr * weightDecay.rate');
  }
  if (o.maxNorm === undefined) values.maxNorm = 0;
  else if (positiveOk(o.maxNorm, false)) values.maxNorm = f(o.maxNorm);
  else bad.push('maxNorm'); // null is not "absent" here: the factory checks `=== undefined`
  const storage = o.stateStorage ?? 'float32';
  if (storage === 'float32' || storage === 'float16' || storage === 'bfloat16')
    values.stateStorage = storage;
  else bad.push('stateStorage');
  if (factory === 'momentum') fraction('momentum', o.momentum, 0.9);
  if (factory === 'adagrad' || factory === 'rowwiseAdagrad') {
    positive('eps', o.eps, factory === 'adagrad' ? 1e-10 : 1e-8, false);
    positive('initialAccumulator', o.initialAccumulator, 0, true);
    if (factory === 'rowwiseAdagrad' && values.lr !== undefined && values.eps !== undefined) {
      if (!Number.isFinite(f((values.lr as number) / (values.eps as number)))) bad.push('lr / eps');
    }
  }
  if (factory === 'adam') {
    fraction('beta1', o.beta1, 0.9);
    fraction('beta2', o.beta2, 0.999);
    positive('eps', o.eps, 1e-8, false);
  }
  return { bad, values };
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The message names `name` as the checks write it: `name: ...`, `factory: name = ...`, or
 * `unknown option "name"`.
 */
function names(message: string, name: string): boolean {
  const n = escapeRegExp(name);
  return new RegExp(`(^|: )${n}( =|:)|unknown option "${n}"`).test(message);
}

/** A zero row with a zero gradient stays zero, with finite state at its initial values. */
function checkZeroRow(opt: SparseOptimizer, dim: number, step: number): void {
  const size = opt.stateSize(dim);
  const w = new Float32Array(dim);
  const g = new Float32Array(dim);
  const s = new Float32Array(size);
  const initial: number[] = [];
  for (const slot of opt.slots)
    for (let k = 0; k < (slot.perElement ? dim : 1); k++) initial.push(slot.initial);
  expect(initial.length).toBe(size);
  s.set(initial);
  const scalars = new Float32Array(opt.scalarCount);
  opt.stepScalars(step, scalars);
  for (const k of scalars) expect(Number.isFinite(k) && k !== 0).toBe(true);
  opt.updateRow(w, 0, g, 0, s, 0, dim, scalars);
  // `===`: an initialAccumulator of -0 may come back as +0 (-0 + 0), which is the same state.
  for (let c = 0; c < dim; c++) expect(w[c] === 0, `w[${c}] = ${w[c]}`).toBe(true);
  for (let j = 0; j < size; j++)
    expect(s[j] === initial[j], `s[${j}] = ${s[j]}, expected ${initial[j]}`).toBe(true);
}

describe('optimizer factories under arbitrary options (fast-check)', () => {
  for (const factory of Object.keys(FACTORIES) as Factory[]) {
    it(`${factory}: a frozen optimizer with valid float32 hyper-parameters, or a RangeError/TypeError naming the option`, () => {
      fc.assert(
        fc.property(
          optionsArgumentFor(factory),
          fc.integer({ min: 1, max: 8 }),
          fc.oneof(fc.constantFrom(0, 1, 2), fc.integer({ min: 0, max: 2 ** 31 })),
          (argument, dim, step) => {
            const create = FACTORIES[factory] as (options: unknown) => SparseOptimizer;
            if (typeof argument !== 'object' || argument === null || Array.isArray(argument)) {
              expect(() => create(argument)).toThrow(TypeError);
              expect(() => create(argument)).toThrow(/optimizer options/);
              return;
            }
            const o = argument as Options;
            const verdict = oracle(factory, o);
            let opt: SparseOptimizer;
            try {
              opt = create(o);
            } catch (error) {
              expect(error instanceof RangeError || error instanceof TypeError, String(error)).toBe(
                true,
              );
              const message = (error as Error).message;
              expect(verdict.bad.length, `unexpected throw: ${message}`).toBeGreaterThan(0);
              expect(
                verdict.bad.some((name) => names(message, name)),
                `"${message}" names none of ${verdict.bad.join(', ')}`,
              ).toBe(true);
              return;
            }
            expect(verdict.bad, 'accepted invalid options').toEqual([]);
            expect(Object.isFrozen(opt)).toBe(true);
            expect(Object.isFrozen(opt.options)).toBe(true);
            expect(Object.isFrozen(opt.slots)).toBe(true);
            expect(opt.kind).toBe(KIND[factory]);
            expect(opt.stateStorage).toBe(verdict.values.stateStorage);
            expect(opt.maxNorm).toBe(verdict.values.maxNorm);
            expect(opt.writesGradient).toBe(verdict.values.l2 !== 0);
            for (const [name, value] of Object.entries(verdict.values)) {
              expect(opt.options[name], name).toBe(value);
              if (typeof value === 'number') {
                expect(Number.isFinite(value) && f(value) === value, name).toBe(true);
              }
            }
            const lr = verdict.values.lr as number;
            expect(lr > 0).toBe(true);
            if (verdict.values.decoupled !== 0)
              expect(Number.isFinite(f(lr * (verdict.values.decoupled as number)))).toBe(true);
            for (const slot of opt.slots) expect(Number.isFinite(slot.initial)).toBe(true);
            checkZeroRow(opt, dim, step);
          },
        ),
        { seed: SEED, numRuns: RUNS },
      );
    });
  }
});
