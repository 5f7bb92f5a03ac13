import { optionKeys } from '@halfstep/codecs';
import {
  applyDecay,
  type Common,
  clipNorm,
  commonOptions,
  finiteDerived,
  fraction,
  positive,
} from './common.js';
import type { CommonOptions, OptimizerKind, SparseOptimizer, StateSlot } from './types.js';

const f = Math.fround;
const NO_SLOTS: readonly StateSlot[] = Object.freeze([]);

function describe(
  kind: OptimizerKind,
  c: Common,
  extra: Record<string, number>,
  slots: readonly StateSlot[],
  scalarCount: number,
  stepScalars: (step: number, out: Float32Array) => void,
  rule: SparseOptimizer['updateRow'],
): SparseOptimizer {
  const perRow = slots.filter((slot) => !slot.perElement).length;
  const perElement = slots.length - perRow;
  return Object.freeze({
    kind,
    options: Object.freeze({
      lr: c.lr,
      l2: c.l2,
      decoupled: c.decoupled,
      maxNorm: c.maxNorm,
      stateStorage: c.stateStorage,
      ...extra,
    }),
    slots,
    stateStorage: c.stateStorage,
    maxNorm: c.maxNorm,
    writesGradient: c.l2 !== 0,
    stateSize: (dim: number) => perElement * dim + perRow,
    scalarCount,
    stepScalars,
    updateRow(
      w: Float32Array,
      wo: number,
      g: Float32Array,
      go: number,
      s: Float32Array,
      so: number,
      dim: number,
      scalars: Float32Array,
    ): void {
      applyDecay(c, w, wo, g, go, dim);
      rule(w, wo, g, go, s, so, dim, scalars);
      clipNorm(c.maxNorm, w, wo, dim);
    },
  });
}

function noScalars(): void {}

/** Options of {@link sgd}. */
export type SgdOptions = CommonOptions;

const COMMON = { lr: true, weightDecay: true, maxNorm: true, stateStorage: true } as const;
const SGD_KEYS = optionKeys<SgdOptions>(COMMON);

/**
 * Plain SGD, no state: `w[c] = w[c] - fround(lr * g[c])`.
 * @example
 * ```ts
 * import { createEmbeddingBag } from '@halfstep/embedding';
 * import { sgd } from '@halfstep/optim';
 *
 * const bag = await createEmbeddingBag({ rows: 1000, dim: 16, optimizer: sgd({ lr: 0.1 }) });
 * console.log(bag.stateBytes); // 0
 * ```
 */
export function sgd(options: SgdOptions): SparseOptimizer {
  const c = commonOptions('sgd', options, SGD_KEYS);
  const lr = c.lr;
  return describe('sgd', c, {}, NO_SLOTS, 0, noScalars, (w, wo, g, go, _s, _so, dim) => {
    for (let i = 0; i < dim; i++) w[wo + i] = f(w[wo + i]! - f(lr * g[go + i]!));
  });
}

/** Options of {@link momentum}. */
export interface MomentumOptions extends CommonOptions {
  /** Momentum factor mu in [0, 1) (in float32 too); default 0.9. */
  readonly momentum?: number | undefined;
}

const MOMENTUM_KEYS = optionKeys<MomentumOptions>({ ...COMMON, momentum: true });

/**
 * SGD with momentum (PyTorch's form, no dampening), one state value per element, updated only
 * on touched rows: `m[c] = fround(fround(mu * m[c]) + g[c])`, then `w[c] = w[c] - fround(lr * m[c])`.
 * @example
 * ```ts
 * const optimizer = momentum({ lr: 0.05, momentum: 0.9 }); // for createEmbeddingBag's `optimizer`
 * ```
 */
export function momentum(options: MomentumOptions): SparseOptimizer {
  const c = commonOptions('momentum', options, MOMENTUM_KEYS);
  const mu = fraction('momentum', options.momentum ?? 0.9, 'momentum');
  const lr = c.lr;
  const slots = Object.freeze([{ name: 'momentum', perElement: true, initial: 0 }]);
  return describe(
    'momentum',
    c,
    { momentum: mu },
    slots,
    0,
    noScalars,
    (w, wo, g, go, s, so, dim) => {
      for (let i = 0; i < dim; i++) {
        const m = f(f(mu * s[so + i]!) + g[go + i]!);
        s[so + i] = m;
        w[wo + i] = f(w[wo + i]! - f(lr * m));
      }
    },
  );
}

/** Options of {@link adagrad} and {@link rowwiseAdagrad}. */
export interface AdagradOptions extends CommonOptions {
  /**
   * Added to the square root of the accumulator, > 0 (and in float32: a zero eps divides a zero
   * gradient by zero); default 1e-10 (adagrad) / 1e-8 (row-wise).
   */
  readonly eps?: number | undefined;
  /** The accumulator's starting value, >= 0 and finite in float32; default 0. */
  readonly initialAccumulator?: number | undefined;
}

const ADAGRAD_KEYS = optionKeys<AdagradOptions>({ ...COMMON, eps: true, initialAccumulator: true });

/**
 * Adagrad with one accumulator per element:
 * `s[c] = fround(s[c] + fround(g[c] * g[c]))`, then
 * `w[c] = w[c] - fround(fround(lr * g[c]) / fround(fround(sqrt(s[c])) + eps))`.
 * @example
 * ```ts
 * const optimizer = adagrad({ lr: 0.1, stateStorage: 'float16' }); // accumulators in float16
 * ```
 */
export function adagrad(options: AdagradOptions): SparseOptimizer {
  const c = commonOptions('adagrad', options, ADAGRAD_KEYS);
  const eps = positive('adagrad', options.eps ?? 1e-10, 'eps', false);
  const init = positive('adagrad', options.initialAccumulator ?? 0, 'initialAccumulator', true);
  const lr = c.lr;
  const slots = Object.freeze([{ name: 'sum_squares', perElement: true, initial: init }]);
  const extra = { eps, initialAccumulator: init };
  return describe('adagrad', c, extra, slots, 0, noScalars, (w, wo, g, go, s, so, dim) => {
    for (let i = 0; i < dim; i++) {
      const gi = g[go + i]!;
      const acc = f(s[so + i]! + f(gi * gi));
      s[so + i] = acc;
      w[wo + i] = f(w[wo + i]! - f(f(lr * gi) / f(f(Math.sqrt(acc)) + eps)));
    }
  });
}

/**
 * Row-wise Adagrad (FBGEMM's `EXACT_ROWWISE_ADAGRAD`): one float32 accumulator per row.
 * `m = fround(sum_c fround(g[c]^2))` summed in ascending c, `s = fround(s + fround(m / dim))`,
 * `r = fround(lr / fround(fround(sqrt(s)) + eps))`, then `w[c] = w[c] - fround(r * g[c])`.
 * @example
 * ```ts
 * import { createEmbeddingBag } from '@halfstep/embedding';
 * import { rowwiseAdagrad } from '@halfstep/optim';
 *
 * const bag = await createEmbeddingBag({ rows: 1000, dim: 16, optimizer: rowwiseAdagrad({ lr: 0.05 }) });
 * console.log(bag.stateBytes); // 4000: one float32 per row
 * ```
 */
export function rowwiseAdagrad(options: AdagradOptions): SparseOptimizer {
  const c = commonOptions('rowwiseAdagrad', options, ADAGRAD_KEYS);
  const eps = positive('rowwiseAdagrad', options.eps ?? 1e-8, 'eps', false);
  const init = positive(
    'rowwiseAdagrad',
    options.initialAccumulator ?? 0,
    'initialAccumulator',
    true,
  );
  const lr = c.lr;
  // The rate of a row whose accumulator is 0, the largest: Infinity would make 0 * rate NaN.
  finiteDerived('rowwiseAdagrad', 'lr / eps', `${lr} / ${eps}`, f(lr / eps));
  const slots = Object.freeze([{ name: 'sum_squares', perElement: false, initial: init }]);
  const extra = { eps, initialAccumulator: init };
  return describe('rowwise-adagrad', c, extra, slots, 0, noScalars, (w, wo, g, go, s, so, dim) => {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum = f(sum + f(g[go + i]! * g[go + i]!));
    const acc = f(s[so]! + f(sum / dim));
    s[so] = acc;
    const rate = f(lr / f(f(Math.sqrt(acc)) + eps));
    for (let i = 0; i < dim; i++) w[wo + i] = f(w[wo + i]! - f(rate * g[go + i]!));
  });
}

/** Options of {@link adam}. */
export interface AdamOptions extends CommonOptions {
  /** In [0, 1) (in float32 too); default 0.9. */
  readonly beta1?: number | undefined;
  /** In [0, 1) (in float32 too); default 0.999. */
  readonly beta2?: number | undefined;
  /** > 0, and finite and > 0 in float32; default 1e-8. */
  readonly eps?: number | undefined;
}

const ADAM_KEYS = optionKeys<AdamOptions>({ ...COMMON, beta1: true, beta2: true, eps: true });

/**
 * Lazy (sparse) Adam, as PyTorch's `SparseAdam` and TF's `LazyAdam`: the moments of a row are
 * updated only when the row is touched, with the bias corrections of the global step t = step + 1.
 * Per step (host, float64 then rounded): `bc1 = fround(1 - beta1^t)`, `bc2 = fround(1 - beta2^t)`.
 * Per element: `m = fround(fround(b1 * m) + fround(fround(1 - b1) * g))`,
 * `v = fround(fround(b2 * v) + fround(fround(1 - b2) * fround(g * g)))`,
 * `w = w - fround(lr * fround(fround(m / bc1) / fround(fround(sqrt(fround(v / bc2))) + eps)))`.
 * @example
 * ```ts
 * const optimizer = adam({ lr: 0.001, stateStorage: 'float16' }); // both moments in float16
 * ```
 */
export function adam(options: AdamOptions): SparseOptimizer {
  const c = commonOptions('adam', options, ADAM_KEYS);
  const b1 = fraction('adam', options.beta1 ?? 0.9, 'beta1');
  const b2 = fraction('adam', options.beta2 ?? 0.999, 'beta2');
  const eps = positive('adam', options.eps ?? 1e-8, 'eps', false);
  const lr = c.lr;
  const a1 = f(1 - b1);
  const a2 = f(1 - b2);
  const slots = Object.freeze([
    { name: 'exp_avg', perElement: true, initial: 0 },
    { name: 'exp_avg_sq', perElement: true, initial: 0 },
  ]);
  const scalars = (step: number, out: Float32Array) => {
    out[0] = f(1 - b1 ** (step + 1));
    out[1] = f(1 - b2 ** (step + 1));
  };
  const extra = { beta1: b1, beta2: b2, eps };
  return describe('adam', c, extra, slots, 2, scalars, (w, wo, g, go, s, so, dim, k) => {
    const bc1 = k[0]!;
    const bc2 = k[1]!;
    const vo = so + dim;
    for (let i = 0; i < dim; i++) {
      const gi = g[go + i]!;
      const m = f(f(b1 * s[so + i]!) + f(a1 * gi));
      const v = f(f(b2 * s[vo + i]!) + f(a2 * f(gi * gi)));
      s[so + i] = m;
      s[vo + i] = v;
      const denom = f(f(Math.sqrt(f(v / bc2))) + eps);
      w[wo + i] = f(w[wo + i]! - f(lr * f(f(m / bc1) / denom)));
    }
  });
}
