/**
 * How a kernel converts between float16 codes and float32: `integer` (the exact integer
 * algorithms of `FORMAT_WGSL`, on every adapter), `pack2x16float` (WGSL's core
 * `pack2x16float`/`unpack2x16float`, the GPU's conversion instructions) or `shader-f16` (the same
 * conversions through the `f16` type, on devices with the `shader-f16` feature).
 */
export type HalfConversionFlavor = 'integer' | 'pack2x16float' | 'shader-f16';

/**
 * The WGSL put before a kernel of `flavor`: `HALF_HARDWARE` (whether `decode_one`/`encode_one`
 * may hand float16 normal numbers to the hardware) and the two hardware conversions,
 * `hw_decode_half` (a float16 code, in the low 16 bits, to float32 bits) and `hw_encode_half`
 * (float32 bits to a float16 code, the GPU's rounding). WGSL leaves that rounding to the
 * implementation and lets it flush subnormals, so the kernels only use these where a probe
 * showed the device exact (see `conversion.ts`), and only for normal numbers.
 */
export function halfPrelude(flavor: HalfConversionFlavor): string {
  switch (flavor) {
    case 'integer':
      return /* wgsl */ `
const HALF_HARDWARE = false;
fn hw_decode_half(code: u32) -> u32 { return code; }
fn hw_encode_half(x: u32) -> u32 { return x; }
`;
    case 'pack2x16float':
      return /* wgsl */ `
const HALF_HARDWARE = true;
fn hw_decode_half(code: u32) -> u32 { return bitcast<u32>(unpack2x16float(code).x); }
fn hw_encode_half(x: u32) -> u32 { return pack2x16float(vec2<f32>(bitcast<f32>(x), 0.0)) & 0xffffu; }
`;
    case 'shader-f16':
      return /* wgsl */ `enable f16;
const HALF_HARDWARE = true;
fn hw_decode_half(code: u32) -> u32 { return bitcast<u32>(f32(bitcast<vec2<f16>>(code).x)); }
fn hw_encode_half(x: u32) -> u32 {
  return bitcast<u32>(vec2<f16>(f16(bitcast<f32>(x)), 0.0h)) & 0xffffu;
}
`;
  }
}
