import { encode, type FormatName, formats } from '@halfstep/codecs';
import { createEngine } from '@halfstep/rng';
import { stochastic } from '@halfstep/rounding';
import { describe, expect, it } from 'vitest';
import { WasmCodec, WasmStreamStochastic } from '../src/index.js';
import { BUILDS, firstDifference, kernels, normalish, randomBits } from './helpers.js';

const FORMATS = Object.keys(formats) as FormatName[];

describe.each(BUILDS)('WasmStreamStochastic (%s build)', (build) => {
  it.each(['xorshift128+', 'xoshiro128++'] as const)(
    '%s: the fused encode equals rounding.stochastic with the same engine, call for call',
    async (name) => {
      const k = await kernels(build);
      const codec = new WasmCodec(k);
      for (const format of FORMATS) {
        const max = 23 - formats[format].mantissaBits;
        for (const bits of [undefined, 8, 7, 9, 3, 13, 16, 17, 21]) {
          if (bits !== undefined && bits > max) continue;
          const ours = new WasmStreamStochastic(k, { engine: createEngine(name, 5), bits });
          const reference = createEngine(name, 5);
          const theirs = stochastic({ random: reference, bits });
          // Lengths that leave a word's slots unused, and one past the kernel's chunks.
          for (const n of [0, 1, 5, 3, 8, 4097, 70_001, 2, 13]) {
            const input = n > 1000 ? normalish(n, 0.05, n) : randomBits(n, n);
            const got = codec.encode(format, input, { rounding: ours });
            const expected = encode(format, input, { rounding: theirs });
            expect(firstDifference(got, expected), `${format} bits ${bits} length ${n}`).toBe(-1);
          }
          expect(ours.stateWords()).toEqual(reference.snapshot().words);
        }
      }
    },
  );

  it('fillThresholds equals rounding.stochastic, mixed with fused calls and format changes', async () => {
    const k = await kernels(build);
    const codec = new WasmCodec(k);
    const ours = new WasmStreamStochastic(k, { engine: createEngine('xoshiro128++', 1) });
    const theirs = stochastic({ random: createEngine('xoshiro128++', 1) });
    const input = normalish(3001, 1, 2);
    for (const format of ['float16', 'float16', 'bfloat16', 'float8e4m3', 'float16'] as const) {
      const a = new Uint32Array(77);
      const b = new Uint32Array(77);
      ours.fillThresholds(a, formats[format]);
      theirs.fillThresholds(b, formats[format]);
      expect(firstDifference(a, b)).toBe(-1);
      expect(
        firstDifference(
          codec.encode(format, input, { rounding: ours }),
          encode(format, input, { rounding: theirs }),
        ),
      ).toBe(-1);
      // The strategy also drives the JS encoder.
      expect(
        firstDifference(
          encode(format, input, { rounding: ours }),
          encode(format, input, { rounding: theirs }),
        ),
      ).toBe(-1);
    }
  });

  it('rejects engines it cannot run and bad bits', async () => {
    const k = await kernels(build);
    expect(() => new WasmStreamStochastic(k, { engine: createEngine('xorshift32', 1) })).toThrow(
      TypeError,
    );
    expect(
      () => new WasmStreamStochastic(k, { engine: createEngine('xorshift128+', 1), bits: 0 }),
    ).toThrow(RangeError);
    const s = new WasmStreamStochastic(k, { engine: createEngine('xorshift128+', 1), bits: 14 });
    expect(() =>
      new WasmCodec(k).encode('bfloat16', new Float32Array(1), { rounding: s }),
    ).not.toThrow();
    expect(() => new WasmCodec(k).encode('float16', new Float32Array(1), { rounding: s })).toThrow(
      /at most 13/,
    );
  });
});
