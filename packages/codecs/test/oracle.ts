/**
 * An independent model of the formats for the tests: every code's value from the textbook formula
 * (-1)^s * 2^(e - bias) * (1 + m / 2^M) (subnormals: 2^(1 - bias) * m / 2^M), computed in double
 * arithmetic, and rounding decided by exact double comparisons between a value and its two
 * neighbours. Nothing here shares code with the bit-level encoder under test.
 */

export interface FormatSpec {
  readonly name: 'float16' | 'bfloat16' | 'float8e4m3' | 'float8e5m2';
  readonly bits: 16 | 8;
  readonly e: number;
  readonly m: number;
  /** true for IEEE-style specials (top exponent = inf/NaN); false for e4m3fn (one NaN code). */
  readonly ieee: boolean;
}

export const specs: readonly FormatSpec[] = [
  { name: 'float16', bits: 16, e: 5, m: 10, ieee: true },
  { name: 'bfloat16', bits: 16, e: 8, m: 7, ieee: true },
  { name: 'float8e4m3', bits: 8, e: 4, m: 3, ieee: false },
  { name: 'float8e5m2', bits: 8, e: 5, m: 2, ieee: true },
];

/** The value of a code by the textbook formula (NaN for NaN codes, +-Infinity for infinities). */
export function textbookValue(spec: FormatSpec, code: number): number {
  const sign = code >> (spec.bits - 1) ? -1 : 1;
  const exponent = (code >> spec.m) & ((1 << spec.e) - 1);
  const mantissa = code & ((1 << spec.m) - 1);
  const bias = 2 ** (spec.e - 1) - 1;
  const top = (1 << spec.e) - 1;
  if (spec.ieee && exponent === top) return mantissa === 0 ? sign * Infinity : Number.NaN;
  if (!spec.ieee && exponent === top && mantissa === (1 << spec.m) - 1) return Number.NaN;
  if (exponent === 0) return sign * 2 ** (1 - bias) * (mantissa / 2 ** spec.m);
  return sign * 2 ** (exponent - bias) * (1 + mantissa / 2 ** spec.m);
}

/** The non-negative finite grid, ascending: grid[c] is the value of code c. */
export function positiveGrid(spec: FormatSpec): number[] {
  const grid: number[] = [];
  for (let code = 0; code < 2 ** (spec.bits - 1); code++) {
    const value = textbookValue(spec, code);
    if (!Number.isFinite(value)) break;
    grid.push(value);
  }
  return grid;
}

export type Rule =
  | 'nearest-even'
  | 'nearest-away'
  | 'toward-zero'
  | 'toward-positive'
  | 'toward-negative'
  | 'to-odd';

export const deterministicRules: readonly Rule[] = [
  'nearest-even',
  'nearest-away',
  'toward-zero',
  'toward-positive',
  'toward-negative',
  'to-odd',
];

/**
 * The expected code of a finite float32 value `x` under `rule`, by binary search on the grid and
 * double comparisons. Beyond the largest finite value the grid continues with one more point,
 * `overflowPoint` (2^(emax+1) for IEEE formats, 480 for e4m3), whose code is maxCode + 1.
 */
export function expectedCode(
  spec: FormatSpec,
  grid: readonly number[],
  x: number,
  rule: Rule,
  saturate: boolean,
): number {
  const signBit = x < 0 || Object.is(x, -0) ? 2 ** (spec.bits - 1) : 0;
  const magnitude = Math.abs(x);
  const maxCode = grid.length - 1;
  const overflowPoint = grid[maxCode]! + (grid[maxCode]! - grid[maxCode - 1]!);
  const negative = signBit !== 0;
  let code: number;
  if (magnitude >= overflowPoint) {
    const away =
      rule === 'nearest-even' ||
      rule === 'nearest-away' ||
      (rule === 'toward-positive' && !negative) ||
      (rule === 'toward-negative' && negative);
    code = away ? maxCode + 1 : maxCode;
  } else {
    let lo = 0;
    let hi = grid.length; // grid[hi] stands for overflowPoint
    const at = (c: number) => (c === grid.length ? overflowPoint : grid[c]!);
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (at(mid) <= magnitude) lo = mid;
      else hi = mid;
    }
    const below = magnitude - at(lo);
    const above = at(lo + 1) - magnitude;
    if (below === 0) code = lo;
    else {
      let up: boolean;
      switch (rule) {
        case 'nearest-even':
          up = above < below || (above === below && lo % 2 === 1);
          break;
        case 'nearest-away':
          up = above <= below;
          break;
        case 'toward-zero':
          up = false;
          break;
        case 'toward-positive':
          up = !negative;
          break;
        case 'toward-negative':
          up = negative;
          break;
        case 'to-odd':
          up = lo % 2 === 0;
          break;
      }
      code = up ? lo + 1 : lo;
    }
  }
  // Round-to-odd never rounds past the largest finite value (matters in e4m3, whose max is even).
  if (code > maxCode) code = saturate || rule === 'to-odd' ? maxCode : maxCode + 1;
  return signBit | code;
}
