import type { OptimizerKind } from '@halfstep/optim';
import { kernelWgsl, UPDATE_LAYOUT } from '../layouts.js';
import { ABORT, SKIPPED_ROW, STATUS } from './aggregate.js';
import { EXACT_WGSL } from './exact.js';
import { FORMAT_FUNCTIONS_WGSL, FORMAT_WGSL, INDEX_WGSL } from './format.js';
import { PHILOX_WGSL } from './philox.js';

/**
 * `FORMAT_FUNCTIONS_WGSL` for the optimizer state's format: the same functions reading their
 * constants from the storage array `S` (named `s_encode_one`, `s_decode_one`, `s_unpack_code`).
 */
const STATE_FORMAT_WGSL = FORMAT_FUNCTIONS_WGSL.replace(/\bP\[/g, 'S[')
  .replace(/\bencode_one\b/g, 's_encode_one')
  .replace(/\bdecode_one\b/g, 's_decode_one')
  .replace(/\bunpack_code\b/g, 's_unpack_code')
  .replace(/\bfenced\b/g, 's_fenced');

/** Elements per invocation of the store pass: one Philox block of 16-bit thresholds. */
export const STORE_SEGMENT = 8;

/**
 * The readers of a table's code array (`weights` or `state`, a plain `array<u32>`, whose format
 * words are in `F`, decoded by the `FORMAT_WGSL` functions named with `prefix`): `load_<x>`
 * (element e as float32) and `load_<x>_walk` (the same through a one-word cache: each word loaded
 * once per walk).
 */
function loadWgsl(x: string, buffer: string, F: string, prefix: string): string {
  return /* wgsl */ `
fn load_${x}(e: u32) -> f32 {
  let bits = ${F}[F_BITS];
  let word = ${buffer}[e / (32u / bits)];
  if (bits == 32u) { return bitcast<f32>(word); }
  return bitcast<f32>(${prefix}decode_one(${prefix}unpack_code(word, e)));
}

fn load_${x}_walk(e: u32, cache: ptr<function, vec2<u32>>) -> f32 {
  let bits = ${F}[F_BITS];
  let wi = e / (32u / bits);
  if ((*cache).x != wi) { *cache = vec2<u32>(wi, ${buffer}[wi]); }
  if (bits == 32u) { return bitcast<f32>((*cache).y); }
  return bitcast<f32>(${prefix}decode_one(${prefix}unpack_code((*cache).y, e)));
}
`;
}

/**
 * The writer of a table's code array (`weights` or `state`, `array<atomic<u32>>`, format words
 * in `F`): `put_<x>` stores element e: the float32 bits `v` when the format is float32, else
 * `code`, gathering the codes of a word in `acc` and writing the word once, with atomics only
 * when another row or segment shares it.
 */
function putWgsl(x: string, buffer: string, F: string): string {
  return /* wgsl */ `
fn put_${x}(e: u32, v: u32, code: u32, last: bool, acc: ptr<function, vec2<u32>>) {
  let bits = ${F}[F_BITS];
  if (bits == 32u) {
    atomicStore(&${buffer}[e], v);
    return;
  }
  let per = 32u / bits;
  let shift = (e % per) * bits;
  (*acc).x = (*acc).x | (code << shift);
  (*acc).y = (*acc).y | (((1u << bits) - 1u) << shift);
  if (e % per == per - 1u || last) {
    let wi = e / per;
    if ((*acc).y == 0xffffffffu) {
      atomicStore(&${buffer}[wi], (*acc).x);
    } else {
      atomicAnd(&${buffer}[wi], ~(*acc).y);
      atomicOr(&${buffer}[wi], (*acc).x);
    }
    *acc = vec2<u32>(0u, 0u);
  }
}
`;
}

/** The rule of each optimizer, per element c: reads g and w, may set new state, sets w. */
const RULES: Record<OptimizerKind, { prologue: string; body: string }> = {
  sgd: { prologue: '', body: 'w = w - fenced(lr * g);' },
  momentum: {
    prologue: 'let mu = pf(U_MOMENTUM);',
    body: /* wgsl */ `
      let m = fenced(mu * load_s_walk(sbase + c, &sword)) + g;
      if (keep_s(vbase + c, m)) { bad = true; }
      w = w - fenced(lr * m);`,
  },
  adagrad: {
    prologue: 'let eps = pf(U_EPS);',
    body: /* wgsl */ `
      let acc = load_s_walk(sbase + c, &sword) + fenced(g * g);
      if (keep_s(vbase + c, acc)) { bad = true; }
      w = w - div_exact(fenced(lr * g), sqrt_exact(acc) + eps);`,
  },
  'rowwise-adagrad': {
    prologue: /* wgsl */ `
    let eps = pf(U_EPS);
    var sum = 0.0;
    for (var c = 0u; c < dim; c = c + 1u) {
      var g = grad(gbase + c);
      if (l2 != 0.0) { g = g + fenced(l2 * load_w(base + c)); }
      sum = sum + fenced(g * g);
    }
    let acc = load_s(sbase) + div_exact(sum, pf(U_DIM_VALUE));
    if (keep_s(vbase, acc)) { bad = true; }
    let rate = div_exact(lr, sqrt_exact(acc) + eps);`,
    body: 'w = w - fenced(rate * g);',
  },
  adam: {
    prologue: /* wgsl */ `
    let b1 = pf(U_BETA1);
    let b2 = pf(U_BETA2);
    let a1 = pf(U_ONE_MINUS_BETA1);
    let a2 = pf(U_ONE_MINUS_BETA2);
    let bc1 = pf(U_BIAS_CORRECTION1);
    let bc2 = pf(U_BIAS_CORRECTION2);
    let eps = pf(U_EPS);
    var vword = vec2<u32>(0xffffffffu, 0u);`,
    body: /* wgsl */ `
      let m = fenced(b1 * load_s_walk(sbase + c, &sword)) + fenced(a1 * g);
      let v = fenced(b2 * load_s_walk(sbase + dim + c, &vword)) + fenced(a2 * fenced(g * g));
      if (keep_s(vbase + c, m)) { bad = true; }
      if (keep_s(vbase + dim + c, v)) { bad = true; }
      let denom = sqrt_exact(div_exact(v, bc2)) + eps;
      w = w - fenced(lr * div_exact(div_exact(m, bc1), denom));`,
  },
};

/**
 * The compute pass of the fused update of one optimizer kind: one invocation per segment of
 * `segment` consecutive columns of an aggregated row u (the whole row for row-wise Adagrad and
 * max-norm, whose row sums need every column in order), which computes, in the order and
 * float32 arithmetic of `@halfstep/optim` (every product fenced against contraction, division
 * and square root correctly rounded by `EXACT_WGSL`): L2 or decoupled weight decay, the
 * optimizer's rule over c ascending (the state decoded from `state`), then the max-norm clip. It
 * writes no table: the new weights go to `grads` (over the row's gradients, which only this
 * invocation reads; with the clip the unclipped row waits there between the two loops) and the
 * new state to `fresh` (row u's at u x stateSize), as float32 bits, for `storeSource`'s pass.
 * A non-finite new value (tested on the bits) marks the row: under 'error' `ABORT.result` is set
 * in word 0 of `status` and the table's `STATUS.badRow` lowered to u; under 'skip-rows'
 * `rows[u]` becomes `SKIPPED_ROW` and `STATUS.skipped` counts the row once. An invocation
 * computes nothing when the gradient checks aborted the call (`ABORT.gradient`) or its row is
 * `SKIPPED_ROW`. Bindings: 0 P (`UPDATE_LAYOUT`), 1 rows, 2 grads, 3 weights, 4 status, and for
 * stateful kinds 5 state, 6 S (the state format's words), 7 fresh.
 */
export function updateSource(kind: OptimizerKind): string {
  const rule = RULES[kind];
  const stateful = kind !== 'sgd';
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
@group(0) @binding(1) var<storage, read_write> rows: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> grads: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<u32>;
@group(0) @binding(4) var<storage, read_write> status: array<atomic<u32>>;
${FORMAT_WGSL}
${INDEX_WGSL}
${EXACT_WGSL}
${kernelWgsl(UPDATE_LAYOUT, 'U')}
${
  stateful
    ? /* wgsl */ `
@group(0) @binding(5) var<storage, read> state: array<u32>;
@group(0) @binding(6) var<storage, read> S: array<u32>;
@group(0) @binding(7) var<storage, read_write> fresh: array<u32>;
${STATE_FORMAT_WGSL}
${loadWgsl('s', 'state', 'S', 's_')}

// Keeps new state value i; true when it is not finite.
fn keep_s(i: u32, v: f32) -> bool {
  fresh[i] = bitcast<u32>(v);
  return nonfinite(v);
}
`
    : ''
}

fn pf(i: u32) -> f32 {
  return bitcast<f32>(P[i]);
}

fn grad(i: u32) -> f32 {
  return bitcast<f32>(grads[i]);
}

// On the bits, so that no compiler can fold it.
fn nonfinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

// Keeps new weight i (over its gradient); true when it is not finite.
fn keep_w(i: u32, v: f32) -> bool {
  grads[i] = bitcast<u32>(v);
  return nonfinite(v);
}

${loadWgsl('w', 'weights', 'P', '')}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let dim = P[U_DIM];
  let width = P[U_SEGMENT];
  let segments = (dim + width - 1u) / width;
  let idx = flat_index(gid, groups);
  if (idx >= P[U_COUNT] * segments) { return; }
  // A non-finite gradient under 'error': the call is refused already. (A bad result of another
  // row does not stop the pass, which must find the smallest bad row.)
  if ((atomicLoad(&status[0]) & ${ABORT.gradient}u) != 0u) { return; }
  let u = idx / segments;
  let start = (idx % segments) * width;
  let end = min(dim, start + width);
  let row = atomicLoad(&rows[u]);
  if (row == ${SKIPPED_ROW}u) { return; }
  let base = row * dim;
  let gbase = u * dim;
  let sbase = row * P[U_STATE_SIZE];
  let vbase = u * P[U_STATE_SIZE];
  let lr = pf(U_LR);
  let l2 = pf(U_L2);
  let shrink = pf(U_SHRINK);
  let max_norm = pf(U_MAX_NORM);
  let clip = max_norm != 0.0;
  var wword = vec2<u32>(0xffffffffu, 0u);
  var sword = vec2<u32>(0xffffffffu, 0u);
  var n2 = 0.0;
  var bad = false;
  ${rule.prologue}
  for (var c = start; c < end; c = c + 1u) {
    var w = load_w_walk(base + c, &wword);
    var g = grad(gbase + c);
    if (l2 != 0.0) { g = g + fenced(l2 * w); }
    if (shrink != 0.0) { w = w - fenced(shrink * w); }
    ${rule.body}
    if (clip) {
      n2 = n2 + fenced(w * w);
      grads[gbase + c] = bitcast<u32>(w);
    } else if (keep_w(gbase + c, w)) {
      bad = true;
    }
  }
  if (clip) {
    let n = sqrt_exact(n2);
    let scaled = !(n <= max_norm);
    var scale = 1.0;
    if (scaled) { scale = div_exact(max_norm, n); }
    for (var c = start; c < end; c = c + 1u) {
      var w = grad(gbase + c);
      if (scaled) { w = fenced(w * scale); }
      if (keep_w(gbase + c, w)) { bad = true; }
    }
  }
  if (!bad) { return; }
  let status_base = P[U_STATUS_BASE];
  if (P[U_POLICY_ERROR] != 0u) {
    atomicOr(&status[0], ${ABORT.result}u);
    atomicMax(&status[status_base + ${STATUS.badRow}u], ~u);
  } else if (atomicExchange(&rows[u], ${SKIPPED_ROW}u) != ${SKIPPED_ROW}u) {
    atomicAdd(&status[status_base + ${STATUS.skipped}u], 1u);
  }
}
`;
}

/**
 * The store pass of the fused update (after every table's compute pass, `updateSource`): one
 * invocation per segment of `STORE_SEGMENT` new weights of an aggregated row u (float32 bits in
 * `grads`) or, for a stateful optimizer, of its new state (in `fresh`), which stores them with
 * the table's rounding (saturating; stochastic: the counter-based thresholds of (seed, step,
 * table, row), the state in its own random-bit domain), computing each Philox block once. Codes
 * in words shared with another row or segment are replaced with atomics. An invocation writes
 * nothing when word 0 of `status` is set (a non-finite gradient, row sum or result under the
 * 'error' policy, in any table of the call) or when its row is `SKIPPED_ROW` ('skip-rows').
 * Bindings: 0 P (`UPDATE_LAYOUT`), 1 rows, 2 grads, 3 weights, 4 status, and when `stateful`
 * 5 state, 6 S (the state format's words), 7 fresh.
 */
export function storeSource(stateful: boolean): string {
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read> grads: array<u32>;
@group(0) @binding(3) var<storage, read_write> weights: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read> status: array<u32>;
${FORMAT_WGSL}
${INDEX_WGSL}
${PHILOX_WGSL}
${kernelWgsl(UPDATE_LAYOUT, 'U')}
${
  stateful
    ? /* wgsl */ `
@group(0) @binding(5) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read> S: array<u32>;
@group(0) @binding(7) var<storage, read> fresh: array<u32>;
${STATE_FORMAT_WGSL}
${putWgsl('s', 'state', 'S')}

// Stores state element e (element j of its row, float32 bits v) stochastically rounded
// (saturating) in the state format.
fn store_s(
  e: u32, j: u32, row: u32, v: u32, last: bool, acc: ptr<function, vec2<u32>>,
  cache: ptr<function, RowBlock>,
) {
  var code = 0u;
  if (S[F_BITS] != 32u) {
    let t = row_threshold_walk(P[U_KEY0], P[U_KEY1], P[U_STEP], P[U_STATE_DOMAIN], row, P[U_STATE_RANDOM_BITS], j, cache);
    code = s_encode_one(v, R_STOCHASTIC, t);
  }
  put_s(e, v, code, last, acc);
}
`
    : ''
}
${putWgsl('w', 'weights', 'P')}

// Stores weight e (column c of row, float32 bits v) rounded with the table's rule (saturating).
fn store_w(
  e: u32, c: u32, row: u32, v: u32, last: bool, acc: ptr<function, vec2<u32>>,
  cache: ptr<function, RowBlock>,
) {
  var code = 0u;
  if (P[F_BITS] != 32u) {
    var rule = R_NEAREST_EVEN;
    var t = 0u;
    if (P[U_WEIGHT_STOCHASTIC] != 0u) {
      rule = R_STOCHASTIC;
      t = row_threshold_walk(P[U_KEY0], P[U_KEY1], P[U_STEP], P[U_WEIGHT_DOMAIN], row, P[U_WEIGHT_RANDOM_BITS], c, cache);
    }
    code = encode_one(v, rule, t);
  }
  put_w(e, v, code, last, acc);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let dim = P[U_DIM];
  let size = P[U_STATE_SIZE];
  let weight_segments = (dim + ${STORE_SEGMENT - 1}u) / ${STORE_SEGMENT}u;
  let per = weight_segments + (size + ${STORE_SEGMENT - 1}u) / ${STORE_SEGMENT}u;
  let idx = flat_index(gid, groups);
  if (idx >= P[U_COUNT] * per) { return; }
  if (status[0] != 0u) { return; }
  let u = idx / per;
  let k = idx % per;
  let row = rows[u];
  if (row == ${SKIPPED_ROW}u) { return; }
  var acc = vec2<u32>(0u, 0u);
  var cache = RowBlock(0xffffffffu, vec4<u32>());
  if (k < weight_segments) {
    let start = k * ${STORE_SEGMENT}u;
    let end = min(dim, start + ${STORE_SEGMENT}u);
    for (var c = start; c < end; c = c + 1u) {
      store_w(row * dim + c, c, row, grads[u * dim + c], c + 1u == end, &acc, &cache);
    }
    return;
  }
  ${
    stateful
      ? /* wgsl */ `let start = (k - weight_segments) * ${STORE_SEGMENT}u;
  let end = min(size, start + ${STORE_SEGMENT}u);
  for (var j = start; j < end; j = j + 1u) {
    store_s(row * size + j, j, row, fresh[u * size + j], j + 1u == end, &acc, &cache);
  }`
      : ''
  }
}
`;
}
