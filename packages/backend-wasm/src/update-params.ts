import type { Kernels } from './kernels.js';
import { STORAGE_KINDS, type WasmTable } from './table.js';

/** Bytes of the parameter block of the `applyUpdate` kernel (slots of 4 bytes). */
export const UPDATE_PARAMS_BYTES = 256;

// Slots of the parameter block that differ between the threads splitting one table's rows
// (assembly/embedding.ts P_*): the rest of a block is copied from the calling thread's.
/** Slot (int32 index within the block) of the address of the rows to update. */
export const P_ROWS = 12;
/** Slot of the address of their summed gradients. */
export const P_GRADS = 13;
/** Slot of the number of rows. */
export const P_COUNT = 14;
/** Slot of the address of the update's work area. */
export const P_SCRATCH = 21;

/**
 * Bytes of the fused update's work area for rows of `width` values (assembly/embedding.ts'
 * applyUpdate): the weight row, the state row and the random words (width + 16 words: Philox
 * writes whole groups of 16), then the thresholds, which the register-resident SGD path also
 * uses to spill 16 words of one 8-element chunk: at least 16 words, whatever the width.
 */
export function updateScratchBytes(width: number): number {
  return (3 * width + 16 + Math.max(width, 16)) * 4;
}

/** The optimizer kinds the kernel runs, by @halfstep/optim's `kind`. */
export const OPTIMIZER_CODES: Readonly<Record<string, number>> = Object.freeze({
  sgd: 0,
  momentum: 1,
  adagrad: 2,
  'rowwise-adagrad': 3,
  adam: 4,
});

/** What one `applyUpdate` call needs besides the table. */
export interface UpdateCall {
  readonly table: WasmTable;
  readonly step: number;
  readonly rows: number;
  readonly grads: number;
  readonly count: number;
  readonly scratch: number;
  readonly weightEncoder: number;
  readonly stateEncoder: number;
  readonly weightLut: number;
  readonly stateLut: number;
  readonly weightBits: number;
  readonly stateBits: number;
  readonly tdWeights: number;
  readonly tdState: number;
  /** The optimizer's `stepScalars` (Adam: bias corrections). */
  readonly scalars: Float32Array;
}

/**
 * Writes the parameter block of assembly/embedding.ts' `applyUpdate` at `address`: the slot
 * numbers are the P_* constants there. Hyperparameters are read from the optimizer's normalised
 * `options` (already float32); decoupled decay's factor lr * rate is rounded once, as optim does.
 * @throws TypeError for an optimizer kind the kernel does not know.
 */
export function writeUpdateParams(k: Kernels, address: number, call: UpdateCall): void {
  const t = call.table;
  const h = t.handle;
  const opt = h.optimizer;
  const kind = OPTIMIZER_CODES[opt.kind];
  if (kind === undefined) throw new TypeError(`optimizer kind "${opt.kind}" has no WASM kernel`);
  const o = opt.options as Record<string, number>;
  const i32 = k.i32();
  const f32 = k.f32();
  const base = address >>> 2;
  const ints = [
    kind,
    h.dim,
    t.stateSize,
    STORAGE_KINDS[h.storage],
    t.stateFormat === null ? 0 : STORAGE_KINDS[t.stateFormat.name],
    h.rounding === 'stochastic' ? 1 : 0,
    t.weights,
    t.state,
    t.schedule,
    (call.step % 2 ** 32) | 0,
    call.tdWeights | 0,
    call.tdState | 0,
    call.rows,
    call.grads,
    call.count,
    call.weightEncoder,
    call.stateEncoder,
    call.weightLut,
    call.stateLut,
    call.weightBits,
    call.stateBits,
    call.scratch,
  ];
  for (let s = 0; s < ints.length; s++) i32[base + s] = ints[s];
  const b1 = o.beta1 ?? 0;
  const b2 = o.beta2 ?? 0;
  const floats = [
    o.lr,
    o.l2 ?? 0,
    Math.fround(o.lr * (o.decoupled ?? 0)),
    o.maxNorm ?? 0,
    o.eps ?? 0,
    o.momentum ?? 0,
    b1,
    b2,
    Math.fround(1 - b1),
    Math.fround(1 - b2),
    call.scalars[0],
    call.scalars[1],
    t.format === null ? 0 : t.format.maxFinite,
    t.stateFormat === null ? 0 : t.stateFormat.maxFinite,
  ];
  for (let s = 0; s < floats.length; s++) f32[base + 32 + s] = floats[s];
}
