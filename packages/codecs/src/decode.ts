import { checkCodeArray, checkFloat32Array, checkLength } from './checks.js';
import { type FloatFormat, type FormatLike, resolveFormat } from './formats.js';

/**
 * The float32 bit pattern of a code of `format`.
 *
 * Exact: every value of the four formats is a float32. A NaN decodes to a quiet float32 NaN of
 * the same sign whose payload is the code's mantissa shifted into the top mantissa bits, with the
 * quiet bit set (as x86 F16C's `vcvtph2ps` does); `float8e4m3`'s NaN gives 0x7fc00000 with its
 * sign. `bfloat16` is the exception: its decode is the plain shift `code << 16`, bits unchanged.
 */
export function decodeBits(format: FloatFormat, code: number): number {
  const m = format.mantissaBits;
  const sign = (code & format.signMask) << (32 - format.bits);
  const magnitude = code & (format.signMask - 1);
  if (format.name === 'bfloat16') return (code << 16) >>> 0;
  if (magnitude > format.maxFiniteCode) {
    const isInfinity = format.hasInfinity && magnitude === format.maxFiniteCode + 1;
    if (isInfinity) return (sign | 0x7f800000) >>> 0;
    const payload = format.hasInfinity ? (magnitude & ((1 << m) - 1)) << (23 - m) : 0;
    return (sign | 0x7fc00000 | payload) >>> 0;
  }
  const exponent = magnitude >>> m;
  const mantissa = magnitude & ((1 << m) - 1);
  if (exponent === 0) {
    // Subnormal: mantissa x 2^(1 - bias - m), a float32 normal (or zero) for these formats.
    scratch[0] = mantissa * 2 ** (1 - format.bias - m);
    return (sign | scratchBits[0]!) >>> 0;
  }
  return (sign | ((exponent - format.bias + 127) << 23) | (mantissa << (23 - m))) >>> 0;
}

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

const tables = new Map<FloatFormat, Uint32Array>();

/** The float32 bits of every code of a table-decoded format, built on first use. */
function decodeTable(format: FloatFormat): Uint32Array {
  let table = tables.get(format);
  if (!table) {
    table = new Uint32Array(2 ** format.bits);
    for (let code = 0; code < table.length; code++) table[code] = decodeBits(format, code);
    tables.set(format, table);
  }
  return table;
}

/**
 * Decodes codes of `format` into float32 values, exactly (see `decodeBits` for NaNs).
 *
 * @param format - the codes' format, or its name.
 * @param src - the codes: a `Uint16Array` for 16-bit formats, a `Uint8Array` for 8-bit ones.
 * @param out - where to write the values; must have `src.length` elements. New by default.
 * @throws TypeError for an unknown format or arrays of the wrong type; RangeError for an `out`
 *   of the wrong length.
 * @example
 * ```ts
 * import { decode } from '@halfstep/codecs';
 *
 * decode('float16', Uint16Array.of(0x2e66, 0xc100, 0x7c00)); // Float32Array [0.0999755859375, -2.5, Infinity]
 * ```
 */
export function decode(
  format: FormatLike,
  src: Uint16Array | Uint8Array,
  out?: Float32Array,
): Float32Array {
  // The WASM and WebGPU codecs repeat these checks with the same messages (their tests compare).
  const fmt = resolveFormat(format);
  checkCodeArray(src, fmt, 'src');
  if (out === undefined) out = new Float32Array(src.length);
  else checkFloat32Array(out, 'out');
  checkLength(out, src.length, 'out');
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const n = src.length;
  if (fmt.name === 'bfloat16') {
    for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
  } else {
    const table = decodeTable(fmt);
    for (let i = 0; i < n; i++) bits[i] = table[src[i]!]!;
  }
  return out;
}
