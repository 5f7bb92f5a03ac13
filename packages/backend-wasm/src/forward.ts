import type { Pooling } from '@halfstep/backend';
import type { StagedBatch } from './batch.js';
import type { FormatBlocks } from './format-blocks.js';
import type { Kernels } from './kernels.js';
import type { Scratch } from './scratch.js';
import { S_FORWARD_OUT } from './scratch-slots.js';
import { STORAGE_KINDS, type WasmTable } from './table.js';

/**
 * Embedding-bag forward in WASM (backend-js' arithmetic, bit for bit) of a staged batch, pooled
 * in a scratch block and copied into the first bags x dim values of `out`.
 */
export function embeddingBagForward(
  k: Kernels,
  scratch: Scratch,
  formats: FormatBlocks,
  t: WasmTable,
  batch: StagedBatch,
  pooling: Pooling,
  out: Float32Array,
): void {
  const dim = t.handle.dim;
  const pooled = scratch.get(S_FORWARD_OUT, batch.bags * dim * 4);
  k.exports.embeddingBagForward(
    t.weights,
    STORAGE_KINDS[t.handle.storage],
    formats.decodeTable(t.format),
    dim,
    batch.indices,
    batch.n,
    batch.offsets,
    batch.bags,
    batch.psw,
    batch.psw === 0 ? 0 : 1,
    pooling === 'mean' ? 1 : 0,
    pooled,
  );
  out.set(k.f32().subarray(pooled >>> 2, (pooled >>> 2) + batch.bags * dim));
}
