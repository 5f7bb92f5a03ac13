import {
  ADD_BIAS_LAYOUT,
  BCE_LAYOUT,
  ELEMENTS_LAYOUT,
  kernelWgsl,
  MATMUL_LAYOUT,
  SUM_ROWS_LAYOUT,
} from '../layouts.js';
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
 * against contraction), then alpha x acc, plus beta x c when `accumulate` (`MATMUL_LAYOUT`).
 */
export const MATMUL_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(MATMUL_LAYOUT, 'MM')}
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  let m = P[MM_M];
  let n = P[MM_N];
  let k = P[MM_K];
  if (idx >= m * n) { return; }
  let i = idx / n;
  let j = idx % n;
  var acc = 0.0;
  for (var p = 0u; p < k; p = p + 1u) {
    var av: f32;
    var bv: f32;
    if (P[MM_TRANS_A] != 0u) { av = a[p * m + i]; } else { av = a[i * k + p]; }
    if (P[MM_TRANS_B] != 0u) { bv = b[j * k + p]; } else { bv = b[p * n + j]; }
    acc = acc + fenced(av * bv);
  }
  let scaled = fenced(bitcast<f32>(P[MM_ALPHA]) * acc);
  if (P[MM_ACCUMULATE] != 0u) {
    c[idx] = scaled + fenced(bitcast<f32>(P[MM_BETA]) * c[idx]);
  } else {
    c[idx] = scaled;
  }
}
`;

/** x[r, c] = x[r, c] + bias[c], one invocation per element (`ADD_BIAS_LAYOUT`). */
export const ADD_BIAS_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(ADD_BIAS_LAYOUT, 'AB')}
@group(0) @binding(1) var<storage, read> bias: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  if (idx >= P[AB_COUNT]) { return; }
  x[idx] = x[idx] + bias[idx % P[AB_COLS]];
}
`;

/**
 * out = x > 0 ? g : 0 on bit patterns (ReLU when g is x, its backward when g is the gradient):
 * NaN and -0 give +0, everything else is copied bit for bit (`ELEMENTS_LAYOUT`).
 */
export const RELU_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(ELEMENTS_LAYOUT, 'EW')}
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read> g: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  if (idx >= P[EW_COUNT]) { return; }
  // x > 0 on the bit pattern, so that no flush of subnormals to zero can change it.
  let xb = x[idx];
  dst[idx] = select(0u, g[idx], xb != 0u && xb <= 0x7f800000u);
}
`;

/** out[c] = sum over r ascending of x[r, c] from +0, one invocation per column (`SUM_ROWS_LAYOUT`). */
export const SUM_ROWS_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(SUM_ROWS_LAYOUT, 'SR')}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
${ENTRY} {
  let c = flat_index(gid, groups);
  let cols = P[SR_COLS];
  if (c >= cols) { return; }
  var acc = 0.0;
  for (var r = 0u; r < P[SR_ROWS]; r = r + 1u) {
    acc = acc + x[r * cols + c];
  }
  dst[c] = acc;
}
`;

/**
 * out = 1 / (1 + exp(-x)) in float32 with WGSL's `exp` (not correctly rounded: within a few
 * ulp of the JS backend's float64 result) (`ELEMENTS_LAYOUT`).
 */
export const SIGMOID_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(ELEMENTS_LAYOUT, 'EW')}
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
${ENTRY} {
  let idx = flat_index(gid, groups);
  if (idx >= P[EW_COUNT]) { return; }
  dst[idx] = 1.0 / (1.0 + exp(-x[idx]));
}
`;

/**
 * Binary cross-entropy with logits, per element, in float32: `terms[i] = max(x, 0) - x y +
 * log1p(exp(-|x|))` (log1p by the `log(u) t / (u - 1)` correction) and, `withGrad`,
 * `grad[i] = (sigmoid(x) - y) / n` (`BCE_LAYOUT`: n = `count`). Bindings: 0 P, 1 logits, 2 labels,
 * 3 terms, 4 grad.
 */
export const BCE_WGSL = /* wgsl */ `${HEADER}${kernelWgsl(BCE_LAYOUT, 'BC')}
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
  let n = P[BC_COUNT];
  if (idx >= n) { return; }
  let v = x[idx];
  let label = y[idx];
  terms[idx] = max(v, 0.0) - v * label + log1p_f32(exp(-abs(v)));
  if (P[BC_WITH_GRAD] != 0u) { grad[idx] = (1.0 / (1.0 + exp(-v)) - label) / f32(n); }
}
`;

/**
 * The mean of `terms` (`ELEMENTS_LAYOUT`'s `count` values) into `loss[0]`, by one workgroup of 64 invocations: each
 * sums a strided share, then a tree in workgroup memory (0 for no values). Bindings: 0 P,
 * 1 terms, 2 loss.
 */
export const MEAN_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
${kernelWgsl(ELEMENTS_LAYOUT, 'EW')}
@group(0) @binding(1) var<storage, read> terms: array<f32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
var<workgroup> partial: array<f32, 64>;
@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lane: u32) {
  let n = P[EW_COUNT];
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
