import {
  DECODE_LAYOUT,
  ENCODE_LAYOUT,
  FORWARD_LAYOUT,
  kernelWgsl,
  ROWS_LAYOUT,
} from '../layouts.js';
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
 * `encode_one(src[i], rule, t)` in bits [j x bits, (j + 1) x bits), for `count` elements
 * (`ENCODE_LAYOUT`). `source` says where a stochastic threshold t comes from: 1 = `th[i]`;
 * 2 = Philox (`rounds` rounds) and 3 = pcg-hash, computed here from element i's word counter +
 * floor(i / perWord) and slot i mod perWord with `randomBits` bits per element
 * (`@halfstep/rounding`'s counter mapping); `key0`, `key1` the key; Philox: `counter0..3` the
 * counter's block, `lane` its lane; pcg-hash: `counter0` the counter's low word, `counter1` and
 * `counter2` the salts of its high word and of the next one.
 */
export const ENCODE_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(ENCODE_LAYOUT, 'E')}
${PHILOX_WGSL}${PCG_HASH_WGSL}
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> th: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;

fn counter_threshold(i: u32) -> u32 {
  let k = P[E_RANDOM_BITS];
  let per = P[E_PER_WORD];
  let d = i / per;
  let slot = i % per;
  var word: u32;
  if (P[E_SOURCE] == 2u) {
    let t = P[E_LANE] + d;
    let add = t >> 2u;
    let c0 = P[E_COUNTER0] + add;
    var carry = select(0u, 1u, c0 < add);
    let c1 = P[E_COUNTER1] + carry;
    carry = select(0u, 1u, carry == 1u && c1 == 0u);
    let c2 = P[E_COUNTER2] + carry;
    carry = select(0u, 1u, carry == 1u && c2 == 0u);
    let c3 = P[E_COUNTER3] + carry;
    word = philox_lane_rounds(P[E_KEY0], P[E_KEY1], c0, c1, c2, c3, t & 3u, P[E_ROUNDS]);
  } else {
    let low = P[E_COUNTER0] + d;
    word = pcg_hash(low + select(P[E_COUNTER1], P[E_COUNTER2], low < d));
  }
  return (word << (slot * k)) | (0xffffffffu >> k);
}

${ENTRY} {
  let w = flat_index(gid, groups);
  let n = P[E_COUNT];
  let bits = P[F_BITS];
  let per = 32u / bits;
  if (w * per >= n) { return; }
  var word = 0u;
  for (var j = 0u; j < per; j = j + 1u) {
    let i = w * per + j;
    if (i < n) {
      var t = 0u;
      let source = P[E_SOURCE];
      if (source == 1u) {
        t = th[i];
      } else if (source >= 2u) {
        t = counter_threshold(i);
      }
      word = word | (encode_one(src[i], P[E_RULE], t) << (j * bits));
    }
  }
  dst[w] = word;
}
`;

/** Bulk decode: one invocation per element, writing float32 bits (`DECODE_LAYOUT`). */
export const DECODE_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(DECODE_LAYOUT, 'D')}
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
${ENTRY} {
  let i = flat_index(gid, groups);
  if (i >= P[D_COUNT]) { return; }
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
 * positions ascending acc = acc + v (v the decoded element, or weight x element when
 * `weighted`), each operation a float32 add/multiply; `mean` pooling then divides a non-empty
 * bag by its size, correctly rounded (`div_exact`). `FORWARD_LAYOUT`.
 */
export const FORWARD_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(FORWARD_LAYOUT, 'B')}
${WEIGHT_WGSL}${EXACT_WGSL}
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> offsets: array<u32>;
@group(0) @binding(4) var<storage, read> psw: array<f32>;
@group(0) @binding(5) var<storage, read_write> dst: array<f32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  let bags = P[B_BAGS];
  let dim = P[B_DIM];
  if (idx >= bags * dim) { return; }
  let b = idx / dim;
  let c = idx % dim;
  let start = offsets[b];
  var end = P[B_LOOKUPS];
  if (b + 1u < bags) { end = offsets[b + 1u]; }
  let per = 32u / P[F_BITS];
  var acc = 0.0;
  for (var i = start; i < end; i = i + 1u) {
    let e = indices[i] * dim + c;
    let v = bitcast<f32>(weight_bits(weights[e / per], e));
    if (P[B_WEIGHTED] != 0u) {
      let s = psw[i];
      acc = acc + fenced(s * v);
    } else {
      acc = acc + v;
    }
  }
  if (P[B_MEAN] != 0u && end > start) { acc = div_exact(acc, f32(end - start)); }
  dst[idx] = acc;
}
`;

/**
 * Stores codes into rows of a table (`writeRows`), one invocation per element: element (k, c)
 * takes `codes[k x dim + c]` (a code, or float32 bits) into row `rows[k]`, clearing then setting
 * its bits of the packed word with atomics (codes of neighbouring elements may share a word;
 * the rows are distinct). `ROWS_LAYOUT`.
 */
export const SCATTER_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(ROWS_LAYOUT, 'R')}
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> codes: array<u32>;
@group(0) @binding(3) var<storage, read_write> weights: array<atomic<u32>>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  let dim = P[R_DIM];
  if (idx >= P[R_ROWS] * dim) { return; }
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

/** Gathers rows of a table as float32 bits (`ROWS_LAYOUT`); one invocation per element. */
export const GATHER_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(ROWS_LAYOUT, 'R')}
${WEIGHT_WGSL}
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  let dim = P[R_DIM];
  if (idx >= P[R_ROWS] * dim) { return; }
  let e = rows[idx / dim] * dim + idx % dim;
  let per = 32u / P[F_BITS];
  dst[idx] = weight_bits(weights[e / per], e);
}
`;
