import {
  checkCodeArray,
  checkFloat32Array,
  checkLength,
  checkOneOf,
  checkOptions,
  optionKeys,
} from './checks.js';
import {
  type CodeArray,
  type FloatFormat,
  type Format8Like,
  type Format16Like,
  type FormatLike,
  resolveFormat,
} from './formats.js';
import { checkStrategy, type RoundingStrategy, roundNearestEven } from './rounding.js';

/**
 * What happens to a finite value beyond the largest finite value once rounded:
 * - `'infinity'` (the default, IEEE 754): it becomes the code after `maxFiniteCode`, which is
 *   infinity, or NaN in `float8e4m3` (which has no infinity). As IEEE 754 requires, rules that
 *   never round away from zero for that sign (`toward-zero`, `to-odd`, `toward-negative` for
 *   positive values, `toward-positive` for negative ones) give the largest finite value instead.
 *   Infinite inputs stay infinite (NaN in `float8e4m3`).
 * - `'saturate'`: the result is never infinite: every magnitude beyond `maxFinite`, infinities
 *   included, becomes `±maxFinite` (as NVIDIA's "satfinite" conversions do). NaN stays NaN.
 */
export type Overflow = 'infinity' | 'saturate';

/** Options of `encode`. */
export interface EncodeOptions<Out extends Uint16Array | Uint8Array = Uint16Array | Uint8Array> {
  /** Where to write the codes; must have the input's length. A new array by default. */
  readonly out?: Out | undefined;
  /** How to round values between two grid points. Default: round to nearest, ties to even. */
  readonly rounding?: RoundingStrategy | undefined;
  /** What happens beyond the largest finite value. Default: `'infinity'`. */
  readonly overflow?: Overflow | undefined;
}

/**
 * The number of each rounding rule in the kernels' parameter words (`encodeBits`' `rule`, the
 * WASM and WGSL encoders, the Redis store's Lua): declared here once; the other languages are
 * generated from it or checked against it.
 */
export const RULE_CODES = Object.freeze({
  'nearest-even': 0,
  'nearest-away': 1,
  'toward-zero': 2,
  'toward-positive': 3,
  'toward-negative': 4,
  'to-odd': 5,
  stochastic: 6,
} as const);

/** The keys `encode`'s options may have. */
const ENCODE_KEYS = optionKeys<EncodeOptions>({ out: true, rounding: true, overflow: true });

/** The overflow modes, for the option check. */
export const OVERFLOWS: readonly Overflow[] = Object.freeze(['infinity', 'saturate']);

/** Elements per call of `fillThresholds`: small enough to stay in L1 beside the data. */
const CHUNK = 4096;

/**
 * Encodes float32 values into a narrower format, rounding each with `options.rounding`.
 *
 * Exactly: a value on the format's grid is encoded exactly; any other finite value is rounded to
 * one of its two neighbours on the grid (the grid extends past `maxFinite` by one step, to the
 * overflow code, see `Overflow`) as the strategy's rule decides from the fraction of the gap it
 * lies beyond the neighbour nearer to zero (see `RoundingRule`). Underflow is gradual: values
 * below the smallest normal round on the subnormal grid. The sign of zero is kept. A NaN gives a
 * quiet NaN of the same sign that keeps the top payload bits that fit (as x86 F16C's `vcvtps2ph`
 * does: float16 code = sign | 0x7e00 | payload >> 13); `float8e4m3` has a single NaN code, 0x7f.
 *
 * For `float16` with the default options the result is bit-identical to x86 F16C hardware
 * conversion for all 2^32 float32 inputs (checked by `pnpm check:exhaustive`).
 *
 * @param format - the target format, or its name.
 * @param src - the float32 values.
 * @returns the codes: a `Uint16Array` for 16-bit formats, a `Uint8Array` for 8-bit ones.
 * @throws TypeError naming the argument for an unknown format, a `src` that is not a
 *   Float32Array, `options` that are not an object or have an unknown key, an `out` of the wrong
 *   type, an invalid strategy or an `overflow` that is not a string; RangeError for an `out` of
 *   the wrong length or an unknown `overflow` mode.
 * @example
 * ```ts
 * import { encode, float16 } from '@halfstep/codecs';
 *
 * encode(float16, new Float32Array([0.1, -2.5, 70000])); // Uint16Array [0x2e66, 0xc100, 0x7c00]
 * encode('float8e4m3', new Float32Array([1000]), { overflow: 'saturate' }); // Uint8Array [0x7e]: 448
 * ```
 */
export function encode(
  format: Format16Like,
  src: Float32Array,
  options?: EncodeOptions<Uint16Array>,
): Uint16Array;
export function encode(
  format: Format8Like,
  src: Float32Array,
  options?: EncodeOptions<Uint8Array>,
): Uint8Array;
export function encode(
  format: FormatLike,
  src: Float32Array,
  options?: EncodeOptions,
): Uint16Array | Uint8Array;
export function encode(
  format: FormatLike,
  src: Float32Array,
  options: EncodeOptions = {},
): Uint16Array | Uint8Array {
  const call = checkEncodeArguments(format, src, options);
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  encodeBits(call.format, bits, call.out, call.rounding, call.saturate);
  return call.out;
}

/** The arguments of an `encode` call, checked and with their defaults filled in. */
export interface EncodeCall {
  readonly format: FloatFormat;
  readonly rounding: RoundingStrategy;
  /** `options.overflow === 'saturate'`. */
  readonly saturate: boolean;
  /** `options.out`, or a new code array of `src.length` elements. */
  readonly out: Uint16Array | Uint8Array;
}

/**
 * Checks the arguments of `encode` exactly as `encode` does, with the same errors, and fills in
 * the defaults. Other implementations of `encode` (the WASM and WebGPU backends) call it so that
 * bad input is rejected the same way everywhere.
 * @throws the TypeError or RangeError `encode` throws, naming the argument.
 */
export function checkEncodeArguments(
  format: FormatLike,
  src: Float32Array,
  options: EncodeOptions = {},
): EncodeCall {
  const fmt = resolveFormat(format, 'encode: format');
  checkFloat32Array(src, 'encode: src');
  checkOptions('encode', options, ENCODE_KEYS, {
    hints: { saturate: "overflow: 'saturate'", output: 'out' },
  });
  const rounding = checkStrategy(options.rounding ?? roundNearestEven, 'encode: options.rounding');
  const overflow = checkOneOf(
    options.overflow ?? 'infinity',
    OVERFLOWS,
    'encode: options.overflow',
  );
  let out: CodeArray;
  if (options.out === undefined) {
    out = fmt.bits === 16 ? new Uint16Array(src.length) : new Uint8Array(src.length);
  } else {
    out = checkCodeArray(options.out, fmt, 'encode: options.out');
    checkLength(out, src.length, 'encode: options.out');
  }
  return { format: fmt, rounding, saturate: overflow === 'saturate', out };
}

const NO_THRESHOLDS = new Uint32Array(0);
let thresholdScratch: Uint32Array | undefined;
let lastThresholdView: Uint32Array = NO_THRESHOLDS;

/**
 * The first `length` thresholds of the scratch buffer. Callers that encode row after row of the
 * same width ask for the same length every time, so the view is kept rather than made anew.
 */
function thresholdView(scratch: Uint32Array, length: number): Uint32Array {
  if (lastThresholdView.length !== length || lastThresholdView.buffer !== scratch.buffer) {
    lastThresholdView = scratch.subarray(0, length);
  }
  return lastThresholdView;
}

/** The per-format constants of the encoder, computed once per format and overflow mode. */
/**
 * The integer constants of an encoder to a format (see `encoderConstants`): what every encoder
 * of halfstep (this package, and the WASM, WGSL and Lua kernels) computes from, declared once.
 */
export interface EncoderConstants {
  /** Float32 significand bits below the target's: 23 - mantissa bits. */
  readonly normalShift: number;
  /** Subtracting this from float32 bits re-biases a normal exponent to the target's bias. */
  readonly rebias: number;
  /** Float32 bits of the target's smallest normal value. */
  readonly minNormalBits: number;
  /** A target subnormal's significand lies `subnormalShiftBase - e` bits above the step. */
  readonly subnormalShiftBase: number;
  readonly maxFiniteCode: number;
  /** The code an overflowing value takes when it rounds away from zero. */
  readonly overflowCode: number;
  readonly signShift: number;
  readonly signMask: number;
  readonly nanCode: number;
  /** e4m3 has one NaN code and no room for a payload. */
  readonly keepsPayload: boolean;
}

/** Encoders per format, for overflow 'infinity' and 'saturate': looked up on every call. */
const encoders = new Map<
  FloatFormat,
  [EncoderConstants | undefined, EncoderConstants | undefined]
>();

/**
 * The encoder constants of `format`, with overflow to infinity, or to the largest finite code when
 * `saturate`: computed once per format and mode (the kernels of the other backends write these
 * into their parameter blocks).
 */
export function encoderConstants(format: FloatFormat, saturate: boolean): EncoderConstants {
  return encoderFor(format, saturate);
}

function encoderFor(format: FloatFormat, saturate: boolean): EncoderConstants {
  let pair = encoders.get(format);
  if (!pair) {
    pair = [undefined, undefined];
    encoders.set(format, pair);
  }
  let encoder = pair[saturate ? 1 : 0];
  if (!encoder) {
    encoder = {
      normalShift: 23 - format.mantissaBits,
      rebias: (127 - format.bias) << 23,
      minNormalBits: (128 - format.bias) << 23,
      subnormalShiftBase: 151 - format.bias - format.mantissaBits,
      maxFiniteCode: format.maxFiniteCode,
      overflowCode: saturate ? format.maxFiniteCode : format.maxFiniteCode + 1,
      signShift: 32 - format.bits,
      signMask: format.signMask,
      nanCode: format.nanCode,
      keepsPayload: format.hasInfinity,
    };
    pair[saturate ? 1 : 0] = encoder;
  }
  return encoder;
}

/**
 * The code of float32 bits `x` under rule `rule` (a `RULE_CODES` value); `threshold` is the
 * random threshold for the stochastic rule.
 */
function encodeOne(k: EncoderConstants, x: number, rule: number, threshold: number): number {
  const a = x & 0x7fffffff;
  const sign = (x >>> k.signShift) & k.signMask;
  let lower: number;
  let fraction: number;
  if (a >= k.minNormalBits) {
    if (a >= 0x7f800000) {
      // Infinity takes the code after maxFiniteCode too: infinity, or e4m3's NaN.
      if (a === 0x7f800000) return sign | k.overflowCode;
      return sign | (k.keepsPayload ? k.nanCode | ((a & 0x7fffff) >>> k.normalShift) : k.nanCode);
    }
    const d = a - k.rebias;
    lower = d >>> k.normalShift;
    fraction = (d << (32 - k.normalShift)) >>> 0;
    if (lower > k.maxFiniteCode) {
      // Beyond the grid: IEEE 754 gives the overflow code to rules that round away from zero
      // for this sign, and the largest finite value to those that do not.
      const away = rule <= 1 || rule === 6 || (sign === 0 ? rule === 3 : rule === 4);
      return sign | (away ? k.overflowCode : k.maxFiniteCode);
    }
  } else {
    const e = a >>> 23;
    const significand = e === 0 ? a : (a & 0x7fffff) | 0x800000;
    const shift = k.subnormalShiftBase - (e === 0 ? 1 : e);
    if (shift < 32) {
      lower = significand >>> shift;
      fraction = (significand << (32 - shift)) >>> 0;
    } else {
      // Below half the subnormal step: keep what fits in 32 bits, plus a sticky bit so that an
      // inexact value never reads as exact.
      const drop = shift - 32;
      lower = 0;
      if (drop >= 24) fraction = significand === 0 ? 0 : 1;
      else {
        const sticky = (significand & ((1 << drop) - 1)) === 0 ? 0 : 1;
        fraction = (significand >>> drop) | sticky;
      }
    }
  }
  let up: boolean;
  switch (rule) {
    case 0:
      up = fraction > 0x80000000 || (fraction === 0x80000000 && (lower & 1) === 1);
      break;
    case 1:
      up = fraction >= 0x80000000;
      break;
    case 2:
      up = false;
      break;
    case 3:
      up = fraction !== 0 && sign === 0;
      break;
    case 4:
      up = fraction !== 0 && sign !== 0;
      break;
    case 5:
      up = fraction !== 0 && (lower & 1) === 0;
      break;
    default:
      up = fraction > threshold;
  }
  const code = up ? lower + 1 : lower;
  // Past the largest finite value: the overflow code, except for round-to-odd, which never
  // rounds away from zero past it (e4m3's largest finite code is even, the next one is NaN).
  if (code > k.maxFiniteCode) return sign | (rule === 5 ? k.maxFiniteCode : k.overflowCode);
  return sign | code;
}

/**
 * The encoder proper, on float32 bit patterns: writes the code of `src[i]` into `out[i]`.
 * Arguments are trusted (checked by the callers). Common cases take specialised loops whose
 * results equal `encodeOne`'s; everything else goes through `encodeOne`.
 */
export function encodeBits(
  format: FloatFormat,
  src: Uint32Array,
  out: Uint16Array | Uint8Array,
  rounding: RoundingStrategy,
  saturate: boolean,
): void {
  const k = encoderFor(format, saturate);
  const rule = RULE_CODES[rounding.rule];
  if (rule === 0 && format.bits === 16 && !saturate) {
    if (format.mantissaBits === 10) encodeFloat16NearestEven(k, src, out as Uint16Array);
    else encodeBfloat16NearestEven(k, src, out as Uint16Array);
    return;
  }
  const stochastic = rule === 6;
  if (stochastic && thresholdScratch === undefined) thresholdScratch = new Uint32Array(CHUNK);
  const thresholds = stochastic && thresholdScratch ? thresholdScratch : NO_THRESHOLDS;
  const n = src.length;
  for (let start = 0; start < n; start += CHUNK) {
    const end = Math.min(n, start + CHUNK);
    if (stochastic) {
      rounding.fillThresholds!(thresholdView(thresholds, end - start), format);
      if (format.bits === 16) {
        encode16Stochastic(k, src, out as Uint16Array, start, end, thresholds);
        continue;
      }
    }
    for (let i = start; i < end; i++) out[i] = encodeOne(k, src[i]!, rule, thresholds[i - start]!);
  }
}

/**
 * float16, nearest-even, for the normal range [2^-14, 2^16): add half an ulp less one, plus the
 * parity bit that breaks ties to even, and truncate; a carry out of the mantissa correctly bumps
 * the exponent (up to infinity, 0x7c00).
 */
function encodeFloat16NearestEven(k: EncoderConstants, src: Uint32Array, out: Uint16Array): void {
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    const a = x & 0x7fffffff;
    if (a - 0x38800000 < 0x0f000000 && a >= 0x38800000) {
      out[i] = ((x >>> 16) & 0x8000) | ((a - 0x38000000 + 0xfff + ((a >>> 13) & 1)) >>> 13);
    } else {
      out[i] = encodeOne(k, x, 0, 0);
    }
  }
}

/**
 * bfloat16, nearest-even: the same add-and-truncate, which is right for every finite float32
 * (bfloat16 shares float32's exponent range, subnormals included); NaN goes the slow way.
 */
function encodeBfloat16NearestEven(k: EncoderConstants, src: Uint32Array, out: Uint16Array): void {
  const n = src.length;
  for (let i = 0; i < n; i++) {
    const x = src[i]!;
    if ((x & 0x7fffffff) <= 0x7f800000) out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    else out[i] = encodeOne(k, x, 0, 0);
  }
}

/**
 * 16-bit formats, stochastic, normal range below the top step: adding the top `shift` bits of
 * ~threshold carries into the code exactly when fraction > threshold (FBGEMM's add-random-bits-
 * and-truncate), branch-free so that random thresholds cost no mispredictions. The top step,
 * where rounding up may overflow, and everything else go through `encodeOne`.
 */
function encode16Stochastic(
  k: EncoderConstants,
  src: Uint32Array,
  out: Uint16Array,
  start: number,
  end: number,
  thresholds: Uint32Array,
): void {
  const shift = k.normalShift;
  const complementShift = 32 - shift;
  const rebias = k.rebias;
  const lowest = k.minNormalBits;
  const span = (k.maxFiniteCode << shift) + rebias - lowest; // lower < maxFiniteCode
  for (let i = start; i < end; i++) {
    const x = src[i]!;
    const a = x & 0x7fffffff;
    const threshold = thresholds[i - start]!;
    if (a - lowest < span && a >= lowest) {
      out[i] = ((x >>> 16) & 0x8000) | ((a - rebias + (~threshold >>> complementShift)) >>> shift);
    } else {
      out[i] = encodeOne(k, x, 6, threshold);
    }
  }
}
