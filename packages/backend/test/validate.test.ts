import { sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import {
  BadInputError,
  checkBagInput,
  checkBagUpdate,
  checkFiniteGradient,
  type TableHandle,
  toIndices,
} from '../src/index.js';

const table = {
  name: 'users',
  index: 0,
  rows: 10,
  dim: 2,
  storage: 'float16',
  rounding: 'stochastic',
  optimizer: sgd({ lr: 1 }),
  seed: 0n,
  id: 1,
  weightBytes: 40,
  stateBytes: 0,
} satisfies TableHandle;
const i32 = (...v: number[]) => Int32Array.from(v);

function thrown(fn: () => void): BadInputError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BadInputError);
    return error as BadInputError;
  }
  throw new Error('expected a throw');
}

describe('shared input checks', () => {
  it('an index out of range names the table, the position and the value', () => {
    const e = thrown(() =>
      checkBagInput('users', 10, { indices: i32(1, 10), offsets: i32(0) }, 'sum'),
    );
    expect(e.message).toBe('table "users": indices[1] = 10 is out of range [0, 10)');
    expect([e.table, e.argument, e.position, e.value]).toEqual(['users', 'indices', 1, 10]);
    expect(() => checkBagInput('users', 10, { indices: i32(-1), offsets: i32(0) }, 'sum')).toThrow(
      'indices[0] = -1',
    );
  });
  it('an index that is not an integer', () => {
    const e = thrown(() => toIndices('users', 10, [1, 2.5]));
    expect(e.message).toBe('table "users": indices[1] = 2.5 is not an integer');
    expect(() => toIndices('users', 10, [Number.NaN])).toThrow(
      'indices[0] = NaN is not an integer',
    );
  });
  it('offsets decreasing, past the end, or not starting at 0', () => {
    expect(() =>
      checkBagInput('users', 10, { indices: i32(1, 2, 3), offsets: i32(0, 2, 1) }, 'sum'),
    ).toThrow('offsets[2] = 1 is less than offsets[1] = 2');
    expect(() =>
      checkBagInput('users', 10, { indices: i32(1, 2, 3), offsets: i32(0, 4) }, 'sum'),
    ).toThrow('offsets[1] = 4 is past the end of indices (length 3)');
    expect(() => checkBagInput('users', 10, { indices: i32(1), offsets: i32(1) }, 'sum')).toThrow(
      'offsets[0] = 1',
    );
  });
  it('per-sample weights: one per index, finite, sum pooling only', () => {
    const input = { indices: i32(1, 2), offsets: i32(0) };
    expect(() =>
      checkBagInput('users', 10, { ...input, perSampleWeights: new Float32Array(1) }, 'sum'),
    ).toThrow('perSampleWeights');
    expect(() =>
      checkBagInput(
        'users',
        10,
        { ...input, perSampleWeights: Float32Array.of(1, Number.POSITIVE_INFINITY) },
        'sum',
      ),
    ).toThrow('perSampleWeights[1] = Infinity is not finite');
    expect(() =>
      checkBagInput('users', 10, { ...input, perSampleWeights: new Float32Array(2) }, 'mean'),
    ).toThrow('only sum pooling');
  });
  it('a gradient of the wrong size, or not finite', () => {
    const update = (gradOutput: Float32Array, nonFinite?: 'skip-rows') => ({
      table,
      input: { indices: i32(1, 2), offsets: i32(0, 1) },
      pooling: 'sum' as const,
      gradOutput,
      step: 0,
      nonFinite,
    });
    expect(() => checkBagUpdate(update(new Float32Array(3)))).toThrow(
      'expected a tensor of 2 bags x 2 = 4 values, got 3 values',
    );
    const tensor = { backend: 'js', id: 1, size: 5 };
    expect(() => checkBagUpdate({ ...update(new Float32Array(4)), gradOutput: tensor })).toThrow(
      'got 5 values',
    );
    expect(() => checkBagUpdate(update(new Float32Array(4)))).not.toThrow();
    const nan = Float32Array.of(0, 0, 0, Number.NaN);
    const e = checkFiniteGradient(update(nan), nan);
    expect(e?.message).toMatch(
      /gradOutput\[3\] \(bag 1, column 1\) = NaN is not finite; nothing was updated/,
    );
    expect(checkFiniteGradient(update(nan, 'skip-rows'), nan)).toBeNull();
    expect(checkFiniteGradient(update(new Float32Array(4)), new Float32Array(4))).toBeNull();
  });
});
