import type { BagInput, Pooling } from '@halfstep/backend';
import type { JsTable } from './table.js';

/**
 * Embedding-bag forward, in float32: for bag b and column c, positions i ascending,
 * `acc = acc + v_i` (each add rounded to float32, starting from +0), where v_i is the decoded
 * element, or `fround(perSampleWeights[i] * element)`; mean pooling then divides by the bag's
 * size (`fround(acc / size)`); an empty bag gives zeros. Writes the first bags x dim values of
 * `out` (the caller checked its size after `checkBagInput`).
 */
export function embeddingBagForward(
  t: Pick<JsTable, 'weights' | 'format' | 'lut'> & { readonly handle: { readonly dim: number } },
  input: BagInput,
  pooling: Pooling,
  out: Float32Array,
): void {
  const { handle } = t;
  const { indices, offsets, perSampleWeights } = input;
  const dim = handle.dim;
  const bags = offsets.length;
  const n = indices.length;
  out.fill(0, 0, bags * dim);
  for (let b = 0; b < bags; b++) {
    const start = offsets[b]!;
    const end = b + 1 < bags ? offsets[b + 1]! : n;
    const o = b * dim;
    if (t.format === null) {
      sumFloat32(t.weights as Float32Array, indices, perSampleWeights, start, end, dim, out, o);
    } else {
      sumCodes(t.weights as Uint16Array, t.lut, indices, perSampleWeights, start, end, dim, out, o);
    }
    if (pooling === 'mean' && end > start) {
      const size = end - start;
      for (let c = 0; c < dim; c++) out[o + c] = out[o + c]! / size;
    }
  }
}

function sumFloat32(
  w: Float32Array,
  indices: Int32Array,
  weights: Float32Array | undefined,
  start: number,
  end: number,
  dim: number,
  out: Float32Array,
  o: number,
): void {
  for (let i = start; i < end; i++) {
    const r = indices[i]! * dim;
    if (weights === undefined) {
      for (let c = 0; c < dim; c++) out[o + c] = out[o + c]! + w[r + c]!;
    } else {
      const s = weights[i]!;
      for (let c = 0; c < dim; c++) out[o + c] = out[o + c]! + Math.fround(s * w[r + c]!);
    }
  }
}

/** As `sumFloat32`, decoding codes (16- or 8-bit: the loop is the same) through the LUT. */
function sumCodes(
  codes: Uint16Array | Uint8Array,
  lut: Float32Array,
  indices: Int32Array,
  weights: Float32Array | undefined,
  start: number,
  end: number,
  dim: number,
  out: Float32Array,
  o: number,
): void {
  for (let i = start; i < end; i++) {
    const r = indices[i]! * dim;
    if (weights === undefined) {
      for (let c = 0; c < dim; c++) out[o + c] = out[o + c]! + lut[codes[r + c]!]!;
    } else {
      const s = weights[i]!;
      for (let c = 0; c < dim; c++) out[o + c] = out[o + c]! + Math.fround(s * lut[codes[r + c]!]!);
    }
  }
}

const NO_LUT = new Float32Array(0);

/**
 * `embeddingBagForward` over rows given as float32 values: `input.indices` index the rows of
 * `rows` (count x dim, row-major). The same arithmetic, for pooling rows fetched from elsewhere
 * (a table store).
 */
export function poolRows(
  rows: Float32Array,
  dim: number,
  input: BagInput,
  pooling: Pooling,
  out: Float32Array,
): void {
  embeddingBagForward(
    { handle: { dim }, weights: rows, format: null, lut: NO_LUT },
    input,
    pooling,
    out,
  );
}
