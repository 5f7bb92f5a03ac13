import { encode, type FloatFormat, float16 } from '@halfstep/codecs';
import { createEngine, createPhilox } from '@halfstep/rng';
import { describe, expect, it } from 'vitest';
import { roundToFormat, stochastic } from '../src/index.js';

const random = createEngine('xorshift128+', 1);

describe('bad input gives a clear error', () => {
  it('bits outside 1..21 or not an integer: RangeError naming bits', () => {
    for (const bits of [0, -1, 22, 32, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => stochastic({ random, bits })).toThrow(RangeError);
      expect(() => stochastic({ random, bits })).toThrow(/bits/);
    }
    expect(() => stochastic({ random, bits: '8' as unknown as number })).toThrow(/bits/);
  });

  it('bits beyond what the target drops: RangeError naming bits and the format', () => {
    const strategy = stochastic({ random, bits: 14 });
    expect(() => encode(float16, new Float32Array(3), { rounding: strategy })).toThrow(RangeError);
    expect(() => encode(float16, new Float32Array(3), { rounding: strategy })).toThrow(
      /bits.*float16/,
    );
    expect(() =>
      encode('bfloat16', new Float32Array(3), { rounding: stochastic({ random, bits: 17 }) }),
    ).toThrow(/bits.*bfloat16.*16/);
    // Allowed where the format drops more bits.
    expect(() => encode('float8e4m3', new Float32Array(3), { rounding: strategy })).not.toThrow();
    expect(() =>
      encode('float8e5m2', new Float32Array(3), { rounding: stochastic({ random, bits: 21 }) }),
    ).not.toThrow();
  });

  it('a random source without the needed interface: TypeError naming random', () => {
    for (const bad of [
      undefined,
      null,
      42,
      {},
      { nextUint32: () => 1 },
      { engine: {} },
      { engine: random, counter: 0 },
    ]) {
      expect(() => stochastic({ random: bad as never })).toThrow(TypeError);
      expect(() => stochastic({ random: bad as never })).toThrow(/random/);
    }
    expect(() => stochastic(undefined as never)).toThrow(TypeError);
  });

  it('a counter that is not a non-negative integer: error naming counter', () => {
    const engine = createPhilox(1);
    expect(() => stochastic({ random: { engine, counter: -1 } })).toThrow(/random\.counter/);
    expect(() => stochastic({ random: { engine, counter: 1.5 } })).toThrow(RangeError);
    expect(() => stochastic({ random: { engine, counter: '3' as never } })).toThrow(TypeError);
    const strategy = stochastic({ random: { engine, counter: 0 } });
    expect(() => strategy.seek(-3n)).toThrow(/counter/);
    const stream = stochastic({ random }) as unknown as { seek(c: number): void };
    expect(() => stream.seek(0)).toThrow(/seek/);
  });

  it('a format the strategy does not support: TypeError', () => {
    const strategy = stochastic({ random });
    const fake = { ...float16, name: 'float16' } as FloatFormat;
    expect(() => strategy.fillThresholds(new Uint32Array(4), fake)).toThrow(/format/);
    expect(() => roundToFormat('float12' as never, 1, strategy)).toThrow(TypeError);
  });
});
