import type { Batch } from './batch.js';
import type { CategoricalEncoder } from './categorical.js';
import { denseTransform } from './dense.js';
import type { RawRow } from './raw-row.js';
import { NUM_DENSE, NUM_SPARSE } from './schema.js';

/**
 * Writes `row` as example `i` of `batch`: the label, I1..I13 through {@link denseTransform},
 * C1..C26 through `encoder`.
 */
export function encodeRow(row: RawRow, encoder: CategoricalEncoder, batch: Batch, i: number): void {
  batch.labels[i] = row.label;
  const dense = batch.dense;
  const d0 = i * NUM_DENSE;
  for (let j = 0; j < NUM_DENSE; j++) dense[d0 + j] = denseTransform(row.dense[j]!);
  const sparse = batch.sparse;
  const s0 = i * NUM_SPARSE;
  for (let t = 0; t < NUM_SPARSE; t++) sparse[s0 + t] = encoder.encode(t, row.sparse[t]!);
}
