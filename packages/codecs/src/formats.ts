import { describeValue } from './checks.js';

/** The names of the storage formats halfstep knows. */
export type FormatName = 'float16' | 'bfloat16' | 'float8e4m3' | 'float8e5m2';

/**
 * A binary floating-point storage format, described as data.
 *
 * Every format here is a sign bit, `exponentBits` of biased exponent and `mantissaBits` of
 * fraction, with gradual underflow (subnormals). Read as unsigned integers, the codes of the
 * non-negative values increase with the value, so a value's two neighbours on the grid are always
 * two consecutive codes: the encoder relies on that.
 */
export interface FloatFormat<Bits extends 16 | 8 = 16 | 8> {
  readonly name: FormatName;
  /** Storage width in bits: 16 (stored in a `Uint16Array`) or 8 (stored in a `Uint8Array`). */
  readonly bits: Bits;
  readonly exponentBits: number;
  readonly mantissaBits: number;
  /** Exponent bias: a normal code with biased exponent e has the value 1.m x 2^(e - bias). */
  readonly bias: number;
  /** Whether the format has infinities (all but `float8e4m3`). */
  readonly hasInfinity: boolean;
  /** Whether the format has NaN (all four do; `float8e4m3` has one NaN code per sign). */
  readonly hasNaN: boolean;
  /** Whether the format has subnormals (all four do). */
  readonly hasSubnormals: boolean;
  /** The largest finite value. */
  readonly maxFinite: number;
  /** The smallest positive normal value, 2^(1 - bias). */
  readonly minNormal: number;
  /** The smallest positive subnormal value, 2^(1 - bias - mantissaBits). */
  readonly minSubnormal: number;
  /** Distance from 1 to the next larger value, 2^-mantissaBits. */
  readonly epsilon: number;
  /** The code of `maxFinite` (sign bit clear). The next code is +infinity, or NaN in `float8e4m3`. */
  readonly maxFiniteCode: number;
  /** The code of the sign bit: 0x8000 for 16-bit formats, 0x80 for 8-bit ones. */
  readonly signMask: number;
  /** The canonical quiet NaN code the encoder writes for a NaN input with a zero payload. */
  readonly nanCode: number;
}

function defineFormat<Bits extends 16 | 8>(
  name: FormatName,
  bits: Bits,
  exponentBits: number,
  mantissaBits: number,
  ieeeSpecials: boolean,
): FloatFormat<Bits> {
  const bias = 2 ** (exponentBits - 1) - 1;
  const exponentField = (2 ** exponentBits - 1) * 2 ** mantissaBits;
  // IEEE-style formats reserve the top exponent for infinities and NaNs; e4m3fn only the one
  // all-ones code, so its largest finite code is one below the NaN code.
  const maxFiniteCode = ieeeSpecials ? exponentField - 1 : exponentField + 2 ** mantissaBits - 2;
  const maxExponent = (ieeeSpecials ? 2 ** exponentBits - 2 : 2 ** exponentBits - 1) - bias;
  const maxMantissa = ieeeSpecials ? 2 - 2 ** -mantissaBits : 2 - 2 ** (1 - mantissaBits);
  return Object.freeze({
    name,
    bits,
    exponentBits,
    mantissaBits,
    bias,
    hasInfinity: ieeeSpecials,
    hasNaN: true,
    hasSubnormals: true,
    maxFinite: maxMantissa * 2 ** maxExponent,
    minNormal: 2 ** (1 - bias),
    minSubnormal: 2 ** (1 - bias - mantissaBits),
    epsilon: 2 ** -mantissaBits,
    maxFiniteCode,
    signMask: 2 ** (bits - 1),
    nanCode: ieeeSpecials ? exponentField + 2 ** (mantissaBits - 1) : maxFiniteCode + 1,
  });
}

/** IEEE 754 binary16: 1 sign, 5 exponent, 10 mantissa bits; max 65504. */
export const float16: FloatFormat<16> = defineFormat('float16', 16, 5, 10, true);

/** bfloat16: the top half of a float32; 1 sign, 8 exponent, 7 mantissa bits; max ~3.39e38. */
export const bfloat16: FloatFormat<16> = defineFormat('bfloat16', 16, 8, 7, true);

/**
 * OCP 8-bit float E4M3 ("e4m3fn"): 1 sign, 4 exponent, 3 mantissa bits, bias 7, no infinities,
 * one NaN code per sign (S.1111.111), max 448.
 */
export const float8e4m3: FloatFormat<8> = defineFormat('float8e4m3', 8, 4, 3, false);

/** OCP 8-bit float E5M2: 1 sign, 5 exponent, 2 mantissa bits, bias 15, IEEE specials, max 57344. */
export const float8e5m2: FloatFormat<8> = defineFormat('float8e5m2', 8, 5, 2, true);

/** All formats, by name. */
export const formats: Readonly<Record<FormatName, FloatFormat>> = Object.freeze({
  float16,
  bfloat16,
  float8e4m3,
  float8e5m2,
});

/** A format object or its name. */
export type FormatLike = FloatFormat | FormatName;

/** A 16-bit format or its name: its codes are stored in a `Uint16Array`. */
export type Format16Like = FloatFormat<16> | 'float16' | 'bfloat16';

/** An 8-bit format or its name: its codes are stored in a `Uint8Array`. */
export type Format8Like = FloatFormat<8> | 'float8e4m3' | 'float8e5m2';

/** The typed array that holds codes of a format of `Bits` bits. */
export type CodeArray<Bits extends 16 | 8 = 16 | 8> = Bits extends 16 ? Uint16Array : Uint8Array;

/**
 * Returns the format that `format` names or is.
 * @throws TypeError naming `argument` when `format` is neither a known name nor a known format.
 */
export function resolveFormat(format: FormatLike, argument = 'format'): FloatFormat {
  if (typeof format === 'string') {
    if (Object.hasOwn(formats, format)) return formats[format];
  } else if (
    typeof format === 'object' &&
    format !== null &&
    Object.hasOwn(formats, format.name) &&
    formats[format.name] === format
  ) {
    return format;
  }
  const label = typeof format === 'string' ? `"${format}"` : describeValue(format);
  throw new TypeError(
    `${argument}: unknown format ${label}; expected one of ${Object.keys(formats).join(', ')}`,
  );
}
