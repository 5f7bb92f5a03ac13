import { decode, encode, formats } from '@halfstep/codecs';
import { describe, expect, it } from 'vitest';
import { deterministicStrategies, nearestEven, roundToFormat } from '../src/index.js';
import {
  buildGrid,
  codeTable,
  fromBits32,
  type Grid,
  logUniform32,
  nextDown32,
  nextUp32,
  oracleAt,
  oracleRound,
  prepare,
  rules,
  sameResult,
  specs,
  testInputs,
} from './oracle.js';

const grids = new Map(specs.map((spec) => [spec.name, buildGrid(spec)]));

/** Encodes `inputs` with every rule and overflow mode and compares with the oracle. */
function checkAll(grid: Grid, inputs: Float32Array): void {
  const format = formats[grid.spec.name];
  const prepared = prepare(grid, inputs);
  const table = codeTable(grid.spec);
  for (const rule of rules) {
    for (const saturate of [false, true]) {
      const codes = encode(format, inputs, {
        rounding: deterministicStrategies[rule],
        overflow: saturate ? 'saturate' : 'infinity',
      });
      let failures = 0;
      const examples: string[] = [];
      for (let i = 0; i < inputs.length; i++) {
        const x = inputs[i];
        const got = table[codes[i]!]!;
        const want = oracleAt(grid, prepared, i, rule, saturate);
        if (!sameResult(got, want)) {
          failures++;
          if (examples.length < 5) examples.push(`${x} -> ${got} (code ${codes[i]}), want ${want}`);
        }
      }
      expect(
        examples,
        `${grid.spec.name} ${rule} saturate=${saturate}: ${failures} failures`,
      ).toEqual([]);
    }
  }
}

/** The specials every format is checked on. */
function specialInputs(grid: Grid): number[] {
  const out = [
    0,
    Number.POSITIVE_INFINITY,
    Number.NaN,
    2 ** -149,
    2 ** -126,
    3.4028234663852886e38,
  ];
  out.push(
    grid.beyond,
    Math.fround(grid.beyond * 1.5),
    nextUp32(grid.beyond),
    nextDown32(grid.beyond),
  );
  const minSub = grid.values[1]!;
  out.push(minSub / 2, nextUp32(minSub / 2), nextDown32(minSub / 2), minSub / 4, minSub / 2 ** 20);
  return [...out, ...out.map((v) => -v)];
}

describe('deterministic rules, exhaustive over float16 neighbourhoods', () => {
  it('every pair of adjacent float16 values (both signs, subnormals, overflow step): on grid, midpoint +- 1 float32 ulp, quarter points, 1 float32 ulp inside each end', () => {
    const grid = grids.get('float16')!;
    const points: number[] = [];
    for (let c = 0; c <= grid.maxCode; c++) {
      const a = grid.values[c]!;
      const b = grid.values[c + 1]!; // for c = maxCode: the overflow step, 65536
      const mid = (a + b) / 2;
      const gap = b - a;
      const local = [
        a,
        mid,
        nextDown32(mid),
        nextUp32(mid),
        a + gap / 4,
        a + (3 * gap) / 4,
        nextDown32(b),
      ];
      if (a > 0) local.push(nextUp32(a));
      else local.push(2 ** -149);
      for (const p of local) {
        if (Math.fround(p) !== p) throw new Error(`test point ${p} is not a float32`);
        points.push(p, -p);
      }
    }
    points.push(...specialInputs(grid));
    expect(points.length).toBeGreaterThan(500_000);
    checkAll(grid, Float32Array.from(points));
  }, 60_000);
});

describe.each(specs.map((s) => [s.name]))(
  'deterministic rules, random float32 inputs: %s',
  (name) => {
    const grid = grids.get(name)!;
    it('2^17 random float32 bit patterns (all of float32, NaN and infinities included)', () => {
      const next = testInputs(0x1234 + name.length);
      const inputs = new Float32Array(1 << 17);
      for (let i = 0; i < inputs.length; i++) inputs[i] = fromBits32(next());
      checkAll(grid, inputs);
    });

    it('2^17 log-uniform values over the format range (subnormals to twice the overflow step) and specials', () => {
      const next = testInputs(0x5678 + name.length);
      const minExp = Math.floor(Math.log2(grid.values[1]!)) - 3;
      const maxExp = Math.ceil(Math.log2(grid.beyond)) + 1;
      const inputs: number[] = [];
      for (let i = 0; i < 1 << 17; i++)
        inputs.push(logUniform32(next, Math.max(minExp, -149), maxExp));
      inputs.push(...specialInputs(grid));
      checkAll(grid, Float32Array.from(inputs));
    });

    it('every code decodes and re-encodes to itself with every rule (values on the grid are exact)', () => {
      const format = formats[name];
      const codes = format.bits === 16 ? new Uint16Array(1 << 16) : new Uint8Array(1 << 8);
      for (let c = 0; c < codes.length; c++) codes[c] = c;
      const values = decode(format, codes);
      for (const rule of rules) {
        const back = encode(format, values, { rounding: deterministicStrategies[rule] });
        for (let c = 0; c < codes.length; c++) {
          if (Number.isNaN(values[c])) continue;
          if (back[c] !== c) expect(`${rule}: code ${c} -> ${back[c]}`).toBe('');
        }
      }
    });
  },
);

describe('float8e4m3 round-to-odd past 448 (its largest finite code, 0x7e, is even)', () => {
  it('gives the largest finite value in (448, 480), not the NaN code', () => {
    expect(roundToFormat('float8e4m3', 460, deterministicStrategies['to-odd'])).toBe(448);
  });
  it('already gives 448 at and beyond 480, and with saturate', () => {
    expect(roundToFormat('float8e4m3', 500, deterministicStrategies['to-odd'])).toBe(448);
    expect(
      roundToFormat('float8e4m3', 460, deterministicStrategies['to-odd'], { overflow: 'saturate' }),
    ).toBe(448);
  });
});

describe('roundToFormat', () => {
  it('returns the rounded value on the target grid, keeps -0 and NaN', () => {
    expect(roundToFormat('float16', 1 + 2 ** -11)).toBe(1); // tie to even
    expect(roundToFormat('float16', 1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundToFormat('float16', 1 + 2 ** -11, deterministicStrategies['nearest-away'])).toBe(
      1 + 2 ** -10,
    );
    expect(roundToFormat('bfloat16', Math.PI, deterministicStrategies['toward-zero'])).toBe(
      3.140625,
    );
    expect(roundToFormat('float16', -0)).toBe(-0);
    expect(
      Object.is(roundToFormat('float16', -1e-10, deterministicStrategies['toward-zero']), -0),
    ).toBe(true);
    expect(roundToFormat('float16', Number.NaN)).toBeNaN();
    expect(roundToFormat('float16', 1e6)).toBe(Number.POSITIVE_INFINITY);
    expect(roundToFormat('float16', 1e6, nearestEven, { overflow: 'saturate' })).toBe(65504);
    expect(roundToFormat('float8e5m2', -1e9, deterministicStrategies['toward-positive'])).toBe(
      -57344,
    );
  });
  it('agrees with the oracle on random inputs for every format and rule', () => {
    const next = testInputs(99);
    for (const spec of specs) {
      const grid = grids.get(spec.name)!;
      for (let i = 0; i < 500; i++) {
        const x = logUniform32(next, -30, 20);
        for (const rule of rules) {
          const got = roundToFormat(spec.name, x, deterministicStrategies[rule]);
          expect(sameResult(got, oracleRound(grid, x, rule, false))).toBe(true);
        }
      }
    }
  });
});
