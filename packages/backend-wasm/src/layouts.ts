// The parameter blocks that the TypeScript side writes and the AssemblyScript kernels read,
// declared once. The kernels take their word numbers and code tables from
// assembly/layouts.generated.ts, which scripts/generate-layouts.ts writes from this module
// (`pnpm build` runs it; test/layouts.test.ts fails when the committed file is stale).
import { defineParamLayout, type StorageName } from '@halfstep/backend';
import { encoderConstants, type FloatFormat } from '@halfstep/codecs';

/**
 * The parameter block of assembly/embedding.ts' `applyUpdate` (prefix `P`): the table, the rows
 * to update and their random-bit domains, then the optimizer's float32 constants
 * (`@halfstep/optim`'s `kernelConstants`) and the formats' largest finite values.
 */
export const UPDATE_LAYOUT = defineParamLayout('applyUpdate', [
  /** The optimizer's `OPTIMIZER_CODES` number. */
  ['kind', 'i32'],
  ['dim', 'i32'],
  ['stateSize', 'i32'],
  /** The weights' and the state's `STORAGE_KINDS` numbers. */
  ['wKind', 'i32'],
  ['sKind', 'i32'],
  /** 1: the weights are stored with stochastic rounding. */
  ['stochastic', 'i32'],
  /** Addresses of the weights, the state and the Philox key schedule. */
  ['weights', 'u32'],
  ['state', 'u32'],
  ['schedule', 'u32'],
  /** The optimizer step, mod 2^32. */
  ['step', 'u32'],
  /** The random-bit domains of the weights and the state. */
  ['tdWeights', 'u32'],
  ['tdState', 'u32'],
  /** Addresses of the rows, of their summed gradients, and their number. */
  ['rows', 'u32'],
  ['grads', 'u32'],
  ['count', 'i32'],
  /** Addresses of the formats' encoder blocks (`ENCODER_LAYOUT`) and decode tables. */
  ['wEncoder', 'u32'],
  ['sEncoder', 'u32'],
  ['wLut', 'u32'],
  ['sLut', 'u32'],
  /** Random bits per element of the weights and of the state. */
  ['wBits', 'i32'],
  ['sBits', 'i32'],
  /** Address of the update's work area (`updateScratchBytes`). */
  ['scratch', 'u32'],
  ['lr', 'f32'],
  ['l2', 'f32'],
  ['shrink', 'f32'],
  ['maxNorm', 'f32'],
  ['eps', 'f32'],
  ['mu', 'f32'],
  ['b1', 'f32'],
  ['b2', 'f32'],
  ['a1', 'f32'],
  ['a2', 'f32'],
  ['bc1', 'f32'],
  ['bc2', 'f32'],
  /** The largest finite values of the weights' and the state's formats (0 for float32). */
  ['wMax', 'f32'],
  ['sMax', 'f32'],
  /**
   * 1 (policy 'error'): stop at the first row whose new weights or state are not finite; 0
   * ('skip-rows'): leave such rows unchanged and go on.
   */
  ['stop', 'i32'],
  /**
   * Address of the undo journal, 0 for none: row u's old weight codes at `journal + u *
   * journalStride`, its old state codes `journalState` bytes further (update-params.ts'
   * `journalLayout`), kept so that a refused call can be rolled back.
   */
  ['journal', 'u32'],
  ['journalStride', 'u32'],
  ['journalState', 'u32'],
  /**
   * Written by the kernel: the rows handled, `count` unless it stopped at a row with a
   * non-finite result (that row's index; the rows before it are stored and journaled).
   */
  ['done', 'i32'],
  /** Written by the kernel: rows left unchanged for a non-finite result ('skip-rows'). */
  ['skipped', 'i32'],
]);

/**
 * A format's encoder constants (prefix `E`), as codecs' `encoderFor` computes them: the block
 * assembly/codec.ts' `loadEncoder` reads, and the arguments of its `setEncoder`, in this order.
 */
export const ENCODER_LAYOUT = defineParamLayout('encoder', [
  ['normalShift', 'u32'],
  ['rebias', 'u32'],
  ['minNormalBits', 'u32'],
  ['subnormalShiftBase', 'i32'],
  ['maxFiniteCode', 'u32'],
  ['overflowCode', 'u32'],
  ['signShift', 'u32'],
  ['signMask', 'u32'],
  ['nanCode', 'u32'],
  ['keepsPayload', 'u32'],
]);

/** The values of an encoder block. */
export type EncoderValues = Readonly<Record<(typeof ENCODER_LAYOUT.names)[number], number>>;

/**
 * The encoder constants of `format` (codecs' `encoderFor`): overflow to infinity, or to the
 * largest finite code when `saturate`.
 */
export function encoderValues(format: FloatFormat, saturate: boolean): EncoderValues {
  const e = encoderConstants(format, saturate);
  return {
    ...e,
    rebias: e.rebias >>> 0,
    minNormalBits: e.minNormalBits >>> 0,
    keepsPayload: e.keepsPayload ? 1 : 0,
  };
}

/** The kernels' storage kinds: how `loadValue` in assembly/embedding.ts reads an element. */
export const STORAGE_KINDS: Readonly<Record<StorageName, number>> = Object.freeze({
  float32: 0,
  float16: 1,
  bfloat16: 2,
  float8e4m3: 3,
  float8e5m2: 4,
});
