import { argumentError, checkOneOf, checkOptions } from '@halfstep/codecs';
import type { CommonOptions, StateStorage, WeightDecay } from './types.js';

const f = Math.fround;

/** Normalised common options: float32 scalars, 0 meaning "off". */
export interface Common {
  readonly lr: number;
  readonly l2: number;
  readonly decoupled: number;
  readonly maxNorm: number;
  readonly stateStorage: StateStorage;
}

/** The factories, as the messages name them. */
export type FactoryName = 'sgd' | 'momentum' | 'adagrad' | 'rowwiseAdagrad' | 'adam';

/**
 * The float32 check: `rounded`, the value the kernels use, must still satisfy the rule that the
 * given value passed (rounding can overflow to Infinity, underflow to 0, or reach 1).
 */
function roundedCheck(
  factory: FactoryName,
  name: string,
  value: number,
  ok: (rounded: number) => boolean,
  expected: string,
): number {
  const rounded = f(value);
  if (!ok(rounded)) {
    throw new RangeError(
      `${factory}: ${name} = ${String(value)} rounds to ${String(rounded)} in float32; expected ${expected}`,
    );
  }
  return rounded;
}

/**
 * Checks a finite number > 0 (or >= 0 with `allowZero`), and that its float32 value, which is
 * returned, is one too.
 */
export function positive(
  factory: FactoryName,
  value: unknown,
  name: string,
  allowZero: boolean,
): number {
  const expected = `a finite number ${allowZero ? '>= 0' : '> 0'}`;
  if (typeof value !== 'number') throw argumentError(`${factory}: ${name}`, expected, value);
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RangeError(`${factory}: ${name}: expected ${expected}, got ${String(value)}`);
  }
  return roundedCheck(
    factory,
    name,
    value,
    (r) => Number.isFinite(r) && (allowZero ? r >= 0 : r > 0),
    `a finite value ${allowZero ? '>= 0' : '> 0'}`,
  );
}

/** Checks a number in [0, 1), and that its float32 value, which is returned, is one too. */
export function fraction(factory: FactoryName, value: unknown, name: string): number {
  if (typeof value !== 'number') {
    throw argumentError(`${factory}: ${name}`, 'a number in [0, 1)', value);
  }
  if (!(value >= 0 && value < 1)) {
    throw new RangeError(`${factory}: ${name}: expected a number in [0, 1), got ${String(value)}`);
  }
  return roundedCheck(factory, name, value, (r) => r >= 0 && r < 1, 'a value in [0, 1)');
}

/**
 * Checks a float32 constant the rule derives from two options (`lr * rate` of decoupled decay,
 * row-wise Adagrad's largest rate `lr / eps`): Infinity there writes NaN into a row.
 */
export function finiteDerived(
  factory: FactoryName,
  expression: string,
  operands: string,
  value: number,
): void {
  if (!Number.isFinite(value)) {
    throw new RangeError(
      `${factory}: ${expression} = ${operands} rounds to ${String(value)} in float32; expected a finite value`,
    );
  }
}

/** Suggestions for PyTorch's names and for options of another factory. */
function hintsFor(factory: FactoryName): Record<string, string> {
  const hints: Record<string, string> = {
    learning_rate: 'lr',
    learningRate: 'lr',
    weight_decay: "weightDecay: { mode: 'l2', rate }",
    decay: "weightDecay: { mode: 'l2' | 'decoupled', rate }",
    max_norm: 'maxNorm',
    epsilon: 'eps',
    initial_accumulator_value: 'initialAccumulator',
    betas: 'beta1/beta2',
    state_storage: 'stateStorage',
  };
  if (factory !== 'momentum')
    for (const key of ['momentum', 'nesterov', 'dampening'])
      hints[key] = 'the momentum() optimizer, which takes { lr, momentum }';
  for (const key of ['beta1', 'beta2', 'betas', 'amsgrad'])
    if (factory !== 'adam')
      hints[key] = 'the adam() optimizer, which takes { lr, beta1, beta2, eps }';
  if (factory === 'adam') hints.betas = 'beta1/beta2';
  if (factory === 'sgd') hints.eps = 'adagrad(), rowwiseAdagrad() or adam(), which take eps';
  if (factory === 'momentum') hints.eps = 'adagrad(), rowwiseAdagrad() or adam(), which take eps';
  for (const key of ['initialAccumulator', 'lr_decay'])
    if (factory !== 'adagrad' && factory !== 'rowwiseAdagrad')
      hints[key] = 'adagrad() or rowwiseAdagrad(), which take initialAccumulator';
  return hints;
}

const STORAGES: readonly StateStorage[] = ['float32', 'float16', 'bfloat16'];

/**
 * Checks and normalises the options every optimizer shares, after checking that `options` is an
 * object whose keys are all options of `factory`.
 * @throws TypeError naming the factory for options that are not an object or have an unknown
 *   key, and naming the option for a value of the wrong type (a missing `lr` included);
 *   RangeError naming the option for a value out of range.
 */
export function commonOptions(
  factory: FactoryName,
  options: CommonOptions,
  keys: readonly string[],
): Common {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw argumentError(`${factory}: optimizer options`, 'an object with lr', options);
  }
  checkOptions(factory, options, keys, {
    hints: hintsFor(factory),
  });
  const lr = positive(factory, options.lr, 'lr', false);
  const decay: WeightDecay | undefined = options.weightDecay;
  let l2 = 0;
  let decoupled = 0;
  if (decay !== undefined) {
    checkOptions(factory, decay, ['mode', 'rate'], {
      argument: 'weightDecay',
      optional: false,
      hints: { type: 'mode', value: 'rate', weight: 'rate', lambda: 'rate' },
    });
    const rate = positive(factory, decay.rate, 'weightDecay.rate', true);
    const mode = checkOneOf(decay.mode, ['l2', 'decoupled'], `${factory}: weightDecay.mode`);
    if (mode === 'l2') l2 = rate;
    else decoupled = rate;
  }
  if (decoupled !== 0) {
    finiteDerived(factory, 'lr * weightDecay.rate', `${lr} * ${decoupled}`, f(lr * decoupled));
  }
  const maxNorm =
    options.maxNorm === undefined ? 0 : positive(factory, options.maxNorm, 'maxNorm', false);
  const stateStorage = checkOneOf(
    options.stateStorage ?? 'float32',
    STORAGES,
    `${factory}: stateStorage`,
  );
  return { lr, l2, decoupled, maxNorm, stateStorage };
}

/**
 * Applies weight decay before the rule, in float32: L2 adds `l2 * w[c]` to `g[c]`; decoupled
 * decay sets `w[c] = w[c] - (lr * decoupled) * w[c]` with `lr * decoupled` rounded once.
 */
export function applyDecay(
  c: Common,
  w: Float32Array,
  wo: number,
  g: Float32Array,
  go: number,
  dim: number,
): void {
  if (c.l2 !== 0) {
    const l2 = c.l2;
    for (let i = 0; i < dim; i++) g[go + i] = f(g[go + i]! + f(l2 * w[wo + i]!));
  }
  if (c.decoupled !== 0) {
    const shrink = f(c.lr * c.decoupled);
    for (let i = 0; i < dim; i++) w[wo + i] = f(w[wo + i]! - f(shrink * w[wo + i]!));
  }
}

/**
 * The max-norm clip, in float32: n2 = sum of w[c]^2 in ascending c, n = sqrt(n2); when
 * n > maxNorm every element becomes w[c] * (maxNorm / n).
 */
export function clipNorm(maxNorm: number, w: Float32Array, wo: number, dim: number): void {
  if (maxNorm === 0) return;
  let n2 = 0;
  for (let i = 0; i < dim; i++) n2 = f(n2 + f(w[wo + i]! * w[wo + i]!));
  const n = f(Math.sqrt(n2));
  if (n <= maxNorm) return;
  const scale = f(maxNorm / n);
  for (let i = 0; i < dim; i++) w[wo + i] = f(w[wo + i]! * scale);
}
