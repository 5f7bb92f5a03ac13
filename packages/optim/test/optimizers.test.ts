import { describe, expect, it } from 'vitest';
import {
  adagrad,
  adam,
  momentum,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '../src/index.js';

/** Runs one update of one row through the rule, returning (weights, state). */
function update(opt: SparseOptimizer, w: number[], g: number[], s?: number[], step = 0) {
  const dim = w.length;
  const weights = Float32Array.from(w);
  const grad = Float32Array.from(g);
  const state = new Float32Array(opt.stateSize(dim));
  if (s) state.set(s);
  const scalars = new Float32Array(opt.scalarCount);
  opt.stepScalars(step, scalars);
  opt.updateRow(weights, 0, grad, 0, state, 0, dim, scalars);
  return { weights, state };
}

/** Float64 reference, then compared at float32 precision (relative 2^-20: a few float32 ulps). */
function close(actual: Float32Array, expected: number[]) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = Math.abs(expected[i]!) * 2 ** -20 + 1e-30;
    if (Math.abs(actual[i]! - expected[i]!) > tolerance) {
      expect.fail(`element ${i}: ${actual[i]} vs float64 reference ${expected[i]}`);
    }
  }
}

describe('sgd', () => {
  it('w - lr g, exact on dyadic values', () => {
    const { weights } = update(sgd({ lr: 0.5 }), [1, -2, 0.25], [0.5, 1, -4]);
    expect([...weights]).toEqual([0.75, -2.5, 2.25]);
  });
  it('rounds lr * g to float32 before subtracting (no fused multiply-add)', () => {
    const lr = 0.1;
    const g = 1 / 3;
    const { weights } = update(sgd({ lr }), [1], [g]);
    const f = Math.fround;
    expect(weights[0]).toBe(f(1 - f(f(lr) * f(g))));
  });
  it('has no state', () => {
    expect(sgd({ lr: 1 }).stateSize(64)).toBe(0);
  });
});

describe('momentum', () => {
  it('m = mu m + g; w -= lr m, over two steps (float64 reference)', () => {
    const opt = momentum({ lr: 0.1, momentum: 0.9 });
    const first = update(opt, [1, 2], [0.5, -1]);
    close(first.state, [0.5, -1]);
    close(first.weights, [1 - 0.1 * 0.5, 2 + 0.1]);
    const second = update(opt, [...first.weights], [0.25, 0.25], [...first.state]);
    const m = [0.9 * 0.5 + 0.25, 0.9 * -1 + 0.25];
    close(second.state, m);
    close(second.weights, [first.weights[0]! - 0.1 * m[0]!, first.weights[1]! - 0.1 * m[1]!]);
  });
});

describe('adagrad', () => {
  it('s += g^2; w -= lr g / (sqrt(s) + eps)', () => {
    const opt = adagrad({ lr: 0.1, eps: 1e-10 });
    const { weights, state } = update(opt, [1, -1, 0.5], [3, 0.5, -2], [1, 0, 0]);
    const s = [1 + 9, 0.25, 4];
    close(state, s);
    close(weights, [
      1 - (0.1 * 3) / (Math.sqrt(10) + 1e-10),
      -1 - (0.1 * 0.5) / 0.5,
      0.5 + (0.1 * 2) / 2,
    ]);
  });
  it('one state value per element; initialAccumulator is the slots initial value', () => {
    const opt = adagrad({ lr: 1, initialAccumulator: 0.1 });
    expect(opt.stateSize(16)).toBe(16);
    expect(opt.slots[0]!.initial).toBe(Math.fround(0.1));
  });
});

describe('rowwiseAdagrad', () => {
  it("FBGEMM's formula: s += mean(g^2); w -= lr g / (sqrt(s) + eps)", () => {
    const opt = rowwiseAdagrad({ lr: 0.5, eps: 1e-8 });
    const { weights, state } = update(opt, [1, 1], [3, 4], [2]);
    const s = 2 + (9 + 16) / 2; // 14.5
    close(state, [s]);
    const rate = 0.5 / (Math.sqrt(s) + 1e-8);
    close(weights, [1 - rate * 3, 1 - rate * 4]);
  });
  it('keeps exactly one float per row', () => {
    expect(rowwiseAdagrad({ lr: 1 }).stateSize(64)).toBe(1);
  });
});

describe('adam (lazy)', () => {
  it('first step moves each element by about lr in the direction of -sign(g)', () => {
    const { weights, state } = update(adam({ lr: 0.01 }), [1, 1, 1], [0.5, -2, 1e-3]);
    // Hyper-parameters are float32 (the spec): 1 - beta is computed from fround(beta).
    const a1 = 1 - Math.fround(0.9);
    const a2 = 1 - Math.fround(0.999);
    close(state, [a1 * 0.5, a1 * -2, a1 * 1e-3, a2 * 0.25, a2 * 4, a2 * 1e-6]);
    // mhat = g, vhat = g^2: w -= lr g / (|g| + eps)
    close(weights, [
      1 - 0.01 * (0.5 / (0.5 + 1e-8)),
      1 + 0.01 * (2 / (2 + 1e-8)),
      1 - 0.01 * (1e-3 / (1e-3 + 1e-8)),
    ]);
  });
  it('bias corrections follow the global step (t = step + 1)', () => {
    const opt = adam({ lr: 0.1, beta1: 0.5, beta2: 0.75 });
    const m0 = 0.2;
    const v0 = 0.04;
    const g = 0.3;
    const step = 4; // t = 5
    const { weights } = update(opt, [0], [g], [m0, v0], step);
    const m = 0.5 * m0 + 0.5 * g;
    const v = 0.75 * v0 + 0.25 * g * g;
    const mhat = m / (1 - 0.5 ** 5);
    const vhat = v / (1 - 0.75 ** 5);
    close(weights, [-0.1 * (mhat / (Math.sqrt(vhat) + 1e-8))]);
  });
});

describe('weight decay and max-norm', () => {
  it('l2 adds rate * w to the gradient', () => {
    const { weights } = update(sgd({ lr: 0.5, weightDecay: { mode: 'l2', rate: 0.25 } }), [2], [1]);
    expect(weights[0]).toBe(2 - 0.5 * (1 + 0.25 * 2));
  });
  it('decoupled decay shrinks w by lr * rate * w before the rule (even with Adam)', () => {
    const { weights } = update(
      sgd({ lr: 0.5, weightDecay: { mode: 'decoupled', rate: 0.25 } }),
      [2],
      [1],
    );
    expect(weights[0]).toBe(2 - 0.5 * 0.25 * 2 - 0.5 * 1);
  });
  it('maxNorm rescales a row whose norm exceeds it, and leaves a shorter row alone', () => {
    const clipped = update(sgd({ lr: 1, maxNorm: 1 }), [3, 4], [0, 0]);
    close(clipped.weights, [0.6, 0.8]);
    const short = update(sgd({ lr: 1, maxNorm: 10 }), [3, 4], [0, 0]);
    expect([...short.weights]).toEqual([3, 4]);
  });
});

describe('options', () => {
  it('rejects a bad learning rate, momentum, or state storage', () => {
    expect(() => sgd({ lr: 0 })).toThrow(/lr/);
    expect(() => sgd({ lr: Number.NaN })).toThrow(/lr/);
    expect(() => momentum({ lr: 1, momentum: 1 })).toThrow(/momentum/);
    expect(() => adam({ lr: 1, stateStorage: 'float8e4m3' as never })).toThrow(/stateStorage/);
  });
  it('rejects eps = 0 (a zero gradient would divide 0 by 0) for every optimizer with an eps', () => {
    for (const make of [adagrad, rowwiseAdagrad, adam]) {
      expect(() => make({ lr: 1, eps: 0 })).toThrow('eps: expected a finite number > 0, got 0');
      expect(() => make({ lr: 1, eps: -1 })).toThrow('eps: expected a finite number > 0, got -1');
    }
    // With the smallest eps accepted, a zero gradient leaves the row alone (eps = 0 wrote NaN).
    for (const make of [adagrad, adam]) {
      expect([...update(make({ lr: 1, eps: 2 ** -149 }), [1, 2], [0, 0]).weights]).toEqual([1, 2]);
    }
    const smallest = rowwiseAdagrad({ lr: 2 ** -30, eps: 2 ** -149 }); // lr / eps = 2^119
    expect([...update(smallest, [1, 2], [0, 0]).weights]).toEqual([1, 2]);
  });
  it("rejects derived constants that overflow: row-wise Adagrad's lr / eps, decoupled lr * rate", () => {
    // A zero accumulator's rate lr / eps = Infinity would turn a zero gradient into NaN.
    expect(() => rowwiseAdagrad({ lr: 1, eps: 2 ** -149 })).toThrow(
      'rowwiseAdagrad: lr / eps = 1 / 1.401298464324817e-45 rounds to Infinity in float32; expected a finite value',
    );
    expect(() => rowwiseAdagrad({ lr: 1e31, eps: 1e-8 })).toThrow(
      /lr \/ eps = .* rounds to Infinity/,
    );
    expect(rowwiseAdagrad({ lr: 1e30, eps: 1e-8 }).kind).toBe('rowwise-adagrad');
    // Decoupled decay shrinks w by fround(lr * rate) * w: Infinity * 0 is NaN.
    expect(() => sgd({ lr: 1e20, weightDecay: { mode: 'decoupled', rate: 1e20 } })).toThrow(
      /sgd: lr \* weightDecay\.rate = .* rounds to Infinity in float32; expected a finite value/,
    );
    // L2 decay has no such product.
    expect(sgd({ lr: 1e20, weightDecay: { mode: 'l2', rate: 1e20 } }).writesGradient).toBe(true);
  });
  it('rejects a learning rate that rounds to Infinity or 0 in float32', () => {
    expect(() => sgd({ lr: 1e39 })).toThrow(
      'sgd: lr = 1e+39 rounds to Infinity in float32; expected a finite value > 0',
    );
    expect(() => momentum({ lr: 1e-50 })).toThrow(
      'momentum: lr = 1e-50 rounds to 0 in float32; expected a finite value > 0',
    );
    // The largest float32 is fine; the first float64 above its rounding boundary is not.
    expect(sgd({ lr: 3.4028234663852886e38 }).options.lr).toBe(3.4028234663852886e38);
    expect(() => sgd({ lr: 3.4028235677973366e38 })).toThrow(/rounds to Infinity/);
    // The smallest float32 subnormal is > 0 and accepted.
    expect(sgd({ lr: 2 ** -149 }).options.lr).toBe(2 ** -149);
  });
  it('rejects an eps that rounds to Infinity or 0, naming the factory', () => {
    expect(() => adagrad({ lr: 1, eps: 1e-50 })).toThrow(
      'adagrad: eps = 1e-50 rounds to 0 in float32; expected a finite value > 0',
    );
    expect(() => rowwiseAdagrad({ lr: 1, eps: 1e39 })).toThrow(
      'rowwiseAdagrad: eps = 1e+39 rounds to Infinity in float32; expected a finite value > 0',
    );
    expect(() => adam({ lr: 1, eps: 1e-46 })).toThrow(
      'adam: eps = 1e-46 rounds to 0 in float32; expected a finite value > 0',
    );
  });
  it('rejects momentum, beta1 or beta2 that round to 1 in float32', () => {
    expect(() => momentum({ lr: 1, momentum: 0.99999999 })).toThrow(
      'momentum: momentum = 0.99999999 rounds to 1 in float32; expected a value in [0, 1)',
    );
    expect(() => adam({ lr: 1, beta1: 0.99999999 })).toThrow(
      'adam: beta1 = 0.99999999 rounds to 1 in float32; expected a value in [0, 1)',
    );
    expect(() => adam({ lr: 1, beta2: 1 - 2 ** -30 })).toThrow(
      /adam: beta2 = 0\.99999999\d* rounds to 1/,
    );
    expect(() => adam({ lr: 1, beta2: -0.5 })).toThrow(
      'beta2: expected a number in [0, 1), got -0.5',
    );
    expect(adam({ lr: 1, beta2: 1 - 2 ** -24 }).options.beta2).toBe(1 - 2 ** -24);
  });
  it('rejects a weight decay rate, maxNorm or initialAccumulator that is not finite in float32', () => {
    expect(() => sgd({ lr: 1, weightDecay: { mode: 'l2', rate: 1e39 } })).toThrow(
      'sgd: weightDecay.rate = 1e+39 rounds to Infinity in float32; expected a finite value >= 0',
    );
    expect(() => sgd({ lr: 1, weightDecay: { mode: 'decoupled', rate: -1 } })).toThrow(
      'weightDecay.rate: expected a finite number >= 0, got -1',
    );
    // A rate that underflows to 0 is allowed (>= 0): no decay.
    expect(sgd({ lr: 1, weightDecay: { mode: 'l2', rate: 1e-50 } }).writesGradient).toBe(false);
    expect(() => adam({ lr: 1, maxNorm: 1e39 })).toThrow(
      'adam: maxNorm = 1e+39 rounds to Infinity in float32; expected a finite value > 0',
    );
    expect(() => adam({ lr: 1, maxNorm: 1e-50 })).toThrow(
      'adam: maxNorm = 1e-50 rounds to 0 in float32; expected a finite value > 0',
    );
    expect(() => adam({ lr: 1, maxNorm: 0 })).toThrow(
      'maxNorm: expected a finite number > 0, got 0',
    );
    expect(() => adagrad({ lr: 1, initialAccumulator: 1e39 })).toThrow(
      'adagrad: initialAccumulator = 1e+39 rounds to Infinity in float32; expected a finite value >= 0',
    );
    expect(() => rowwiseAdagrad({ lr: 1, initialAccumulator: Number.NaN })).toThrow(
      'initialAccumulator: expected a finite number >= 0, got NaN',
    );
    expect(rowwiseAdagrad({ lr: 1, initialAccumulator: 0 }).slots[0]!.initial).toBe(0);
  });
  it('normalises to the float32 values the kernels use', () => {
    const opt = adam({ lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, maxNorm: 0.3 });
    const f = Math.fround;
    expect(opt.options).toMatchObject({
      lr: f(0.1),
      beta1: f(0.9),
      beta2: f(0.999),
      eps: f(1e-8),
      maxNorm: f(0.3),
    });
  });
  it('keeps the factory names and kinds', () => {
    expect([sgd, momentum, adagrad, rowwiseAdagrad, adam].map((f) => f({ lr: 1 }).kind)).toEqual([
      'sgd',
      'momentum',
      'adagrad',
      'rowwise-adagrad',
      'adam',
    ]);
  });
});
