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
