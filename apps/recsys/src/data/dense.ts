/**
 * DLRM's dense transform of one raw integer: negative values become 0 (`X_int[X_int < 0] = 0` in
 * facebookresearch/dlrm `data_utils.processCriteoAdData`), then `log(x + 1)`
 * (`transformCriteoAdData` / `collate_wrapper_criteo_offset`). A missing field arrives as 0 and
 * maps to 0. Computed as `Math.log1p(x)` in double precision; stored in a Float32Array it equals
 * DLRM's float32 `np.log(x + 1)` to within one float32 ulp.
 */
export function denseTransform(x: number): number {
  return x > 0 ? Math.log1p(x) : 0;
}
