import { EXACT_WGSL } from './exact.js';
import { FORMAT_WGSL, INDEX_WGSL } from './format.js';
import { PCG_HASH_WGSL, PHILOX_WGSL } from './philox.js';

const HEADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
${FORMAT_WGSL}
${INDEX_WGSL}
`;

const ENTRY = /* wgsl */ `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>)`;

/**
 * Bulk encode: one invocation per output word; element i = word x (32 / bits) + j gets
 * `encode_one(src[i], P[17], t)` in bits [j x bits, (j + 1) x bits). P[16] = element count.
 * P[18] says where a stochastic threshold t comes from: 1 = `th[i]`; 2 = Philox (P[23] rounds)
 * and 3 = pcg-hash, computed here from element i's word counter + floor(i / P[20]) and slot
 * i mod P[20] with P[19] random bits per element (`@halfstep/rounding`'s counter mapping);
 * P[21..22] the key; Philox: P[24..27] the counter's block, P[28] its lane; pcg-hash: P[24] the
 * counter's low word, P[25] and P[26] the salts of its high word and of the next one.
 */
export const ENCODE_WGSL = /* wgsl */ `${HEADER}${PHILOX_WGSL}${PCG_HASH_WGSL}
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> th: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;

fn counter_threshold(i: u32) -> u32 {
  let k = P[19u];
  let per = P[20u];
  let d = i / per;
  let slot = i % per;
  var word: u32;
  if (P[18u] == 2u) {
    let t = P[28u] + d;
    let add = t >> 2u;
    let c0 = P[24u] + add;
    var carry = select(0u, 1u, c0 < add);
    let c1 = P[25u] + carry;
    carry = select(0u, 1u, carry == 1u && c1 == 0u);
    let c2 = P[26u] + carry;
    carry = select(0u, 1u, carry == 1u && c2 == 0u);
    let c3 = P[27u] + carry;
    word = philox_lane_rounds(P[21u], P[22u], c0, c1, c2, c3, t & 3u, P[23u]);
  } else {
    let low = P[24u] + d;
    word = pcg_hash(low + select(P[25u], P[26u], low < d));
  }
  return (word << (slot * k)) | (0xffffffffu >> k);
}

${ENTRY} {
  let w = flat_index(gid, groups);
  let n = P[16u];
  let bits = P[F_BITS];
  let per = 32u / bits;
  if (w * per >= n) { return; }
  var word = 0u;
  for (var j = 0u; j < per; j = j + 1u) {
    let i = w * per + j;
    if (i < n) {
      var t = 0u;
      let source = P[18u];
      if (source == 1u) {
        t = th[i];
      } else if (source >= 2u) {
        t = counter_threshold(i);
      }
      word = word | (encode_one(src[i], P[17u], t) << (j * bits));
    }
  }
  dst[w] = word;
}
`;

/** Bulk decode: one invocation per element, writing float32 bits. P[16] = element count. */
export const DECODE_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
${ENTRY} {
  let i = flat_index(gid, groups);
  if (i >= P[16u]) { return; }
  let per = 32u / P[F_BITS];
  dst[i] = decode_one(unpack_code(src[i / per], i));
}
`;

/**
 * The float32 value of stored element e of a table (bits, or a packed code decoded), for the
 * kernels that read weights.
 */
const WEIGHT_WGSL = /* wgsl */ `
fn weight_bits(word: u32, e: u32) -> u32 {
  if (P[F_BITS] == 32u) { return word; }
  return decode_one(unpack_code(word, e));
}
`;

/**
 * Embedding-bag forward, one invocation per (bag, column): acc = +0, then for the bag's
 * positions ascending acc = acc + v (v the decoded element, or weight x element when P[19] = 1),
 * each operation a float32 add/multiply; mean pooling (P[20] = 1) then divides a non-empty bag
 * by its size, correctly rounded (`div_exact`). P[16] bags, P[17] dim, P[18] lookups.
 */
export const FORWARD_WGSL = /* wgsl */ `${HEADER}${WEIGHT_WGSL}${EXACT_WGSL}
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> offsets: array<u32>;
@group(0) @binding(4) var<storage, read> psw: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  let bags = P[16u];
  let dim = P[17u];
  if (idx >= bags * dim) { return; }
  let b = idx / dim;
  let c = idx % dim;
  let start = offsets[b];
  var end = P[18u];
  if (b + 1u < bags) { end = offsets[b + 1u]; }
  let per = 32u / P[F_BITS];
  var acc = 0.0;
  for (var i = start; i < end; i = i + 1u) {
    let e = indices[i] * dim + c;
    let v = bitcast<f32>(weight_bits(weights[e / per], e));
    if (P[19u] != 0u) {
      let s = psw[i];
      acc = acc + fenced(s * v);
    } else {
      acc = acc + v;
    }
  }
  if (P[20u] != 0u && end > start) { acc = div_exact(acc, f32(end - start)); }
  dst[idx] = acc;
}
`;

/**
 * Stores codes into rows of a table (`writeRows`), one invocation per element: element (k, c)
 * takes `codes[k x dim + c]` (a code, or float32 bits) into row `rows[k]`, clearing then setting
 * its bits of the packed word with atomics (codes of neighbouring elements may share a word;
 * the rows are distinct). P[16] rows, P[17] dim.
 */
export const SCATTER_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> codes: array<u32>;
@group(0) @binding(3) var<storage, read_write> weights: array<atomic<u32>>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  let dim = P[17u];
  if (idx >= P[16u] * dim) { return; }
  let e = rows[idx / dim] * dim + idx % dim;
  let bits = P[F_BITS];
  if (bits == 32u) {
    atomicStore(&weights[e], codes[idx]);
    return;
  }
  let per = 32u / bits;
  let shift = (e % per) * bits;
  let mask = ((1u << bits) - 1u) << shift;
  atomicAnd(&weights[e / per], ~mask);
  atomicOr(&weights[e / per], (codes[idx] << shift) & mask);
}
`;

/** Gathers rows of a table as float32 bits: P[16] rows, P[17] dim; one invocation per element. */
export const GATHER_WGSL = /* wgsl */ `${HEADER}${WEIGHT_WGSL}
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  let dim = P[17u];
  if (idx >= P[16u] * dim) { return; }
  let e = rows[idx / dim] * dim + idx % dim;
  let per = 32u / P[F_BITS];
  dst[idx] = weight_bits(weights[e / per], e);
}
`;
