import { FORMAT_WGSL, INDEX_WGSL } from './format.js';
import { PHILOX_WGSL } from './philox.js';

const HEADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
${FORMAT_WGSL}
${INDEX_WGSL}
`;

const ENTRY = /* wgsl */ `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>)`;

/**
 * Bulk encode: one invocation per output word; element i = word x (32 / bits) + j gets
 * `encode_one(src[i], P[17], th[i])` in bits [j x bits, (j + 1) x bits). P[16] = element count,
 * P[18] = 1 when `th` holds one stochastic threshold per element.
 */
export const ENCODE_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> th: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
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
      if (P[18u] != 0u) { t = th[i]; }
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
 * each operation a float32 add/multiply. P[16] bags, P[17] dim, P[18] lookups.
 */
export const FORWARD_WGSL = /* wgsl */ `${HEADER}${WEIGHT_WGSL}
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
  dst[idx] = acc;
}
`;

/**
 * Fused SGD + rounded store, one invocation per (aggregated row u, column c):
 * w = w - lr x g in float32, then stored: float32 as is, codes through `encode_one` with
 * saturation and nearest-even, or stochastic rounding with the counter-based threshold of
 * (seed, step, table domain, row, column). Codes sharing a word are replaced with atomics.
 * P[16] rows, P[17] dim, P[18] lr (float32 bits), P[19] step, P[20] domain, P[21..22] key,
 * P[23] stochastic, P[24] random bits per element.
 */
export const SGD_WGSL = /* wgsl */ `${HEADER}${PHILOX_WGSL}
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> weights: array<atomic<u32>>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  let dim = P[17u];
  if (idx >= P[16u] * dim) { return; }
  let u = idx / dim;
  let c = idx % dim;
  let row = rows[u];
  let e = row * dim + c;
  let bits = P[F_BITS];
  let per = 32u / bits;
  let wi = e / per;
  let old = atomicLoad(&weights[wi]);
  var wv: u32;
  if (bits == 32u) { wv = old; } else { wv = decode_one(unpack_code(old, e)); }
  let lr = bitcast<f32>(P[18u]);
  let step = fenced(lr * grads[idx]);
  let next = bitcast<f32>(wv) - step;
  if (bits == 32u) {
    atomicStore(&weights[wi], bitcast<u32>(next));
    return;
  }
  var rule = 0u;
  var t = 0u;
  if (P[23u] != 0u) {
    rule = 6u;
    t = row_threshold(P[21u], P[22u], P[19u], P[20u], row, P[24u], c);
  }
  let code = encode_one(bitcast<u32>(next), rule, t);
  let shift = (e % per) * bits;
  let mask = ((1u << bits) - 1u) << shift;
  atomicAnd(&weights[wi], ~mask);
  atomicOr(&weights[wi], code << shift);
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
