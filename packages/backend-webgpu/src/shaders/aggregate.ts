import { AGGREGATE_LAYOUT, FINITE_LAYOUT, kernelWgsl } from '../layouts.js';
import { EXACT_WGSL } from './exact.js';
import { FORMAT_WGSL, INDEX_WGSL } from './format.js';

/**
 * The status words of one fused backward: word 0 is the abort flag (non-zero: the fused updates
 * write nothing, see `ABORT`); update k's words start at `1 + STATUS.words x k`, at these
 * offsets. The positions are stored complemented (`~u`, raised with `atomicMax`) so that a
 * zeroed buffer means "none" and the smallest position wins.
 */
export const STATUS = {
  /**
   * Rows skipped ('skip-rows') because their sum, or their new weights or state, are not finite.
   */
  skipped: 0,
  /**
   * ~u of the smallest distinct row u whose sum is not finite ('error'), or 0; when no gradient
   * of the call is bad (`ABORT.gradient` clear), of the smallest whose new weights or state are
   * not finite: the update's compute pass runs only then, so the two never mix.
   */
  badRow: 1,
  /** ~i of the first position i of `gradOutput` that is not finite ('error'), or 0. */
  badGradient: 2,
  /** The float32 bits of `gradOutput[i]` at that position. */
  badValue: 3,
  /** Words per update. */
  words: 4,
} as const;

/**
 * Bits of the abort flag (status word 0): set by the gradient checks (`FINITE_WGSL`,
 * `AGGREGATE_WGSL`), or by the update's compute pass, which only `gradient` stops (so that it
 * still finds the smallest bad row).
 */
export const ABORT = {
  /** A non-finite gradient value or row sum under 'error'. */
  gradient: 1,
  /** A non-finite new weight or state under 'error'. */
  result: 2,
} as const;

/** The row index the aggregation writes over a skipped row: the fused update leaves it alone. */
export const SKIPPED_ROW = 0xffffffff;

/**
 * Per-row gradient sums of the fused backward, one invocation per (distinct row u, column c):
 * the row's entries `starts[u] .. starts[u + 1]` (its lookup positions in ascending order, each
 * entry the position's bag and, for modes 1 and 2, a float32 factor) contribute
 * `grad_output[bag, c]` (mode 0), `fenced(grad_output[bag, c] * factor)` (mode 1, the
 * per-sample weight) or `div_exact(grad_output[bag, c], factor)` (mode 2, the bag size); the
 * sum starts from the first contribution and adds the others in order, each add a float32 add:
 * the order of `@halfstep/backend-js`. The result goes to `grads[u, c]`.
 *
 * A non-finite result (exponent bits all ones, tested on the bits so that no compiler can fold
 * it) marks the row: under the 'error' policy word 0 of `status` (the abort flag the fused update
 * reads, bit `ABORT.gradient`) is set and the table's first bad row (`STATUS.badRow`) lowered to u; under
 * 'skip-rows' `rows[u]` becomes `SKIPPED_ROW` and `STATUS.skipped` counts the row once.
 * Bindings: 0 P, 1 starts, 2 entries, 3 grad_output, 4 grads, 5 rows, 6 status.
 */
export const AGGREGATE_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
@group(0) @binding(1) var<storage, read> starts: array<u32>;
@group(0) @binding(2) var<storage, read> entries: array<u32>;
@group(0) @binding(3) var<storage, read> grad_output: array<f32>;
@group(0) @binding(4) var<storage, read_write> grads: array<f32>;
@group(0) @binding(5) var<storage, read_write> rows: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> status: array<atomic<u32>>;
${FORMAT_WGSL}
${kernelWgsl(AGGREGATE_LAYOUT, 'A')}
${INDEX_WGSL}
${EXACT_WGSL}

fn contribution(k: u32, c: u32, dim: u32, mode: u32, stride: u32) -> f32 {
  let g = grad_output[entries[k * stride] * dim + c];
  if (mode == 1u) { return fenced(g * bitcast<f32>(entries[k * stride + 1u])); }
  if (mode == 2u) { return div_exact(g, bitcast<f32>(entries[k * stride + 1u])); }
  return g;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let idx = flat_index(gid, groups);
  let dim = P[A_DIM];
  if (idx >= P[A_COUNT] * dim) { return; }
  let u = idx / dim;
  let c = idx % dim;
  let mode = P[A_MODE];
  let stride = P[A_STRIDE];
  let first = starts[u];
  let end = starts[u + 1u];
  var acc = contribution(first, c, dim, mode, stride);
  for (var k = first + 1u; k < end; k = k + 1u) {
    acc = acc + contribution(k, c, dim, mode, stride);
  }
  grads[idx] = acc;
  if ((bitcast<u32>(acc) & 0x7f800000u) != 0x7f800000u) { return; }
  let base = P[A_STATUS_BASE];
  if (P[A_POLICY_ERROR] != 0u) {
    atomicOr(&status[0], ${ABORT.gradient}u);
    atomicMax(&status[base + ${STATUS.badRow}u], ~u);
  } else if (atomicExchange(&rows[u], ${SKIPPED_ROW}u) != ${SKIPPED_ROW}u) {
    atomicAdd(&status[base + ${STATUS.skipped}u], 1u);
  }
}
`;

/**
 * The finiteness check of a gradient under the 'error' policy, on the bits (so that no compiler
 * can fold it), `FINITE_LAYOUT`: `count` values, `statusBase` the update's first status word,
 * `pass` 0, one invocation per value: a non-finite value sets the abort flag (word 0) and raises
 * `STATUS.badGradient` to ~i (so the first position wins); `pass` 1, one invocation: copies the
 * bits of that first bad value into `STATUS.badValue`. Bindings: 0 P, 1 grad, 2 status.
 */
export const FINITE_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
@group(0) @binding(1) var<storage, read> grad: array<u32>;
@group(0) @binding(2) var<storage, read_write> status: array<atomic<u32>>;
${FINITE_LAYOUT.wgsl('N')}
${INDEX_WGSL}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let idx = flat_index(gid, groups);
  let base = P[N_STATUS_BASE];
  if (P[N_PASS] == 1u) {
    if (idx != 0u) { return; }
    let w = atomicLoad(&status[base + ${STATUS.badGradient}u]);
    if (w != 0u) { atomicStore(&status[base + ${STATUS.badValue}u], grad[~w]); }
    return;
  }
  if (idx >= P[N_COUNT]) { return; }
  if ((grad[idx] & 0x7f800000u) != 0x7f800000u) { return; }
  atomicOr(&status[0], ${ABORT.gradient}u);
  atomicMax(&status[base + ${STATUS.badGradient}u], ~idx);
}
`;
