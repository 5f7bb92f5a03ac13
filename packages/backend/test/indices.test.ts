import { describe, expect, it } from 'vitest';
import {
  BadInputError,
  checkBagInput,
  checkIndexArray,
  toIndices,
  toOffsets,
} from '../src/index.js';

/** The error `fn` throws. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('toIndices / toOffsets: int64 and bigint input', () => {
  it('BigInt64Array, BigUint64Array and arrays of bigints become the same Int32Array', () => {
    const expected = [0, 3, 9, 3];
    for (const input of [
      BigInt64Array.of(0n, 3n, 9n, 3n),
      BigUint64Array.of(0n, 3n, 9n, 3n),
      [0n, 3n, 9n, 3n],
      [0, 3n, 9, 3n],
    ]) {
      const out = toIndices('users', 10, input);
      expect(out).toBeInstanceOf(Int32Array);
      expect([...out]).toEqual(expected);
    }
    expect([...toOffsets('users', BigInt64Array.of(0n, 2n))]).toEqual([0, 2]);
  });

  it('a bigint out of range: the usual BadInputError, naming the position and the value', () => {
    const e = thrown(() => toIndices('users', 10, BigInt64Array.of(1n, 10n)));
    expect(e).toBeInstanceOf(BadInputError);
    expect(e.message).toBe('table "users": indices[1] = 10 is out of range [0, 10)');
    const b = e as BadInputError;
    expect([b.table, b.argument, b.position, b.value]).toEqual(['users', 'indices', 1, 10]);
    expect(() => toIndices('users', 10, BigInt64Array.of(-1n))).toThrow(
      'indices[0] = -1 is out of range [0, 10)',
    );
    expect(() => toIndices('users', 10, BigUint64Array.of(2n ** 63n))).toThrow(BadInputError);
    expect(() => toIndices('users', 10, [2n ** 40n])).toThrow(
      `indices[0] = ${2n ** 40n} is out of range`,
    );
    expect(() => toOffsets('users', BigInt64Array.of(0n, -2n))).toThrow(
      'offsets[1] = -2 is not a non-negative integer',
    );
    expect(() => toOffsets('users', [0n, 2n ** 31n])).toThrow(BadInputError);
  });

  it('a missing or non-array argument: a TypeError naming the table and the argument', () => {
    for (const bad of [undefined, null, 3, 'abc', {}]) {
      const e = thrown(() => toIndices('users', 10, bad as never));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toMatch(/^table "users": indices: expected an Int32Array, a BigInt64Array/);
    }
    expect(() => toOffsets('users', undefined as never)).toThrow(
      new TypeError(
        'table "users": offsets: expected an Int32Array, a BigInt64Array or an array of integers (numbers or bigints), got undefined',
      ),
    );
    expect(() => toIndices('users', 10, [1, '2'] as never)).toThrow(BadInputError);
    expect(() => checkIndexArray(null, 'forward: indices')).toThrow(/^forward: indices: expected/);
    expect(() => toIndices('users', 10, [1], 'rows')).not.toThrow();
    expect(() => toIndices('users', 10, [11], 'rows')).toThrow('rows[0] = 11 is out of range');
  });

  it('checkBagInput: wrong types are TypeErrors naming the argument', () => {
    const i32 = (...v: number[]) => Int32Array.from(v);
    expect(() => checkBagInput('users', 10, undefined as never, 'sum')).toThrow(
      /table "users": input: expected a batch/,
    );
    expect(() =>
      checkBagInput('users', 10, { indices: [1] as never, offsets: i32(0) }, 'sum'),
    ).toThrow(new TypeError('table "users": indices: expected an Int32Array, got Array'));
    expect(() =>
      checkBagInput('users', 10, { indices: i32(1), offsets: undefined as never }, 'sum'),
    ).toThrow(/table "users": offsets: expected an Int32Array, got undefined/);
    expect(() =>
      checkBagInput(
        'users',
        10,
        { indices: i32(1), offsets: i32(0), perSampleWeights: null as never },
        'sum',
      ),
    ).toThrow(new TypeError('table "users": perSampleWeights: expected a Float32Array, got null'));
    expect(() =>
      checkBagInput(
        'users',
        10,
        { indices: i32(1), offsets: i32(0), perSampleWeights: new Float32Array(2) },
        'sum',
      ),
    ).toThrow(BadInputError);
  });
});
