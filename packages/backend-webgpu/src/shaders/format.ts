import { RULE_CODES } from '@halfstep/codecs';
import { FORMAT_LAYOUT } from '../layouts.js';

/** WGSL constants of the rounding rules, `R_<RULE>`, from `@halfstep/codecs`' `RULE_CODES`. */
export const RULES_WGSL = Object.entries(RULE_CODES)
  .map(([rule, code]) => `const R_${rule.replace(/-/g, '_').toUpperCase()}: u32 = ${code}u;`)
  .join('\n');

/**
 * WGSL of the number formats, shared by the kernels: `encode_one` (float32 bits to a code, the
 * exact algorithm of `@halfstep/codecs`' encoder: every rounding rule, gradual underflow,
 * overflow to infinity or saturation, NaN payloads) and `decode_one` (a code to float32 bits, as
 * `@halfstep/codecs`' `decodeBits`), on integers so that no float rounding mode, flush to zero
 * or NaN canonicalisation of the GPU can change a bit. The format's constants are words 0..15 of
 * the storage array `P` (`FORMAT_LAYOUT`, see `formatParams`); codes are packed little-endian into u32 words
 * (`load_code`). Kernels are compiled after a `halfPrelude`: with a hardware one, float16 normal
 * numbers (decode, nearest-even encode) take the GPU's conversion instructions instead, on a
 * device where a probe showed them exact.
 */
export const FORMAT_FUNCTIONS_WGSL = /* wgsl */ `
// Rules (@halfstep/codecs' RULE_CODES, the R_* constants): nearest-even, nearest-away,
// toward-zero, toward-positive, toward-negative, to-odd, stochastic (up iff the 32-bit gap
// fraction exceeds th).
fn encode_one(x: u32, rule: u32, th: u32) -> u32 {
  let a = x & 0x7fffffffu;
  // Nearest-even float16 of a magnitude in [2^-14, 65520), a normal result, by the hardware
  // where the device proved exact (see halfPrelude).
  if (HALF_HARDWARE && rule == R_NEAREST_EVEN && P[F_BITS] == 16u && P[F_BFLOAT] == 0u &&
      a >= 0x38800000u && a < 0x477ff000u) {
    return hw_encode_half(x);
  }
  let sign = (x >> P[F_SIGN_SHIFT]) & P[F_SIGN_MASK];
  var lower: u32;
  var fraction: u32;
  if (a >= P[F_MIN_NORMAL]) {
    if (a >= 0x7f800000u) {
      if (a == 0x7f800000u) { return sign | P[F_OVERFLOW]; }
      if (P[F_KEEPS_PAYLOAD] != 0u) {
        return sign | P[F_NAN] | ((a & 0x7fffffu) >> P[F_NORMAL_SHIFT]);
      }
      return sign | P[F_NAN];
    }
    let d = a - P[F_REBIAS];
    lower = d >> P[F_NORMAL_SHIFT];
    fraction = d << (32u - P[F_NORMAL_SHIFT]);
    if (lower > P[F_MAX_FINITE]) {
      let away = rule == R_NEAREST_EVEN || rule == R_NEAREST_AWAY || rule == R_STOCHASTIC ||
        select(rule == R_TOWARD_NEGATIVE, rule == R_TOWARD_POSITIVE, sign == 0u);
      return sign | select(P[F_MAX_FINITE], P[F_OVERFLOW], away);
    }
  } else {
    let e = a >> 23u;
    let significand = select((a & 0x7fffffu) | 0x800000u, a, e == 0u);
    let shift = P[F_SUBNORMAL_BASE] - select(e, 1u, e == 0u);
    if (shift < 32u) {
      lower = significand >> shift;
      fraction = significand << (32u - shift);
    } else {
      let drop = shift - 32u;
      lower = 0u;
      if (drop >= 24u) {
        fraction = select(1u, 0u, significand == 0u);
      } else {
        let sticky = select(1u, 0u, (significand & ((1u << drop) - 1u)) == 0u);
        fraction = (significand >> drop) | sticky;
      }
    }
  }
  var up = false;
  switch rule {
    case R_NEAREST_EVEN: { up = fraction > 0x80000000u || (fraction == 0x80000000u && (lower & 1u) == 1u); }
    case R_NEAREST_AWAY: { up = fraction >= 0x80000000u; }
    case R_TOWARD_ZERO: { up = false; }
    case R_TOWARD_POSITIVE: { up = fraction != 0u && sign == 0u; }
    case R_TOWARD_NEGATIVE: { up = fraction != 0u && sign != 0u; }
    case R_TO_ODD: { up = fraction != 0u && (lower & 1u) == 0u; }
    default: { up = fraction > th; }
  }
  let code = lower + select(0u, 1u, up);
  if (code > P[F_MAX_FINITE]) {
    return sign | select(P[F_OVERFLOW], P[F_MAX_FINITE], rule == R_TO_ODD);
  }
  return sign | code;
}

fn decode_one(code: u32) -> u32 {
  let bits = P[F_BITS];
  let m = P[F_MANTISSA];
  // Float16 normal numbers (exponent 1..30) by the hardware where the device proved exact.
  if (HALF_HARDWARE && bits == 16u && P[F_BFLOAT] == 0u) {
    let exponent = (code >> 10u) & 31u;
    if (exponent != 0u && exponent != 31u) { return hw_decode_half(code); }
  }
  if (P[F_BFLOAT] != 0u) { return code << 16u; }
  let sign = (code & P[F_SIGN_MASK]) << (32u - bits);
  let magnitude = code & (P[F_SIGN_MASK] - 1u);
  if (magnitude > P[F_MAX_FINITE]) {
    if (P[F_KEEPS_PAYLOAD] != 0u && magnitude == P[F_MAX_FINITE] + 1u) {
      return sign | 0x7f800000u;
    }
    var payload = 0u;
    if (P[F_KEEPS_PAYLOAD] != 0u) { payload = (magnitude & ((1u << m) - 1u)) << (23u - m); }
    return sign | 0x7fc00000u | payload;
  }
  let exponent = magnitude >> m;
  let mantissa = magnitude & ((1u << m) - 1u);
  if (exponent == 0u) {
    if (mantissa == 0u) { return sign; }
    // mantissa x 2^(1 - bias - m) is a float32 normal for every format here.
    let p = firstLeadingBit(mantissa);
    let biased = p + 128u - P[F_BIAS] - m;
    return sign | (biased << 23u) | ((mantissa ^ (1u << p)) << (23u - p));
  }
  return sign | ((exponent + 127u - P[F_BIAS]) << 23u) | (mantissa << (23u - m));
}

// x, rounded to float32 and opaque to the compiler: P[F_FENCE] is always 0 at run time, so a
// product passed through here cannot be contracted with a following add into a fused multiply-add.
fn fenced(x: f32) -> f32 {
  return bitcast<f32>(bitcast<u32>(x) ^ P[F_FENCE]);
}

// Code i of an array of codes of P[F_BITS] bits packed little-endian into u32 words.
fn unpack_code(word: u32, i: u32) -> u32 {
  let bits = P[F_BITS];
  if (bits == 32u) { return word; }
  let per = 32u / bits;
  return (word >> ((i % per) * bits)) & ((1u << bits) - 1u);
}
`;

/**
 * `FORMAT_FUNCTIONS_WGSL` with the word numbers of the format words (`FORMAT_LAYOUT`, `F_*`) and
 * the rule numbers (`RULES_WGSL`, `R_*`).
 */
export const FORMAT_WGSL = `
${FORMAT_LAYOUT.wgsl('F')}
${RULES_WGSL}
${FORMAT_FUNCTIONS_WGSL}`;

/** WGSL of a flat invocation index over a 2-D grid of 64-wide workgroups. */
export const INDEX_WGSL = /* wgsl */ `
fn flat_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
  return gid.y * groups.x * 64u + gid.x;
}
`;
