import { describe, expect, it } from 'vitest';
import {
  decode,
  encode,
  encodeScalar,
  type RoundingStrategy,
  resolveFormat,
} from '../src/index.js';
import { deterministicRules, expectedCode, positiveGrid, type Rule, specs } from './oracle.js';

const strategy = (rule: Rule): RoundingStrategy => ({ rule });

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The adjacent float32 values of a float32 x (toward +inf and toward -inf), for x > 0. */
function float32Neighbours(x: number): [number, number] {
  f32[0] = x;
  const bits = u32[0]!;
  u32[0] = bits + 1;
  const up = f32[0];
  u32[0] = bits - 1;
  const down = f32[0];
  return [down, up];
}

/**
 * Points around every gap of the positive grid (the gap past the largest finite value included),
 * both signs: the exact midpoint, the float32 just below and above it, and the quarter points.
 */
function neighbourhoodPoints(grid: readonly number[]): Float32Array {
  const max = grid.length - 1;
  const points: number[] = [];
  const overflowPoint = grid[max]! + (grid[max]! - grid[max - 1]!);
  for (let c = 0; c <= max; c++) {
    const lo = grid[c]!;
    const hi = c === max ? overflowPoint : grid[c + 1]!;
    const mid = (lo + hi) / 2;
    points.push(lo, mid, ...float32Neighbours(mid), lo + (hi - lo) / 4, lo + (3 * (hi - lo)) / 4);
  }
  points.push(overflowPoint, ...float32Neighbours(overflowPoint), overflowPoint * 2, 3e38);
  const positive = Float32Array.from(points);
  const all = new Float32Array(positive.length * 2);
  all.set(positive);
  for (let i = 0; i < positive.length; i++) all[positive.length + i] = -positive[i]!;
  return all;
}

function compareWithOracle(
  name: string,
  spec: (typeof specs)[number],
  inputs: Float32Array,
  rule: Rule,
  saturate: boolean,
): void {
  const grid = positiveGrid(spec);
  const codes = encode(spec.name, inputs, {
    rounding: strategy(rule),
    overflow: saturate ? 'saturate' : 'infinity',
  });
  const bits = new Uint32Array(inputs.buffer, inputs.byteOffset, inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    if (!Number.isFinite(inputs[i])) continue;
    const expected = expectedCode(spec, grid, inputs[i]!, rule, saturate);
    if (codes[i] !== expected) {
      expect.fail(
        `${name} ${spec.name} ${rule}${saturate ? ' saturate' : ''}: input ${inputs[i]} (0x${bits[i]!.toString(16)}) -> 0x${codes[i]!.toString(16)}, expected 0x${expected.toString(16)}`,
      );
    }
  }
}

describe('encode against the independent oracle', () => {
  for (const spec of specs) {
    const points = neighbourhoodPoints(positiveGrid(spec));
    it(`${spec.name}: every gap's neighbourhood (${points.length} points), every rule, both overflow modes`, () => {
      for (const rule of deterministicRules) {
        compareWithOracle('neighbourhood', spec, points, rule, false);
        compareWithOracle('neighbourhood', spec, points, rule, true);
      }
    });

    it(`${spec.name}: 100,000 random float32 bit patterns, every rule`, () => {
      // A fixed LCG over all 2^32 bit patterns: every exponent, subnormals and huge values alike.
      const bits = new Uint32Array(100_000);
      let state = 12345;
      for (let i = 0; i < bits.length; i++) {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        bits[i] = state;
      }
      const inputs = new Float32Array(bits.buffer);
      for (const rule of deterministicRules) {
        compareWithOracle('random', spec, inputs, rule, false);
        compareWithOracle('random', spec, inputs, rule, rule === 'nearest-even');
      }
    });

    it(`${spec.name}: every finite code's value encodes back to the code under every rule`, () => {
      const codes =
        spec.bits === 16
          ? Uint16Array.from({ length: 65536 }, (_, i) => i)
          : Uint8Array.from({ length: 256 }, (_, i) => i);
      const values = decode(spec.name, codes);
      for (const rule of deterministicRules) {
        const back = encode(spec.name, values, { rounding: strategy(rule) });
        for (let code = 0; code < codes.length; code++) {
          if (Number.isFinite(values[code]) && back[code] !== code) {
            expect.fail(
              `${rule}: code 0x${code.toString(16)} came back as 0x${back[code]!.toString(16)}`,
            );
          }
        }
      }
    });
  }
});

describe('encode specials', () => {
  it('float16 matches x86 F16C vcvtps2ph on known answers (NaN payloads, overflow, ties, subnormals)', () => {
    // [float32 bits, float16 code] produced by _cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT) on x86.
    const hardware = [
      [0x00000000, 0x0000],
      [0x80000000, 0x8000],
      [0x3f800000, 0x3c00],
      [0xbf800000, 0xbc00],
      [0x477fe000, 0x7bff],
      [0x477fefff, 0x7bff],
      [0x477ff000, 0x7c00],
      [0x477fffff, 0x7c00],
      [0x47800000, 0x7c00],
      [0x7f7fffff, 0x7c00],
      [0x7f800000, 0x7c00],
      [0xff800000, 0xfc00],
      [0x7f800001, 0x7e00],
      [0x7fc00000, 0x7e00],
      [0xffc00000, 0xfe00],
      [0x7fbfffff, 0x7fff],
      [0x7fffe000, 0x7fff],
      [0xff812345, 0xfe09],
      [0x33000000, 0x0000],
      [0x33000001, 0x0001],
      [0x337fffff, 0x0001],
      [0x33800000, 0x0001],
      [0x33c00000, 0x0002],
      [0x38800000, 0x0400],
      [0x387fc000, 0x03ff],
      [0x387fe000, 0x0400],
      [0x387ff000, 0x0400],
      [0x3f801000, 0x3c00],
      [0x3f803000, 0x3c02],
      [0x3f801001, 0x3c01],
      [0x00000001, 0x0000],
      [0x80000001, 0x8000],
      [0x3dcccccd, 0x2e66],
      [0x40490fdb, 0x4248],
      [0xc2f6e979, 0xd7b7],
      [0x2f800000, 0x0000],
      [0x38000000, 0x0200],
      [0x37ffffff, 0x0200],
    ];
    const inputs = new Float32Array(Uint32Array.from(hardware.map(([bits]) => bits)).buffer);
    expect([...encode('float16', inputs)]).toEqual(hardware.map(([, code]) => code));
  });

  it('NaN stays NaN with its sign in every format; e4m3 has the single NaN code', () => {
    const nans = new Float32Array(Uint32Array.from([0x7fc00000, 0xff800001]).buffer);
    expect([...encode('bfloat16', nans)]).toEqual([0x7fc0, 0xffc0]);
    expect([...encode('float8e5m2', nans)]).toEqual([0x7e, 0xfe]);
    expect([...encode('float8e4m3', nans)]).toEqual([0x7f, 0xff]);
    expect([...encode('float8e4m3', nans, { overflow: 'saturate' })]).toEqual([0x7f, 0xff]);
  });

  it('infinities: kept where the format has them, NaN in e4m3, max finite when saturating', () => {
    const inf = Float32Array.from([Infinity, -Infinity]);
    expect([...encode('float16', inf)]).toEqual([0x7c00, 0xfc00]);
    expect([...encode('float16', inf, { overflow: 'saturate' })]).toEqual([0x7bff, 0xfbff]);
    expect([...encode('float8e4m3', inf)]).toEqual([0x7f, 0xff]);
    expect([...encode('float8e4m3', inf, { overflow: 'saturate' })]).toEqual([0x7e, 0xfe]);
    expect([...encode('float8e5m2', inf)]).toEqual([0x7c, 0xfc]);
  });

  it('keeps the sign of zero and of values that underflow to zero', () => {
    const tiny = Float32Array.from([-0, 0, -1e-45, 1e-45]); // below half of every subnormal step
    for (const spec of specs) {
      const sign = 2 ** (spec.bits - 1);
      expect([...encode(spec.name, tiny)]).toEqual([sign, 0, sign, 0]);
    }
  });

  it('calls fillThresholds in order and rounds up iff the fraction exceeds the threshold', () => {
    // 1 + 2^-11 + 2^-12 lies 3/4 of the way from 1 to 1 + 2^-10: fraction 0xC0000000.
    const x = new Float32Array(6).fill(1 + 2 ** -11 + 2 ** -12);
    const seen: number[] = [];
    const thresholds = [0, 0xbfffffff, 0xc0000000, 0xffffffff, 0x40000000, 0xc0000001];
    const stochastic: RoundingStrategy = {
      rule: 'stochastic',
      fillThresholds(out, format) {
        seen.push(out.length);
        expect(format).toBe(resolveFormat('float16'));
        out.set(thresholds);
      },
    };
    expect([...encode('float16', x, { rounding: stochastic })]).toEqual([
      0x3c01, 0x3c01, 0x3c00, 0x3c00, 0x3c01, 0x3c00,
    ]);
    expect(seen).toEqual([6]);
    // Exact values never move, whatever the threshold.
    const exact = Float32Array.from([1, -2, 0]);
    const zeros: RoundingStrategy = { rule: 'stochastic', fillThresholds: (out) => out.fill(0) };
    expect([...encode('float16', exact, { rounding: zeros })]).toEqual([0x3c00, 0xc000, 0]);
  });

  it('asks for thresholds in chunks of at most 4096, covering every element once', () => {
    const sizes: number[] = [];
    const counting: RoundingStrategy = {
      rule: 'stochastic',
      fillThresholds: (out) => {
        sizes.push(out.length);
        out.fill(0x80000000);
      },
    };
    encode('float8e5m2', new Float32Array(10_000), { rounding: counting });
    expect(sizes).toEqual([4096, 4096, 1808]);
  });
});

describe('encode arguments', () => {
  it('rejects bad input with errors that name the argument', () => {
    const src = new Float32Array(4);
    expect(() => encode('float16', new Float64Array(4) as never)).toThrow(
      /src: expected a Float32Array, got Float64Array/,
    );
    expect(() => encode('float16', [1, 2] as never)).toThrow(TypeError);
    expect(() => encode('float16', src, { out: new Uint16Array(3) })).toThrow(RangeError);
    expect(() => encode('float16', src, { out: new Uint16Array(3) })).toThrow(
      /options.out: expected length 4, got 3/,
    );
    expect(() => encode('float16', src, { out: new Uint8Array(4) as never })).toThrow(
      /options.out: expected a Uint16Array/,
    );
    expect(() => encode('float8e4m3', src, { out: new Uint16Array(4) as never })).toThrow(
      /options.out: expected a Uint8Array/,
    );
    expect(() => encode('float10' as never, src)).toThrow(/format: unknown format/);
    expect(() => encode('float16', src, { overflow: 'wrap' as never })).toThrow(/options.overflow/);
    expect(() => encode('float16', src, { rounding: { rule: 'up' } as never })).toThrow(
      /options.rounding/,
    );
    expect(() => encode('float16', src, { rounding: { rule: 'stochastic' } })).toThrow(
      /fillThresholds/,
    );
  });

  it('writes into the given out array and returns it', () => {
    const out = new Uint8Array(2);
    expect(encode('float8e4m3', Float32Array.from([1, -448]), { out })).toBe(out);
    expect([...out]).toEqual([0x38, 0xfe]);
  });

  it('encodeScalar agrees with encode and takes the same options', () => {
    expect(encodeScalar('float16', 1 / 3)).toBe(encode('float16', Float32Array.of(1 / 3))[0]);
    expect(encodeScalar('float16', 70000, { overflow: 'saturate' })).toBe(0x7bff);
    expect(encodeScalar('bfloat16', 1 + 2 ** -8, { rounding: { rule: 'toward-positive' } })).toBe(
      0x3f81,
    );
    expect(() => encodeScalar('float16', '1' as never)).toThrow(/x: expected a number/);
  });
});
