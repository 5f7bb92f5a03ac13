import { describe, expect, it } from 'vitest';
import {
  adagrad,
  adam,
  momentum,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '../src/index.js';

const FACTORIES = { sgd, momentum, adagrad, rowwiseAdagrad, adam } as Record<
  string,
  (options: never) => SparseOptimizer
>;

/** The error `fn` throws. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('optimizer options: unknown keys', () => {
  it('sgd({ lr, momentum }): a TypeError pointing to momentum()', () => {
    const error = thrown(() => sgd({ lr: 0.1, momentum: 0.9 } as never));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(
      'sgd: unknown option "momentum" (did you mean the momentum() optimizer, which takes { lr, momentum }?); expected lr, weightDecay, maxNorm, stateStorage',
    );
  });

  it('adam({ lr, betas }): a TypeError suggesting beta1/beta2', () => {
    expect(() => adam({ lr: 1e-3, betas: [0.9, 0.999] } as never)).toThrow(
      new TypeError(
        'adam: unknown option "betas" (did you mean beta1/beta2?); expected lr, weightDecay, maxNorm, stateStorage, beta1, beta2, eps',
      ),
    );
  });

  it("PyTorch's names get the halfstep name", () => {
    expect(() => adam({ lr: 1, weight_decay: 0.01 } as never)).toThrow(
      /adam: unknown option "weight_decay" \(did you mean weightDecay: \{ mode: 'l2', rate \}\?\)/,
    );
    expect(() => adagrad({ lr: 1, initial_accumulator_value: 0.1 } as never)).toThrow(
      /did you mean initialAccumulator\?/,
    );
    expect(() => adagrad({ lr: 1, epsilon: 1e-8 } as never)).toThrow(/did you mean eps\?/);
    expect(() => sgd({ lr: 1, maxnorm: 1 } as never)).toThrow(/did you mean maxNorm\?/);
    expect(() => momentum({ lr: 1, beta1: 0.9 } as never)).toThrow(/did you mean the adam\(\)/);
    expect(() => sgd({ lr: 1, eps: 1 } as never)).toThrow(/sgd: unknown option "eps"/);
    expect(() => rowwiseAdagrad({ lr: 1, momentum: 0.9 } as never)).toThrow(
      /rowwiseAdagrad: unknown option "momentum"/,
    );
  });

  it('a key whose value is undefined counts as absent', () => {
    expect(sgd({ lr: 1, momentum: undefined } as never).kind).toBe('sgd');
  });
});

describe('optimizer options: types and values', () => {
  for (const [name, create] of Object.entries(FACTORIES)) {
    it(`${name}: missing or non-object options, a missing or non-number lr: TypeError naming it`, () => {
      for (const bad of [undefined, null, 0.1, 'lr', [0.1]]) {
        const error = thrown(() => create(bad as never));
        expect(error).toBeInstanceOf(TypeError);
        expect(error.message).toMatch(new RegExp(`^${name}: optimizer options: expected`));
      }
      expect(() => create({} as never)).toThrow(
        new TypeError(`${name}: lr: expected a finite number > 0, got undefined`),
      );
      expect(() => create({ lr: '0.1' } as never)).toThrow(
        new TypeError(`${name}: lr: expected a finite number > 0, got string "0.1"`),
      );
      expect(() => create({ lr: -1 } as never)).toThrow(
        new RangeError(`${name}: lr: expected a finite number > 0, got -1`),
      );
      expect(() => create({ lr: 1, maxNorm: '1' } as never)).toThrow(TypeError);
      expect(() => create({ lr: 1, stateStorage: 16 } as never)).toThrow(
        new TypeError(
          `${name}: stateStorage: expected one of "float32", "float16", "bfloat16", got number 16`,
        ),
      );
      expect(() => create({ lr: 1, stateStorage: 'float8e4m3' } as never)).toThrow(RangeError);
      expect(create({ lr: 1 } as never).options.lr).toBe(1);
    });
  }

  it('weightDecay: an object { mode, rate }, each checked', () => {
    expect(() => sgd({ lr: 1, weightDecay: null as never })).toThrow(
      new TypeError('sgd: weightDecay: expected an options object { mode, rate }, got null'),
    );
    expect(() => sgd({ lr: 1, weightDecay: 0.01 as never })).toThrow(/sgd: weightDecay: expected/);
    expect(() =>
      sgd({ lr: 1, weightDecay: { mode: 'l2', rate: 0.1, type: 'l2' } as never }),
    ).toThrow(/sgd: weightDecay: unknown option "type" \(did you mean mode\?\)/);
    expect(() => sgd({ lr: 1, weightDecay: { mode: 'L2' as never, rate: 0.1 } })).toThrow(
      new RangeError('sgd: weightDecay.mode: expected one of "l2", "decoupled", got string "L2"'),
    );
    expect(() => sgd({ lr: 1, weightDecay: { rate: 0.1 } as never })).toThrow(
      /sgd: weightDecay.mode: expected one of "l2", "decoupled", got undefined/,
    );
    expect(() => sgd({ lr: 1, weightDecay: { mode: 'l2', rate: '0.1' as never } })).toThrow(
      TypeError,
    );
    expect(sgd({ lr: 1, weightDecay: { mode: 'decoupled', rate: 0.5 } }).options.decoupled).toBe(
      0.5,
    );
  });

  it('factors and eps of the wrong type: TypeError; out of range: RangeError', () => {
    expect(() => momentum({ lr: 1, momentum: '0.9' as never })).toThrow(
      new TypeError('momentum: momentum: expected a number in [0, 1), got string "0.9"'),
    );
    expect(() => adam({ lr: 1, beta1: 1 })).toThrow(RangeError);
    expect(() => adam({ lr: 1, eps: true as never })).toThrow(TypeError);
    expect(adam({ lr: 1, beta1: 0.5, beta2: 0.75 }).options.beta2).toBe(0.75);
  });
});
