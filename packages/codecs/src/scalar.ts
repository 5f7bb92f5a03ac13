import { argumentError, checkOneOf, checkOptions, optionKeys } from './checks.js';
import { decodeBits } from './decode.js';
import { type EncodeOptions, encodeBits, OVERFLOWS } from './encode.js';
import { type FormatLike, resolveFormat } from './formats.js';
import { checkStrategy, roundNearestEven } from './rounding.js';

const SCALAR_KEYS = optionKeys<Omit<EncodeOptions, 'out'>>({ rounding: true, overflow: true });

const value = new Float32Array(1);
const valueBits = new Uint32Array(value.buffer);
const code16 = new Uint16Array(1);
const code8 = new Uint8Array(1);

/**
 * Encodes one number: `Math.fround(x)` rounded into `format` as `encode` would, as a code.
 * (`x` is first rounded to float32, nearest-even, like a `Float32Array` store: a double that is
 * not a float32 is thus rounded twice.)
 * @throws TypeError naming the argument for an unknown format, an `x` that is not a number,
 *   `options` that are not an object or have an unknown key, or an invalid strategy; RangeError
 *   for an unknown `overflow` mode.
 */
export function encodeScalar(
  format: FormatLike,
  x: number,
  options: Omit<EncodeOptions, 'out'> = {},
): number {
  const fmt = resolveFormat(format, 'encodeScalar: format');
  if (typeof x !== 'number') throw argumentError('encodeScalar: x', 'a number', x);
  checkOptions('encodeScalar', options, SCALAR_KEYS, {
    hints: { saturate: "overflow: 'saturate'", out: 'encode() for arrays' },
  });
  const overflow = checkOneOf(
    options.overflow ?? 'infinity',
    OVERFLOWS,
    'encodeScalar: options.overflow',
  );
  value[0] = x;
  const out = fmt.bits === 16 ? code16 : code8;
  encodeBits(
    fmt,
    valueBits,
    out,
    checkStrategy(options.rounding ?? roundNearestEven, 'encodeScalar: options.rounding'),
    overflow === 'saturate',
  );
  return out[0]!;
}

/**
 * Decodes one code of `format` to its value, exactly (NaN codes give NaN).
 * @throws TypeError for an unknown format or a `code` that is not a number; RangeError for a
 *   code outside [0, 2^bits).
 */
export function decodeScalar(format: FormatLike, code: number): number {
  const fmt = resolveFormat(format, 'decodeScalar: format');
  if (typeof code !== 'number') throw argumentError('decodeScalar: code', 'a number', code);
  if (!Number.isInteger(code) || code < 0 || code >= 2 ** fmt.bits) {
    throw new RangeError(
      `decodeScalar: code: expected an integer in [0, ${2 ** fmt.bits}), got ${code}`,
    );
  }
  valueBits[0] = decodeBits(fmt, code);
  return value[0]!;
}
