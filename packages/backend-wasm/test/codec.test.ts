import {
  decode,
  type EncodeOptions,
  encode,
  type FloatFormat,
  type FormatName,
  formats,
  type RoundingRule,
  type RoundingStrategy,
} from '@halfstep/codecs';
import { createEngine, createPhilox } from '@halfstep/rng';
import { stochastic } from '@halfstep/rounding';
import { describe, expect, it } from 'vitest';
import { WasmCodec } from '../src/index.js';
import { BUILDS, firstDifference, kernels, LENGTHS, normalish, randomBits } from './helpers.js';

const FORMATS = Object.keys(formats) as FormatName[];
const RULES: RoundingRule[] = [
  'nearest-even',
  'nearest-away',
  'toward-zero',
  'toward-positive',
  'toward-negative',
  'to-odd',
];

/** Every code's value, the midpoints and quarter points of every gap, their float32 neighbours. */
function neighbourhoods(format: FloatFormat): Float32Array {
  const size = 2 ** (format.bits - 1);
  const codes = format.bits === 16 ? new Uint16Array(size) : new Uint8Array(size);
  for (let i = 0; i < size; i++) codes[i] = i;
  const grid = decode(format, codes).slice(0, format.maxFiniteCode + 1);
  const points: number[] = [];
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const around = (x: number) => {
    f[0] = x;
    const b = u[0]!;
    points.push(f[0]!);
    u[0] = b + 1;
    points.push(f[0]!);
    u[0] = b - 1;
    points.push(f[0]!);
  };
  const max = grid.length - 1;
  const over = grid[max]! + (grid[max]! - grid[max - 1]!);
  for (let c = 0; c <= max; c++) {
    const lo = grid[c]!;
    const hi = c === max ? over : grid[c + 1]!;
    around(lo);
    around((lo + hi) / 2);
    points.push(lo + (hi - lo) / 4, lo + (3 * (hi - lo)) / 4);
  }
  points.push(over, over * 2, 3e38, Infinity, Number.NaN, 1e-45, 1e-40, 1e-30);
  const all = new Float32Array(points.length * 2);
  all.set(points);
  for (let i = 0; i < points.length; i++) all[points.length + i] = -points[i]!;
  // A few NaN payloads, both signs.
  const bits = new Uint32Array(all.buffer);
  bits[0] = 0x7fc00001;
  bits[1] = 0xffbfffff;
  bits[2] = 0x7f800001;
  return all;
}

function expectSameCodes(
  ours: ArrayBufferView,
  expected: ArrayBufferView,
  input: Float32Array,
  label: string,
) {
  const d = firstDifference(ours, expected);
  if (d >= 0) {
    const i = Math.floor(d / (expected as Uint8Array).BYTES_PER_ELEMENT);
    const bits = new Uint32Array(input.buffer, input.byteOffset, input.length);
    const o = (ours as Uint16Array)[i];
    const e = (expected as Uint16Array)[i];
    expect.fail(`${label}: element ${i}, input 0x${bits[i]?.toString(16)}: wasm ${o}, js ${e}`);
  }
}

describe.each(BUILDS)('WasmCodec (%s build)', (build) => {
  describe.each(FORMATS)('%s', (name) => {
    const format = formats[name];
    it('encodes every grid neighbourhood like codecs, every rule and overflow mode', async () => {
      const codec = new WasmCodec(await kernels(build));
      const input = neighbourhoods(format);
      for (const rule of RULES) {
        for (const overflow of ['infinity', 'saturate'] as const) {
          const options: EncodeOptions = { rounding: { rule }, overflow };
          expectSameCodes(
            codec.encode(name, input, options),
            encode(name, input, options),
            input,
            `${rule} ${overflow}`,
          );
        }
      }
    });

    it('encodes a million random bit patterns per rule like codecs', async () => {
      const codec = new WasmCodec(await kernels(build));
      const input = randomBits(1 << 20, 11 + format.bits);
      for (const rule of RULES) {
        for (const overflow of ['infinity', 'saturate'] as const) {
          const half = input.subarray(
            overflow === 'infinity' ? 0 : 1 << 19,
            overflow === 'infinity' ? 1 << 19 : 1 << 20,
          );
          const options: EncodeOptions = { rounding: { rule }, overflow };
          expectSameCodes(
            codec.encode(name, half, options),
            encode(name, half, options),
            half,
            `${rule} ${overflow}`,
          );
        }
      }
    });

    it('encodes stochastically like codecs with the same strategy (stream and counter bits)', async () => {
      const codec = new WasmCodec(await kernels(build));
      const inputs = [randomBits(300_001, 5), normalish(200_003, 0.05, 6), neighbourhoods(format)];
      for (const bits of [undefined, 8, 1, 13]) {
        if (bits !== undefined && bits > 23 - format.mantissaBits) continue;
        for (const overflow of ['infinity', 'saturate'] as const) {
          const ours = stochastic({ random: createEngine('xoshiro128++', 9), bits });
          const theirs = stochastic({ random: createEngine('xoshiro128++', 9), bits });
          const oursC = stochastic({ random: { engine: createPhilox(3), counter: 17 }, bits });
          const theirsC = stochastic({ random: { engine: createPhilox(3), counter: 17 }, bits });
          for (const input of inputs) {
            expectSameCodes(
              codec.encode(name, input, { rounding: ours, overflow }),
              encode(name, input, { rounding: theirs, overflow }),
              input,
              `stream bits ${bits} ${overflow}`,
            );
            expectSameCodes(
              codec.encode(name, input, { rounding: oursC, overflow }),
              encode(name, input, { rounding: theirsC, overflow }),
              input,
              `counter bits ${bits} ${overflow}`,
            );
          }
        }
      }
    });

    it('handles every length around the SIMD width and the chunk sizes', async () => {
      const codec = new WasmCodec(await kernels(build));
      for (const n of LENGTHS) {
        const input = normalish(n, format.bits === 8 ? 10 : 0.05, n);
        // Sprinkle slow-path values (subnormal results, NaN, overflow) into some lengths.
        if (n > 10) input.set([1e-7, Number.NaN, 1e6, -Infinity], n >> 1);
        for (const rule of [...RULES, 'stochastic'] as const) {
          const strategy = (): RoundingStrategy =>
            rule === 'stochastic'
              ? stochastic({ random: createEngine('xorshift128+', n) })
              : { rule };
          expectSameCodes(
            codec.encode(name, input, { rounding: strategy() }),
            encode(name, input, { rounding: strategy() }),
            input,
            `${rule} length ${n}`,
          );
        }
        const codes = encode(name, input);
        expectSameCodes(
          codec.decode(name, codes),
          decode(name, codes),
          input,
          `decode length ${n}`,
        );
      }
    });

    it('decodes every code exactly like codecs (NaN payloads included)', async () => {
      const codec = new WasmCodec(await kernels(build));
      const size = 2 ** format.bits;
      const codes = format.bits === 16 ? new Uint16Array(size) : new Uint8Array(size);
      for (let i = 0; i < size; i++) codes[i] = i;
      const d = firstDifference(codec.decode(name, codes), decode(name, codes));
      expect(d).toBe(-1);
    });
  });

  it('passes a stochastic strategy the same fillThresholds calls as codecs', async () => {
    const codec = new WasmCodec(await kernels(build));
    const calls = (run: (s: RoundingStrategy) => void) => {
      const seen: number[] = [];
      run({
        rule: 'stochastic',
        fillThresholds(out, format) {
          seen.push(out.length, format.bits);
          out.fill(0x12345678);
        },
      });
      return seen;
    };
    const input = normalish(10_000, 1, 1);
    expect(calls((s) => codec.encode('float16', input, { rounding: s }))).toEqual(
      calls((s) => encode('float16', input, { rounding: s })),
    );
  });

  it('throws the errors of codecs for bad input', async () => {
    const codec = new WasmCodec(await kernels(build));
    const cases: [string, () => unknown, () => unknown][] = [
      [
        'unknown format',
        () => codec.encode('float12' as never, new Float32Array(1)),
        () => encode('float12' as never, new Float32Array(1)),
      ],
      [
        'src not f32',
        () => codec.encode('float16', [1] as never),
        () => encode('float16', [1] as never),
      ],
      [
        'bad out type',
        () => codec.encode('float16', new Float32Array(2), { out: new Uint8Array(2) as never }),
        () => encode('float16', new Float32Array(2), { out: new Uint8Array(2) as never }),
      ],
      [
        'bad out length',
        () => codec.encode('float8e4m3', new Float32Array(2), { out: new Uint8Array(3) }),
        () => encode('float8e4m3', new Float32Array(2), { out: new Uint8Array(3) }),
      ],
      [
        'bad strategy',
        () => codec.encode('float16', new Float32Array(2), { rounding: { rule: 'up' } as never }),
        () => encode('float16', new Float32Array(2), { rounding: { rule: 'up' } as never }),
      ],
      [
        'stochastic without thresholds',
        () => codec.encode('float16', new Float32Array(2), { rounding: { rule: 'stochastic' } }),
        () => encode('float16', new Float32Array(2), { rounding: { rule: 'stochastic' } }),
      ],
      [
        'bad overflow',
        () => codec.encode('float16', new Float32Array(2), { overflow: 'wrap' as never }),
        () => encode('float16', new Float32Array(2), { overflow: 'wrap' as never }),
      ],
      [
        'decode wrong codes',
        () => codec.decode('float16', new Uint8Array(2)),
        () => decode('float16', new Uint8Array(2)),
      ],
      [
        'decode wrong out',
        () => codec.decode('bfloat16', new Uint16Array(2), new Float32Array(1)),
        () => decode('bfloat16', new Uint16Array(2), new Float32Array(1)),
      ],
      [
        'decode out not f32',
        () => codec.decode('float8e5m2', new Uint8Array(2), new Float64Array(2) as never),
        () => decode('float8e5m2', new Uint8Array(2), new Float64Array(2) as never),
      ],
    ];
    for (const [label, ours, theirs] of cases) {
      let expected: unknown;
      try {
        theirs();
      } catch (error) {
        expected = error;
      }
      expect(expected, label).toBeInstanceOf(Error);
      expect(ours, label).toThrow(expected as Error);
      try {
        ours();
      } catch (error) {
        expect((error as Error).constructor, label).toBe((expected as Error).constructor);
      }
    }
  });
});
