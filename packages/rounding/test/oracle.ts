/**
 * An independent model of the four target formats, for tests: the grid is built by evaluating
 * (-1)^s 2^(e-bias) (1 + m/2^M) (or 2^(1-bias) m/2^M for subnormals) in double arithmetic for every
 * code, neighbours are found by binary search, and every rule is decided by comparing the exact
 * double distance to the neighbours. Nothing here uses @halfstep/codecs or bit manipulation of
 * float32 values beyond reading and writing a Float32Array.
 */

/** Format parameters, written out here rather than taken from codecs. */
export interface OracleSpec {
  readonly name: 'float16' | 'bfloat16' | 'float8e4m3' | 'float8e5m2';
  readonly bits: 16 | 8;
  readonly exponentBits: number;
  readonly mantissaBits: number;
  /** IEEE-style specials (all-ones exponent = inf/NaN); false for e4m3fn (only S.1111.111 is NaN). */
  readonly ieee: boolean;
}

export const specs: readonly OracleSpec[] = [
  { name: 'float16', bits: 16, exponentBits: 5, mantissaBits: 10, ieee: true },
  { name: 'bfloat16', bits: 16, exponentBits: 8, mantissaBits: 7, ieee: true },
  { name: 'float8e4m3', bits: 8, exponentBits: 4, mantissaBits: 3, ieee: false },
  { name: 'float8e5m2', bits: 8, exponentBits: 5, mantissaBits: 2, ieee: true },
];

export type Rule =
  | 'nearest-even'
  | 'nearest-away'
  | 'toward-zero'
  | 'toward-positive'
  | 'toward-negative'
  | 'to-odd';

export const rules: readonly Rule[] = [
  'nearest-even',
  'nearest-away',
  'toward-zero',
  'toward-positive',
  'toward-negative',
  'to-odd',
];

/** The value of a code, from the textbook formula. */
export function codeValue(spec: OracleSpec, code: number): number {
  const M = spec.mantissaBits;
  const E = spec.exponentBits;
  const bias = 2 ** (E - 1) - 1;
  const sign = code >= 2 ** (spec.bits - 1) ? -1 : 1;
  const e = Math.floor(code / 2 ** M) % 2 ** E;
  const m = code % 2 ** M;
  if (e === 2 ** E - 1) {
    if (spec.ieee) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
    if (m === 2 ** M - 1) return Number.NaN;
  }
  if (e === 0) return sign * 2 ** (1 - bias) * (m / 2 ** M);
  return sign * 2 ** (e - bias) * (1 + m / 2 ** M);
}

/** The non-negative grid of a format, extended by one step beyond the largest finite value. */
export interface Grid {
  readonly spec: OracleSpec;
  /** values[c] for c = 0..maxCode are the finite non-negative values; values[maxCode + 1] = beyond. */
  readonly values: Float64Array;
  readonly maxCode: number;
  readonly maxFinite: number;
  /** The next grid point after maxFinite if the exponent range were unbounded. */
  readonly beyond: number;
}

export function buildGrid(spec: OracleSpec): Grid {
  const list: number[] = [];
  for (let code = 0; code < 2 ** (spec.bits - 1); code++) {
    const v = codeValue(spec, code);
    if (!Number.isFinite(v)) break;
    list.push(v);
  }
  const maxCode = list.length - 1;
  const maxFinite = list[maxCode]!;
  const beyond = maxFinite + (maxFinite - list[maxCode - 1]!);
  list.push(beyond);
  for (let i = 1; i < list.length; i++)
    if (!(list[i]! > list[i - 1]!)) throw new Error('grid not increasing');
  return { spec, values: Float64Array.from(list), maxCode, maxFinite, beyond };
}

/** Neighbours of |x| < beyond: index i with values[i] <= |x| < values[i + 1], and the fraction. */
export function neighbours(grid: Grid, a: number): { index: number; fraction: number } {
  const v = grid.values;
  let lo = 0;
  let hi = v.length - 1; // v[hi] = beyond > a
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (v[mid]! <= a) lo = mid;
    else hi = mid;
  }
  return { index: lo, fraction: (a - v[lo]!) / (v[lo + 1]! - v[lo]!) };
}

/** The value an overflowing result takes. */
function overflowValue(grid: Grid, sign: number, saturate: boolean): number {
  if (saturate) return sign * grid.maxFinite;
  return grid.spec.ieee ? sign * Number.POSITIVE_INFINITY : Number.NaN;
}

/** Whether `rule` moves the magnitude away from zero, given the lower index, fraction and sign. */
export function roundsUp(rule: Rule, index: number, fraction: number, negative: boolean): boolean {
  if (fraction === 0) return false;
  switch (rule) {
    case 'nearest-even':
      return fraction > 0.5 || (fraction === 0.5 && index % 2 === 1);
    case 'nearest-away':
      return fraction >= 0.5;
    case 'toward-zero':
      return false;
    case 'toward-positive':
      return !negative;
    case 'toward-negative':
      return negative;
    case 'to-odd':
      return index % 2 === 0;
  }
}

/** Rules that round the magnitude away from zero beyond the largest finite value. */
function overflowsAway(rule: Rule, negative: boolean): boolean {
  return (
    rule === 'nearest-even' ||
    rule === 'nearest-away' ||
    (rule === 'toward-positive' && !negative) ||
    (rule === 'toward-negative' && negative)
  );
}

/**
 * The correctly rounded value of x under `rule` (IEEE 754 semantics, with the documented
 * conventions: overflow gives infinity (e4m3: NaN) for rules that round away from zero and the
 * largest finite value for the others, round-to-odd included; `saturate` clamps to ±maxFinite).
 */
export function oracleRound(grid: Grid, x: number, rule: Rule, saturate: boolean): number {
  if (Number.isNaN(x)) return Number.NaN;
  const negative = x < 0 || Object.is(x, -0);
  const a = Math.abs(x);
  if (a === Number.POSITIVE_INFINITY) return overflowValue(grid, negative ? -1 : 1, saturate);
  if (a >= grid.beyond) return oracleFrom(grid, negative, -1, 0, rule, saturate);
  const { index, fraction } = neighbours(grid, a);
  return oracleFrom(grid, negative, index, fraction, rule, saturate);
}

/**
 * `oracleRound` for a finite input whose neighbours are already known: `index` and `fraction`
 * from `neighbours`, or index -1 for |x| >= beyond.
 */
export function oracleFrom(
  grid: Grid,
  negative: boolean,
  index: number,
  fraction: number,
  rule: Rule,
  saturate: boolean,
): number {
  const sign = negative ? -1 : 1;
  if (index < 0) {
    return overflowsAway(rule, negative)
      ? overflowValue(grid, sign, saturate)
      : sign * grid.maxFinite;
  }
  const chosen = roundsUp(rule, index, fraction, negative) ? index + 1 : index;
  if (chosen > grid.maxCode) {
    return rule === 'to-odd' ? sign * grid.maxFinite : overflowValue(grid, sign, saturate);
  }
  return sign * grid.values[chosen]!;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 after positive float32 `x`. */
export function nextUp32(x: number): number {
  f32[0] = x;
  u32[0]! += 1;
  return f32[0]!;
}

/** The float32 before positive float32 `x`. */
export function nextDown32(x: number): number {
  f32[0] = x;
  u32[0]! -= 1;
  return f32[0]!;
}

/** The float32 with bit pattern `bits`. */
export function fromBits32(bits: number): number {
  u32[0] = bits;
  return f32[0]!;
}

/** Per-input neighbour data for `oracleFrom`, computed once for many rules. */
export interface Prepared {
  /** 0 finite, 1 NaN, 2 infinite. */
  readonly kind: Uint8Array;
  readonly negative: Uint8Array;
  readonly index: Int32Array;
  readonly fraction: Float64Array;
}

export function prepare(grid: Grid, inputs: Float32Array): Prepared {
  const n = inputs.length;
  const kind = new Uint8Array(n);
  const negative = new Uint8Array(n);
  const index = new Int32Array(n);
  const fraction = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const x = inputs[i]!;
    if (Number.isNaN(x)) {
      kind[i] = 1;
      continue;
    }
    negative[i] = x < 0 || Object.is(x, -0) ? 1 : 0;
    const a = Math.abs(x);
    if (a === Number.POSITIVE_INFINITY) kind[i] = 2;
    else if (a >= grid.beyond) index[i] = -1;
    else {
      const found = neighbours(grid, a);
      index[i] = found.index;
      fraction[i] = found.fraction;
    }
  }
  return { kind, negative, index, fraction };
}

/** The oracle's result for input i of a prepared array. */
export function oracleAt(
  grid: Grid,
  p: Prepared,
  i: number,
  rule: Rule,
  saturate: boolean,
): number {
  if (p.kind[i] === 1) return Number.NaN;
  const negative = p.negative[i] === 1;
  if (p.kind[i] === 2) return overflowValue(grid, negative ? -1 : 1, saturate);
  return oracleFrom(grid, negative, p.index[i]!, p.fraction[i]!, rule, saturate);
}

/** The values of all codes of a format, by `codeValue`. */
export function codeTable(spec: OracleSpec): Float64Array {
  const table = new Float64Array(2 ** spec.bits);
  for (let c = 0; c < table.length; c++) table[c] = codeValue(spec, c);
  return table;
}

/** Values equal as results: same number, same sign of zero, or both NaN. */
export function sameResult(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

/**
 * A small deterministic generator for choosing test inputs (32-bit LCG, Numerical Recipes
 * constants, two steps per output): independent of the code under test.
 */
export function testInputs(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const a = state;
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return ((a & 0xffff0000) | (state >>> 16)) >>> 0;
  };
}

/**
 * A float32 drawn log-uniformly over [2^minExp, 2^maxExp) (random exponent, random 23-bit
 * mantissa; below 2^-126 the value is a float32 subnormal), with a random sign.
 */
export function logUniform32(next: () => number, minExp: number, maxExp: number): number {
  const e = minExp + (next() % (maxExp - minExp));
  const mantissa = 1 + (next() >>> 9) / 2 ** 23;
  const sign = next() & 1 ? -1 : 1;
  return Math.fround(sign * mantissa * 2 ** e);
}
