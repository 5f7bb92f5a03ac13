/**
 * DLRM's dot interaction without self terms, on `count` feature vectors of width `dim` per
 * example (vector 0 is the bottom MLP output, vectors 1.. the pooled embeddings).
 *
 * Output row of example b (width `dim + count (count - 1) / 2`): the bottom output `v0` copied,
 * then `dot(v_i, v_j)` for i = 1 .. count-1 and j = 0 .. i-1 in that order (DLRM's
 * `li, lj = [i for i in range(n) for j in range(i)], [j for i in range(n) for j in range(i)]`).
 */
export function interactionWidth(count: number, dim: number): number {
  return dim + (count * (count - 1)) / 2;
}

/**
 * Forward: writes `batch x interactionWidth(vectors.length, dim)` values into `out`. Each dot is
 * accumulated in float32 in ascending element order. `vectors[v]` is `batch x dim`, row-major.
 */
export function interactionForward(
  vectors: readonly Float32Array[],
  batch: number,
  dim: number,
  out: Float32Array,
): void {
  const count = vectors.length;
  const width = interactionWidth(count, dim);
  const v0 = vectors[0]!;
  for (let b = 0; b < batch; b++) {
    const o = b * width;
    const r = b * dim;
    for (let c = 0; c < dim; c++) out[o + c] = v0[r + c]!;
    let p = o + dim;
    for (let i = 1; i < count; i++) {
      const vi = vectors[i]!;
      for (let j = 0; j < i; j++) {
        const vj = vectors[j]!;
        let acc = 0;
        for (let c = 0; c < dim; c++) acc = Math.fround(acc + Math.fround(vi[r + c]! * vj[r + c]!));
        out[p++] = acc;
      }
    }
  }
}

/**
 * Backward: given d loss / d output (`batch x width`), writes d loss / d v into `grads[v]`
 * (`batch x dim` each, overwritten): `grads[0]` starts from the copied slot, and each pair (i, j)
 * with upstream g adds `g * v_j` to `grads[i]` and `g * v_i` to `grads[j]`.
 */
export function interactionBackward(
  vectors: readonly Float32Array[],
  gradOut: Float32Array,
  batch: number,
  dim: number,
  grads: readonly Float32Array[],
): void {
  const count = vectors.length;
  const width = interactionWidth(count, dim);
  for (let v = 0; v < count; v++) grads[v]!.fill(0, 0, batch * dim);
  const g0 = grads[0]!;
  for (let b = 0; b < batch; b++) {
    const o = b * width;
    const r = b * dim;
    for (let c = 0; c < dim; c++) g0[r + c] = gradOut[o + c]!;
    let p = o + dim;
    for (let i = 1; i < count; i++) {
      const vi = vectors[i]!;
      const gi = grads[i]!;
      for (let j = 0; j < i; j++) {
        const g = gradOut[p++]!;
        if (g === 0) continue;
        const vj = vectors[j]!;
        const gj = grads[j]!;
        for (let c = 0; c < dim; c++) {
          gi[r + c]! += g * vj[r + c]!;
          gj[r + c]! += g * vi[r + c]!;
        }
      }
    }
  }
}
