import type { BagInput, Pooling } from '@halfstep/backend';
import type { Kernels } from './kernels.js';
import type { Scratch } from './scratch.js';

/** A batch of lookups copied into linear memory (byte addresses). */
export interface StagedBatch {
  readonly indices: number;
  /** Number of indices. */
  readonly n: number;
  readonly offsets: number;
  /** Number of bags. */
  readonly bags: number;
  /** Address of the per-sample weights; 0 without them. */
  readonly psw: number;
}

/**
 * Copies a batch into scratch slots `slot`, `slot + 1`, `slot + 2` (indices, offsets, weights)
 * and checks it in WASM (`checkBagInput`'s conditions), returning the addresses, or null when a
 * check fails: the caller then runs `checkBagInput` itself, which throws the exact error. (The
 * checks run in WASM on the copy the kernels read, which is faster than JS' loop over indices.)
 */
export function stageBatch(
  k: Kernels,
  scratch: Scratch,
  rows: number,
  input: BagInput,
  pooling: Pooling,
  slot: number,
): StagedBatch | null {
  const { indices, offsets, perSampleWeights } = input;
  if (!(indices instanceof Int32Array) || !(offsets instanceof Int32Array)) return null;
  const n = indices.length;
  if (
    perSampleWeights !== undefined &&
    (pooling !== 'sum' ||
      !(perSampleWeights instanceof Float32Array) ||
      perSampleWeights.length !== n)
  ) {
    return null;
  }
  const ip = scratch.get(slot, n * 4);
  const op = scratch.get(slot + 1, offsets.length * 4);
  const pp = perSampleWeights === undefined ? 0 : scratch.get(slot + 2, n * 4);
  const i32 = k.i32();
  i32.set(indices, ip >>> 2);
  i32.set(offsets, op >>> 2);
  if (perSampleWeights !== undefined) k.f32().set(perSampleWeights, pp >>> 2);
  if (!k.exports.checkBag(ip, n, op, offsets.length, rows)) return null;
  if (perSampleWeights !== undefined && !k.exports.allFinite(pp, n)) return null;
  return { indices: ip, n, offsets: op, bags: offsets.length, psw: pp };
}

/** A staged batch of a fused backward and its gradient (bags x dim float32 at `grad`). */
export interface StagedUpdate extends StagedBatch {
  readonly grad: number;
}
