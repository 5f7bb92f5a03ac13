/**
 * A plain float64 DLRM for tests: same layout as the app's (W stored in x out), written as
 * directly as possible.
 */
export interface ReferenceParams {
  /** Per layer: weight (in x out) and bias. */
  bottom: { w: Float64Array; b: Float64Array; inputs: number; outputs: number }[];
  top: { w: Float64Array; b: Float64Array; inputs: number; outputs: number }[];
  /** Per table: rows x dim. */
  tables: Float64Array[];
  dim: number;
}

function mlp(layers: ReferenceParams['bottom'], x: number[], reluLast: boolean): number[] {
  let a = x;
  layers.forEach((layer, l) => {
    const y: number[] = [];
    for (let o = 0; o < layer.outputs; o++) {
      let s = layer.b[o]!;
      for (let i = 0; i < layer.inputs; i++) s += a[i]! * layer.w[i * layer.outputs + o]!;
      y.push(l < layers.length - 1 || reluLast ? Math.max(0, s) : s);
    }
    a = y;
  });
  return a;
}

/** The logit of one example. */
export function referenceLogit(p: ReferenceParams, dense: number[], sparse: number[]): number {
  const x = mlp(p.bottom, dense, true);
  const vectors = [
    x,
    ...sparse.map((r, t) => Array.from(p.tables[t]!.subarray(r * p.dim, (r + 1) * p.dim))),
  ];
  const z = [...x];
  for (let i = 1; i < vectors.length; i++) {
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let c = 0; c < p.dim; c++) s += vectors[i]![c]! * vectors[j]![c]!;
      z.push(s);
    }
  }
  return mlp(p.top, z, false)[0]!;
}

/** Mean binary cross-entropy with logits over a batch. */
export function referenceLoss(
  p: ReferenceParams,
  dense: Float32Array,
  sparse: Int32Array,
  labels: Float32Array,
): number {
  const n = labels.length;
  const nd = dense.length / n;
  const ns = sparse.length / n;
  let sum = 0;
  for (let b = 0; b < n; b++) {
    const logit = referenceLogit(
      p,
      Array.from(dense.subarray(b * nd, (b + 1) * nd)),
      Array.from(sparse.subarray(b * ns, (b + 1) * ns)),
    );
    sum += Math.max(logit, 0) - logit * labels[b]! + Math.log1p(Math.exp(-Math.abs(logit)));
  }
  return sum / n;
}
