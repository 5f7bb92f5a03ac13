/**
 * WGSL of Philox4x32-10 and the stochastic-rounding thresholds of `@halfstep/backend`'s
 * random-bits contract, bit for bit: `philox_lane(k0, k1, c0, c1, c2, c3, lane)` is lane
 * `lane` of the block at counter (c0, c1, c2, c3) under key (k0, k1) (`philox_lane_rounds`: with
 * `rounds` rounds, 7 for Philox4x32-7); the high word of each
 * 32 x 32-bit product is built from 16-bit halves (WGSL has no 64-bit multiply), as in
 * `@halfstep/rng`'s philox.ts. `row_threshold` is the threshold of element `e` of a row's
 * vector with `bits` random bits per element (see `fillRowThresholds`); `row_threshold_walk` is
 * the same with each Philox block computed once while a thread walks the vector in order.
 */
export const PHILOX_WGSL = /* wgsl */ `
fn mulhi32(a: u32, b: u32) -> u32 {
  let alo = a & 0xffffu;
  let ahi = a >> 16u;
  let blo = b & 0xffffu;
  let bhi = b >> 16u;
  let t = ahi * blo + ((alo * blo) >> 16u);
  let u = alo * bhi + (t & 0xffffu);
  return ahi * bhi + (t >> 16u) + (u >> 16u);
}

fn philox_lane(k0: u32, k1: u32, c0: u32, c1: u32, c2: u32, c3: u32, lane: u32) -> u32 {
  return philox_lane_rounds(k0, k1, c0, c1, c2, c3, lane, 10u);
}

fn philox_lane_rounds(
  k0: u32, k1: u32, c0: u32, c1: u32, c2: u32, c3: u32, lane: u32, rounds: u32,
) -> u32 {
  return philox_block(k0, k1, c0, c1, c2, c3, rounds)[lane];
}

fn philox_block(k0: u32, k1: u32, c0: u32, c1: u32, c2: u32, c3: u32, rounds: u32) -> vec4<u32> {
  var x0 = c0;
  var x1 = c1;
  var x2 = c2;
  var x3 = c3;
  for (var r = 0u; r < rounds; r = r + 1u) {
    let hi0 = mulhi32(0xd2511f53u, x0);
    let hi1 = mulhi32(0xcd9e8d57u, x2);
    let lo0 = 0xd2511f53u * x0;
    let lo1 = 0xcd9e8d57u * x2;
    let y0 = hi1 ^ x1 ^ (k0 + r * 0x9e3779b9u);
    let y2 = hi0 ^ x3 ^ (k1 + r * 0xbb67ae85u);
    x0 = y0;
    x1 = lo1;
    x2 = y2;
    x3 = lo0;
  }
  return vec4<u32>(x0, x1, x2, x3);
}

// The last Philox block a sequential walk along one row's vector used (block = 0xffffffff: none).
struct RowBlock {
  block: u32,
  words: vec4<u32>,
}

fn row_threshold(k0: u32, k1: u32, step: u32, domain: u32, row: u32, bits: u32, e: u32) -> u32 {
  var per = 1u;
  if (bits <= 16u) { per = 32u / bits; }
  let slot = e % per;
  let j = e / per;
  let word = philox_lane(k0, k1, row, j / 4u, step, domain, j % 4u);
  return (word << (slot * bits)) | (0xffffffffu >> bits);
}

// row_threshold, computing each Philox block once while e walks a vector in ascending order.
fn row_threshold_walk(
  k0: u32, k1: u32, step: u32, domain: u32, row: u32, bits: u32, e: u32,
  cache: ptr<function, RowBlock>,
) -> u32 {
  var per = 1u;
  if (bits <= 16u) { per = 32u / bits; }
  let slot = e % per;
  let j = e / per;
  if ((*cache).block != j / 4u) {
    (*cache).block = j / 4u;
    (*cache).words = philox_block(k0, k1, row, j / 4u, step, domain, 10u);
  }
  return ((*cache).words[j % 4u] << (slot * bits)) | (0xffffffffu >> bits);
}
`;

/**
 * WGSL of `@halfstep/rng`'s pcg-hash (Jarzynski & Olano's PCG-RXS-M-XS-32 hash), bit for bit:
 * `pcg_hash(x)` equals `pcgHash(x)`; word (high, low) of the pcg-hash engine is
 * `pcg_hash(low + salt)` with salt = `pcgSalt(k0, k1, high)` (computed on the CPU).
 */
export const PCG_HASH_WGSL = /* wgsl */ `
fn pcg_hash(x: u32) -> u32 {
  let state = x * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
`;
