import { FORMAT_WGSL, INDEX_WGSL } from './format.js';

const HEADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
${FORMAT_WGSL}
${INDEX_WGSL}
`;

const ENTRY = /* wgsl */ `@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>)`;

/**
 * C = alpha op(A) op(B) + beta C, one invocation per element of C, in the JS reference's
 * arithmetic: acc = +0, then acc = acc + (a x b) for p ascending (each product rounded: fenced
 * against contraction), then alpha x acc, plus beta x c when P[23] = 1.
 * P[16] m, P[17] n, P[18] k, P[19] transA, P[20] transB, P[21] alpha, P[22] beta (float32 bits).
 */
export const MATMUL_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  let m = P[16u];
  let n = P[17u];
  let k = P[18u];
  if (idx >= m * n) { return; }
  let i = idx / n;
  let j = idx % n;
  var acc = 0.0;
  for (var p = 0u; p < k; p = p + 1u) {
    var av: f32;
    var bv: f32;
    if (P[19u] != 0u) { av = a[p * m + i]; } else { av = a[i * k + p]; }
    if (P[20u] != 0u) { bv = b[j * k + p]; } else { bv = b[p * n + j]; }
    acc = acc + fenced(av * bv);
  }
  let scaled = fenced(bitcast<f32>(P[21u]) * acc);
  if (P[23u] != 0u) {
    c[idx] = scaled + fenced(bitcast<f32>(P[22u]) * c[idx]);
  } else {
    c[idx] = scaled;
  }
}
`;

/** x[r, c] = x[r, c] + bias[c], one invocation per element. P[16] elements, P[17] cols. */
export const ADD_BIAS_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  if (idx >= P[16u]) { return; }
  x[idx] = x[idx] + bias[idx % P[17u]];
}
`;

/**
 * out = x > 0 ? g : 0 on bit patterns (ReLU when g is x, its backward when g is the gradient):
 * NaN and -0 give +0, everything else is copied bit for bit. P[16] elements.
 */
export const RELU_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read> g: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  if (idx >= P[16u]) { return; }
  // x > 0 on the bit pattern, so that no flush of subnormals to zero can change it.
  let xb = x[idx];
  dst[idx] = select(0u, g[idx], xb != 0u && xb <= 0x7f800000u);
}
`;

/** out[c] = sum over r ascending of x[r, c] from +0, one invocation per column. P[16] rows, P[17] cols. */
export const SUM_ROWS_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
${ENTRY} {
  let c = flat_index(gid, groups);
  let cols = P[17u];
  if (c >= cols) { return; }
  var acc = 0.0;
  for (var r = 0u; r < P[16u]; r = r + 1u) {
    acc = acc + x[r * cols + c];
  }
  dst[c] = acc;
}
`;

/**
 * out = 1 / (1 + exp(-x)) in float32 with WGSL's `exp` (not correctly rounded: within a few
 * ulp of the JS backend's float64 result). P[16] elements.
 */
export const SIGMOID_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  if (idx >= P[16u]) { return; }
  dst[idx] = 1.0 / (1.0 + exp(-x[idx]));
}
`;

/**
 * Binary cross-entropy with logits, per element, in float32: `terms[i] = max(x, 0) - x y +
 * log1p(exp(-|x|))` (log1p by the `log(u) t / (u - 1)` correction) and, when P[17] = 1,
 * `grad[i] = (sigmoid(x) - y) / n`. P[16] elements n. Bindings: 0 P, 1 logits, 2 labels,
 * 3 terms, 4 grad.
 */
export const BCE_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> terms: array<f32>;
@group(0) @binding(4) var<storage, read_write> grad: array<f32>;
fn log1p_f32(t: f32) -> f32 {
  let u = 1.0 + t;
  if (u == 1.0) { return t; }
  return log(u) * t / (u - 1.0);
}
${ENTRY} {
  let idx = flat_index(gid, groups);
  let n = P[16u];
  if (idx >= n) { return; }
  let v = x[idx];
  let label = y[idx];
  terms[idx] = max(v, 0.0) - v * label + log1p_f32(exp(-abs(v)));
  if (P[17u] != 0u) { grad[idx] = (1.0 / (1.0 + exp(-v)) - label) / f32(n); }
}
`;

/**
 * The mean of `terms` (P[16] values) into `loss[0]`, by one workgroup of 64 invocations: each
 * sums a strided share, then a tree in workgroup memory (0 for no values). Bindings: 0 P,
 * 1 terms, 2 loss.
 */
export const MEAN_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
@group(0) @binding(1) var<storage, read> terms: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
var<workgroup> partial: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lane: u32) {
  let n = P[16u];
  var acc = 0.0;
  for (var i = lane; i < n; i = i + 64u) { acc = acc + terms[i]; }
  partial[lane] = acc;
  workgroupBarrier();
  for (var width = 32u; width > 0u; width = width / 2u) {
    if (lane < width) { partial[lane] = partial[lane] + partial[lane + width]; }
    workgroupBarrier();
  }
  if (lane == 0u) { loss[0] = select(partial[0] / f32(n), 0.0, n == 0u); }
}
`;
