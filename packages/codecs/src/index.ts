/**
 * Half-precision and 8-bit number formats: format descriptions, and exact conversion between
 * float32 and float16, bfloat16, float8 e4m3 and float8 e5m2 with any rounding strategy.
 *
 * @packageDocumentation
 */

export {
  argumentError,
  type CheckOptionsSettings,
  checkCodeArray,
  checkFloat32Array,
  checkInstance,
  checkLength,
  checkOneOf,
  checkOptions,
  describeValue,
  optionKeys,
} from './checks.js';
export { decode, decodeBits } from './decode.js';
export type { EncodeCall, EncodeOptions, Overflow } from './encode.js';
export {
  checkEncodeArguments,
  type EncoderConstants,
  encode,
  encodeBits,
  encoderConstants,
  RULE_CODES,
} from './encode.js';
export type {
  CodeArray,
  FloatFormat,
  Format8Like,
  Format16Like,
  FormatLike,
  FormatName,
} from './formats.js';
export { bfloat16, float8e4m3, float8e5m2, float16, formats, resolveFormat } from './formats.js';
export type { Float16ArrayConstructorLike, Float16ArrayLike } from './interop.js';
export { asFloat16Array, float16Codes, nativeFloat16Array } from './interop.js';
export type { RoundingRule, RoundingStrategy } from './rounding.js';
export { checkStrategy, roundNearestEven } from './rounding.js';
export { decodeScalar, encodeScalar } from './scalar.js';
