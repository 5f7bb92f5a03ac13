import { decodeBits } from './decode.js';
import { type EncodeOptions, encodeBits } from './encode.js';
import { type FormatLike, resolveFormat } from './formats.js';
import { checkStrategy, roundNearestEven } from './rounding.js';

const value = new Float32Array(1);
const valueBits = new Uint32Array(value.buffer);
const code16 = new Uint16Array(1);
const code8 = new Uint8Array(1);

/**
 * Encodes one number: `Math.fround(x)` rounded into `format` as `encode` would, as a code.
 * (`x` is first rounded to float32, nearest-even, like a `Float32Array` store: a double that is
 * not a float32 is thus rounded twice.)
 */
export function encodeScalar(
  format: FormatLike,
  x: number,
  options: Omit<EncodeOptions, 'out'> = {},
): number {
  const fmt = resolveFormat(format);
  if (typeof x !== 'number') throw new TypeError(`x: expected a number, got ${typeof x}`);
  const overflow = options.overflow ?? 'infinity';
  if (overflow !== 'infinity' && overflow !== 'saturate') {
    throw new TypeError(`options.overflow: expected "infinity" or "saturate", got "${overflow}"`);
  }
  value[0] = x;
  const out = fmt.bits === 16 ? code16 : code8;
  encodeBits(
    fmt,
    valueBits,
    out,
    checkStrategy(options.rounding ?? roundNearestEven),
    overflow === 'saturate',
  );
  return out[0]!;
}

/** Decodes one code of `format` to its value, exactly (NaN codes give NaN). */
export function decodeScalar(format: FormatLike, code: number): number {
  const fmt = resolveFormat(format);
  if (!Number.isInteger(code) || code < 0 || code >= 2 ** fmt.bits) {
    throw new RangeError(`code: expected an integer in [0, ${2 ** fmt.bits}), got ${code}`);
  }
  valueBits[0] = decodeBits(fmt, code);
  return value[0]!;
}
