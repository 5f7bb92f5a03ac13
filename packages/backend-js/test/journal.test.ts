import type { BagUpdate, StorageName, TableHandle, Tensor } from '@halfstep/backend';
import { sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import { JsBackend } from '../src/backend.js';

const f32 = (...v: number[]) => Float32Array.from(v);
const i32 = (...v: number[]) => Int32Array.from(v);
const spec = (o: { rows: number; dim: number; storage?: StorageName }) => ({
  name: `j${o.dim}`,
  index: 0,
  storage: 'float32' as StorageName,
  rounding: 'stochastic' as const,
  optimizer: sgd({ lr: 0.1 }),
  seed: 1n,
  ...o,
});
const update = (
  table: TableHandle,
  indices: Int32Array,
  offsets: Int32Array,
  gradOutput: Tensor,
  extra: Partial<BagUpdate>,
): BagUpdate => ({
  table,
  input: { indices, offsets },
  pooling: 'sum',
  gradOutput,
  step: 0,
  ...extra,
});

describe('the undo journal of the fused update', () => {
  it('stays bounded when one backend alternates tables of different storage and width', async () => {
    const backend = new JsBackend();
    const wide = backend.createTable(spec({ rows: 4, dim: 8 }));
    const half = backend.createTable(spec({ rows: 4, dim: 2, storage: 'float16' }));
    const g8 = backend.tensor(new Float32Array(8).fill(0.5));
    const g2 = backend.tensor(f32(0.5, 0.5));
    // Each switch re-creates the journal's entry; a size that doubled at every switch would
    // exceed the largest typed array well before 64 of them.
    for (let k = 0; k < 64; k++) {
      const table = k % 2 === 0 ? wide : half;
      const result = await backend.embeddingBagBackward([
        update(table, i32(k % 4), i32(0), k % 2 === 0 ? g8 : g2, { step: k }),
      ]);
      expect(result).toMatchObject([{ updatedRows: 1, skippedRows: 0 }]);
    }
    backend.dispose();
  });
});
