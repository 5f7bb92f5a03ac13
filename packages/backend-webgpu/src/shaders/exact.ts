/**
 * WGSL of correctly rounded float32 division and square root, on integers only (WGSL's `/` and
 * `sqrt` are not correctly rounded, and a GPU may flush subnormals): `div_exact(x, y)` equals
 * `Math.fround(x / y)` and `sqrt_exact(x)` equals `Math.fround(Math.sqrt(x))` for every float32
 * input, subnormals included (taken and produced as IEEE 754 defines them), signed zeros,
 * infinities and NaN (a NaN result is the quiet NaN 0x7fc00000; JavaScript does not specify NaN
 * payloads).
 *
 * Division: the significands (normalised, bit 23 set) are divided by 26 steps of restoring long
 * division, giving 26 quotient bits and a sticky bit (remainder non-zero). Square root: the
 * significand, shifted to an even exponent, is the radicand of 26 steps of the digit-by-digit
 * integer square root (two radicand bits per step; the remainder stays below 2^28). Both end in
 * `round_exact`, which rounds to nearest-even at the normal or subnormal position and overflows
 * to infinity.
 */
export const EXACT_WGSL = /* wgsl */ `
// The quiet NaN, as a variable: a constant NaN cannot be written in WGSL.
var<private> exact_nan: u32 = 0x7fc00000u;

// sign | the float32 nearest (ties to even) to m x 2^(e - 152), where m is in [2^25, 2^26) and
// sticky says whether the exact value lies strictly above m x 2^(e - 152).
fn round_exact(sign: u32, e: i32, m: u32, sticky: bool) -> u32 {
  if (e >= 255) { return sign | 0x7f800000u; }
  var shift = 2u;
  var base = 0u;
  if (e >= 1) {
    base = u32(e - 1) << 23u;
  } else {
    shift = u32(min(3 - e, 31));
  }
  let kept = m >> shift;
  let rem = m & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  let up = rem > half || (rem == half && (sticky || (kept & 1u) == 1u));
  let bits = base + kept + select(0u, 1u, up);
  if (bits >= 0x7f800000u) { return sign | 0x7f800000u; }
  return sign | bits;
}

// (significand with bit 23 set, biased exponent: <= 0 for subnormals) of a finite non-zero
// magnitude: a = x * 2^(y - 150).
fn unpack_exact(a: u32) -> vec2<i32> {
  let e = i32(a >> 23u);
  if (e == 0) {
    let p = i32(firstLeadingBit(a));
    return vec2<i32>(i32(a << u32(23 - p)), p - 22);
  }
  return vec2<i32>(i32((a & 0x7fffffu) | 0x800000u), e);
}

fn div_exact(x: f32, y: f32) -> f32 {
  let a = bitcast<u32>(x);
  let b = bitcast<u32>(y);
  let sign = (a ^ b) & 0x80000000u;
  let ma = a & 0x7fffffffu;
  let mb = b & 0x7fffffffu;
  if (ma > 0x7f800000u || mb > 0x7f800000u) { return bitcast<f32>(exact_nan); }
  if (ma == 0x7f800000u) {
    if (mb == 0x7f800000u) { return bitcast<f32>(exact_nan); }
    return bitcast<f32>(sign | 0x7f800000u);
  }
  if (mb == 0x7f800000u) { return bitcast<f32>(sign); }
  if (mb == 0u) {
    if (ma == 0u) { return bitcast<f32>(exact_nan); }
    return bitcast<f32>(sign | 0x7f800000u);
  }
  if (ma == 0u) { return bitcast<f32>(sign); }
  let ua = unpack_exact(ma);
  let ub = unpack_exact(mb);
  var n = u32(ua.x);
  let d = u32(ub.x);
  var e = ua.y - ub.y + 127;
  if (n < d) {
    n = n << 1u;
    e = e - 1;
  }
  var q = 0u;
  for (var i = 0u; i < 26u; i = i + 1u) {
    q = q << 1u;
    if (n >= d) {
      n = n - d;
      q = q | 1u;
    }
    n = n << 1u;
  }
  return bitcast<f32>(round_exact(sign, e, q, n != 0u));
}

fn sqrt_exact(x: f32) -> f32 {
  let a = bitcast<u32>(x);
  if ((a & 0x7fffffffu) == 0u) { return x; }
  if (a > 0x7f800000u) { return bitcast<f32>(exact_nan); }
  if (a == 0x7f800000u) { return x; }
  let u = unpack_exact(a);
  let m = u32(u.x);
  // x = m * 2^s with s = u.y - 150; the radicand m << sh has an even exponent s - sh.
  let s = u.y - 150;
  var sh = 27u;
  if ((s & 1) == 0) { sh = 28u; }
  let t = (s - i32(sh)) / 2;
  var r = 0u;
  var q = 0u;
  for (var i = 25; i >= 0; i = i - 1) {
    let p = 2 * i - i32(sh);
    var pair = 0u;
    if (p >= 0) {
      pair = (m >> u32(p)) & 3u;
    } else if (p == -1) {
      pair = (m << 1u) & 3u;
    }
    r = (r << 2u) | pair;
    let trial = (q << 2u) | 1u;
    if (r >= trial) {
      r = r - trial;
      q = (q << 1u) | 1u;
    } else {
      q = q << 1u;
    }
  }
  return bitcast<f32>(round_exact(0u, t + 152, q, r != 0u));
}
`;
