import { encode } from '@halfstep/codecs';
import { createEngine, createPhilox } from '@halfstep/rng';
import { describe, expect, it } from 'vitest';
import { nearestEven, roundToFormat, stochastic, towardZero } from '../src/index.js';

describe('rounding arguments', () => {
  const random = createEngine('xoshiro128++', 1);

  it('stochastic: unknown option keys, a missing options object, a bits of the wrong type', () => {
    expect(() => stochastic({ random, bit: 8 } as never)).toThrow(
      new TypeError('stochastic: unknown option "bit" (did you mean bits?); expected random, bits'),
    );
    expect(() => stochastic({ engine: random } as never)).toThrow(
      /stochastic: unknown option "engine" \(did you mean random\?\)/,
    );
    expect(() => stochastic(undefined as never)).toThrow(
      /stochastic: options: expected an options object \{ random, bits \}, got undefined/,
    );
    expect(() => stochastic({ random, bits: '8' as never })).toThrow(
      new TypeError('stochastic: bits: expected an integer, got string "8"'),
    );
    expect(() => stochastic({ random, bits: 30 })).toThrow(RangeError);
    expect(() => stochastic({} as never)).toThrow(/stochastic: random: expected a random engine/);
    expect(stochastic({ random, bits: undefined }).bits).toBe(undefined);
  });

  it('stochastic: a counter source with an unknown key names the key', () => {
    const engine = createPhilox(3);
    expect(() => stochastic({ random: { engine, start: 4 } as never })).toThrow(
      new TypeError(
        'stochastic: random: unknown option "start" (did you mean counter?); expected engine, counter',
      ),
    );
    expect(() => stochastic({ random: { engine: random as never, counter: 0 } })).toThrow(
      /stochastic: random.engine: expected a counter-based engine/,
    );
    expect(stochastic({ random: { engine, counter: 4n } }).position).toBe(4n);
  });

  it('fillThresholds takes a Uint32Array only', () => {
    const strategy = stochastic({ random });
    expect(() => strategy.fillThresholds(new Float32Array(4) as never, encodeFormat)).toThrow(
      new TypeError('fillThresholds: out: expected a Uint32Array, got Float32Array'),
    );
  });

  it('roundToFormat: names the argument; options keys are checked; valid calls still work', () => {
    expect(roundToFormat('bfloat16', 1 / 3)).toBe(0.333984375);
    expect(roundToFormat('float16', 70000, towardZero, { overflow: 'saturate' })).toBe(65504);
    expect(() => roundToFormat('float16', 1, nearestEven, 'saturate' as never)).toThrow(
      /roundToFormat: options: expected an options object \{ overflow \}/,
    );
    expect(() =>
      roundToFormat('float16', 1, nearestEven, { rounding: towardZero } as never),
    ).toThrow(/roundToFormat: unknown option "rounding" \(did you mean the strategy argument\?\)/);
    expect(() => roundToFormat('float16', '1' as never)).toThrow(
      new TypeError('roundToFormat: x: expected a number, got string "1"'),
    );
    expect(() => roundToFormat('float16', 1, 'nearest-even' as never)).toThrow(
      /roundToFormat: strategy: expected a rounding strategy/,
    );
    expect(() => roundToFormat('float12' as never, 1)).toThrow(/roundToFormat: format/);
    expect(() => roundToFormat('float16', 1, nearestEven, { overflow: 'wrap' as never })).toThrow(
      RangeError,
    );
  });

  it('encode with a stochastic strategy still works', () => {
    const rounding = stochastic({ random: createEngine('xoshiro128++', 1) });
    expect(encode('bfloat16', Float32Array.of(1), { rounding })[0]).toBe(0x3f80);
  });
});

const encodeFormat = { name: 'float16' } as never;
