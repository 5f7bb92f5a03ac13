// Jump-ahead for the stream engines: xorshift128+ and xoshiro128++ update their state linearly
// over GF(2), so advancing by a fixed number of steps is a 128 x 128 bit matrix. With it, the
// SIMD fills run four streams, a fixed number of steps apart, side by side and write exactly the
// words the serial fill would. Not exported from the module (SIMD-only code; rng.ts re-exports
// `initJumpTable`).

/** Steps between the four streams of the SIMD xorshift128+ fill (see `xorshift128PlusBlock`). */
export const XORSHIFT_JUMP: i32 = 512;

/** Steps between the four streams of the SIMD xoshiro128++ fill (see `xoshiro128PlusPlusBlock`). */
export const XOSHIRO_JUMP: i32 = 512;

/** Address of the xorshift128+ jump table (set by `initJumpTable`), 0 before. */
let xorshiftJump: usize = 0;
/** Address of the xoshiro128++ jump table (set by `initJumpTable`), 0 before. */
let xoshiroJump: usize = 0;

/** Bytes of one engine's jump table: 32 nibbles x 16 values x 16 bytes. */
const TABLE_BYTES: usize = 8192;

/**
 * Builds the jump tables of xorshift128+ and xoshiro128++ at `table` (2 x 8192 bytes, 16-byte
 * aligned, owned by the caller for the instance's lifetime) and enables the SIMD fills. Both
 * engines' state updates are linear over GF(2), so advancing a 128-bit state (as a v128, little
 * endian) by J steps is a 128 x 128 bit matrix whose column k is the state J steps after the unit
 * state e_k. The table holds, for each 4-bit nibble p of the state and each value v of it, the
 * XOR of the columns of v's bits: entry (p, v) at (16p + v) * 16 bytes.
 */
export function initJumpTable(table: usize): void {
  const xs = table;
  const xo = table + TABLE_BYTES;
  for (let k = 0; k < 128; k++) {
    let s0: u64 = k < 64 ? (<u64>1) << (<u64>k) : 0;
    let s1: u64 = k < 64 ? 0 : (<u64>1) << (<u64>(k - 64));
    for (let i = 0; i < XORSHIFT_JUMP; i++) {
      const t = s0 ^ (s0 << 23);
      s0 = s1;
      s1 = t ^ s1 ^ (t >>> 18) ^ (s1 >>> 5);
    }
    const c = xs + (((<usize>(k >> 2) << 4) + ((<usize>1) << <usize>(k & 3))) << 4);
    store<u64>(c, s0);
    store<u64>(c, s1, 8);
  }
  for (let k = 0; k < 128; k++) {
    let s0: u32 = k < 32 ? (<u32>1) << (<u32>k) : 0;
    let s1: u32 = k >= 32 && k < 64 ? (<u32>1) << (<u32>(k - 32)) : 0;
    let s2: u32 = k >= 64 && k < 96 ? (<u32>1) << (<u32>(k - 64)) : 0;
    let s3: u32 = k >= 96 ? (<u32>1) << (<u32>(k - 96)) : 0;
    for (let i = 0; i < XOSHIRO_JUMP; i++) {
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl<u32>(s3, 11);
    }
    const c = xo + (((<usize>(k >> 2) << 4) + ((<usize>1) << <usize>(k & 3))) << 4);
    store<u32>(c, s0);
    store<u32>(c, s1, 4);
    store<u32>(c, s2, 8);
    store<u32>(c, s3, 12);
  }
  // The other values of each nibble: XORs of the single-bit entries.
  for (let e = 0; e < 2; e++) {
    const base = table + <usize>e * TABLE_BYTES;
    for (let p: usize = 0; p < 32; p++) {
      const nib = base + (p << 8);
      store<u64>(nib, 0);
      store<u64>(nib, 0, 8);
      for (let v: usize = 3; v < 16; v++) {
        const lowBit = v & (0 - v);
        if (lowBit == v) continue;
        const a = nib + (lowBit << 4);
        const b = nib + ((v ^ lowBit) << 4);
        store<u64>(nib + (v << 4), load<u64>(a) ^ load<u64>(b));
        store<u64>(nib + (v << 4), load<u64>(a, 8) ^ load<u64>(b, 8), 8);
      }
    }
  }
  xorshiftJump = xs;
  xoshiroJump = xo;
}

/** The state J steps after `v` by the jump table at `table` (a 128-bit state as a v128). */
function jumpOf(v: v128, table: usize): v128 {
  let acc = i64x2.splat(0);
  let s = i64x2.extract_lane(v, 0);
  for (let p: usize = 0; p < 16; p++) {
    acc = v128.xor(acc, v128.load(table + (((p << 4) + <usize>(s & 15)) << 4)));
    s >>>= 4;
  }
  s = i64x2.extract_lane(v, 1);
  for (let p: usize = 16; p < 32; p++) {
    acc = v128.xor(acc, v128.load(table + (((p << 4) + <usize>(s & 15)) << 4)));
    s >>>= 4;
  }
  return acc;
}

/** Whether the xorshift128+ jump table is built (callers check `ASC_FEATURE_SIMD` first). */
export function xorshiftJumpReady(): bool {
  return xorshiftJump != 0;
}

/**
 * The next 4 * XORSHIFT_JUMP words of xorshift128+ (state at `state`, advanced) into `out`, the
 * same words as the serial fill: four streams start at steps 0, J, 2J, 3J (J = XORSHIFT_JUMP, by
 * the jump table) and run side by side, two per vector, each writing its quarter of `out`.
 * SIMD build with a jump table only.
 */
export function xorshift128PlusBlock(state: usize, out: usize): void {
  const a = v128.load(state);
  const b = jumpOf(a, xorshiftJump);
  const c = jumpOf(b, xorshiftJump);
  const d = jumpOf(c, xorshiftJump);
  let x0 = v128.shuffle<i64>(a, b, 0, 2);
  let x1 = v128.shuffle<i64>(a, b, 1, 3);
  let y0 = v128.shuffle<i64>(c, d, 0, 2);
  let y1 = v128.shuffle<i64>(c, d, 1, 3);
  // Four steps per iteration, then a transpose: one 16-byte store per stream.
  for (let j = 0; j < XORSHIFT_JUMP; j += 4) {
    const o = out + (<usize>j << 2);
    const x0a = i64x2.add(x0, x1);
    const y0a = i64x2.add(y0, y1);
    let t = v128.xor(x0, i64x2.shl(x0, 23));
    let u = v128.xor(y0, i64x2.shl(y0, 23));
    x0 = x1;
    y0 = y1;
    x1 = v128.xor(v128.xor(t, x1), v128.xor(i64x2.shr_u(t, 18), i64x2.shr_u(x1, 5)));
    y1 = v128.xor(v128.xor(u, y1), v128.xor(i64x2.shr_u(u, 18), i64x2.shr_u(y1, 5)));
    const x1a = i64x2.add(x0, x1);
    const y1a = i64x2.add(y0, y1);
    t = v128.xor(x0, i64x2.shl(x0, 23));
    u = v128.xor(y0, i64x2.shl(y0, 23));
    x0 = x1;
    y0 = y1;
    x1 = v128.xor(v128.xor(t, x1), v128.xor(i64x2.shr_u(t, 18), i64x2.shr_u(x1, 5)));
    y1 = v128.xor(v128.xor(u, y1), v128.xor(i64x2.shr_u(u, 18), i64x2.shr_u(y1, 5)));
    const x2a = i64x2.add(x0, x1);
    const y2a = i64x2.add(y0, y1);
    t = v128.xor(x0, i64x2.shl(x0, 23));
    u = v128.xor(y0, i64x2.shl(y0, 23));
    x0 = x1;
    y0 = y1;
    x1 = v128.xor(v128.xor(t, x1), v128.xor(i64x2.shr_u(t, 18), i64x2.shr_u(x1, 5)));
    y1 = v128.xor(v128.xor(u, y1), v128.xor(i64x2.shr_u(u, 18), i64x2.shr_u(y1, 5)));
    const x3a = i64x2.add(x0, x1);
    const y3a = i64x2.add(y0, y1);
    t = v128.xor(x0, i64x2.shl(x0, 23));
    u = v128.xor(y0, i64x2.shl(y0, 23));
    x0 = x1;
    y0 = y1;
    x1 = v128.xor(v128.xor(t, x1), v128.xor(i64x2.shr_u(t, 18), i64x2.shr_u(x1, 5)));
    y1 = v128.xor(v128.xor(u, y1), v128.xor(i64x2.shr_u(u, 18), i64x2.shr_u(y1, 5)));
    // Low words: (A0, A1, B0, B1), (A2, A3, B2, B3) -> A0..A3, B0..B3 (same for C, D).
    const xp = v128.shuffle<i32>(x0a, x1a, 0, 4, 2, 6);
    const xq = v128.shuffle<i32>(x2a, x3a, 0, 4, 2, 6);
    const yp = v128.shuffle<i32>(y0a, y1a, 0, 4, 2, 6);
    const yq = v128.shuffle<i32>(y2a, y3a, 0, 4, 2, 6);
    v128.store(o, v128.shuffle<i64>(xp, xq, 0, 2));
    v128.store(o, v128.shuffle<i64>(xp, xq, 1, 3), XORSHIFT_JUMP * 4);
    v128.store(o, v128.shuffle<i64>(yp, yq, 0, 2), XORSHIFT_JUMP * 8);
    v128.store(o, v128.shuffle<i64>(yp, yq, 1, 3), XORSHIFT_JUMP * 12);
  }
  // The fourth stream ends where the serial fill would: 4J steps on.
  v128.store(state, v128.shuffle<i64>(y0, y1, 1, 3));
}

/** Whether the xoshiro128++ jump table is built (callers check `ASC_FEATURE_SIMD` first). */
export function xoshiroJumpReady(): bool {
  return xoshiroJump != 0;
}

/**
 * The next 4 * XOSHIRO_JUMP words of xoshiro128++ (state at `state`, advanced) into `out`, the
 * same words as the serial fill: four streams start at steps 0, J, 2J, 3J (J = XOSHIRO_JUMP) and
 * run in the four lanes, each writing its quarter of `out`. SIMD build with a jump table only.
 */
export function xoshiro128PlusPlusBlock(state: usize, out: usize): void {
  const a = v128.load(state);
  const b = jumpOf(a, xoshiroJump);
  const c = jumpOf(b, xoshiroJump);
  const d = jumpOf(c, xoshiroJump);
  // Transpose: s_i holds word i of streams a, b, c, d.
  const ab0 = v128.shuffle<i32>(a, b, 0, 4, 1, 5);
  const ab1 = v128.shuffle<i32>(a, b, 2, 6, 3, 7);
  const cd0 = v128.shuffle<i32>(c, d, 0, 4, 1, 5);
  const cd1 = v128.shuffle<i32>(c, d, 2, 6, 3, 7);
  let s0 = v128.shuffle<i64>(ab0, cd0, 0, 2);
  let s1 = v128.shuffle<i64>(ab0, cd0, 1, 3);
  let s2 = v128.shuffle<i64>(ab1, cd1, 0, 2);
  let s3 = v128.shuffle<i64>(ab1, cd1, 1, 3);
  // Four steps per iteration, then a 4 x 4 transpose: one 16-byte store per stream.
  for (let j = 0; j < XOSHIRO_JUMP; j += 4) {
    const o = out + (<usize>j << 2);
    let sum = i32x4.add(s0, s3);
    const r0 = i32x4.add(v128.or(i32x4.shl(sum, 7), i32x4.shr_u(sum, 25)), s0);
    let t = i32x4.shl(s1, 9);
    s2 = v128.xor(s2, s0);
    s3 = v128.xor(s3, s1);
    s1 = v128.xor(s1, s2);
    s0 = v128.xor(s0, s3);
    s2 = v128.xor(s2, t);
    s3 = v128.or(i32x4.shl(s3, 11), i32x4.shr_u(s3, 21));
    sum = i32x4.add(s0, s3);
    const r1 = i32x4.add(v128.or(i32x4.shl(sum, 7), i32x4.shr_u(sum, 25)), s0);
    t = i32x4.shl(s1, 9);
    s2 = v128.xor(s2, s0);
    s3 = v128.xor(s3, s1);
    s1 = v128.xor(s1, s2);
    s0 = v128.xor(s0, s3);
    s2 = v128.xor(s2, t);
    s3 = v128.or(i32x4.shl(s3, 11), i32x4.shr_u(s3, 21));
    sum = i32x4.add(s0, s3);
    const r2 = i32x4.add(v128.or(i32x4.shl(sum, 7), i32x4.shr_u(sum, 25)), s0);
    t = i32x4.shl(s1, 9);
    s2 = v128.xor(s2, s0);
    s3 = v128.xor(s3, s1);
    s1 = v128.xor(s1, s2);
    s0 = v128.xor(s0, s3);
    s2 = v128.xor(s2, t);
    s3 = v128.or(i32x4.shl(s3, 11), i32x4.shr_u(s3, 21));
    sum = i32x4.add(s0, s3);
    const r3 = i32x4.add(v128.or(i32x4.shl(sum, 7), i32x4.shr_u(sum, 25)), s0);
    t = i32x4.shl(s1, 9);
    s2 = v128.xor(s2, s0);
    s3 = v128.xor(s3, s1);
    s1 = v128.xor(s1, s2);
    s0 = v128.xor(s0, s3);
    s2 = v128.xor(s2, t);
    s3 = v128.or(i32x4.shl(s3, 11), i32x4.shr_u(s3, 21));
    // r_k holds step k of streams A..D; stream A's four words are lane 0 of r0..r3, etc.
    const p = v128.shuffle<i32>(r0, r1, 0, 4, 1, 5);
    const q = v128.shuffle<i32>(r2, r3, 0, 4, 1, 5);
    const v = v128.shuffle<i32>(r0, r1, 2, 6, 3, 7);
    const w = v128.shuffle<i32>(r2, r3, 2, 6, 3, 7);
    v128.store(o, v128.shuffle<i64>(p, q, 0, 2));
    v128.store(o, v128.shuffle<i64>(p, q, 1, 3), XOSHIRO_JUMP * 4);
    v128.store(o, v128.shuffle<i64>(v, w, 0, 2), XOSHIRO_JUMP * 8);
    v128.store(o, v128.shuffle<i64>(v, w, 1, 3), XOSHIRO_JUMP * 12);
  }
  // The fourth stream (lane 3) ends where the serial fill would: 4J steps on.
  const lo = v128.shuffle<i32>(s0, s1, 3, 7, 3, 7);
  const hi = v128.shuffle<i32>(s2, s3, 3, 7, 3, 7);
  v128.store(state, v128.shuffle<i64>(lo, hi, 0, 2));
}

