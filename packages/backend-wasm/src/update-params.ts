import { bytesPerElement } from '@halfstep/backend';
import { kernelConstants, OPTIMIZER_CODES } from '@halfstep/optim';
import type { Kernels } from './kernels.js';
import { STORAGE_KINDS, UPDATE_LAYOUT } from './layouts.js';
import type { WasmTable } from './table.js';

/** Bytes of the parameter block of the `applyUpdate` kernel (`UPDATE_LAYOUT`, 4 bytes a word). */
export const UPDATE_PARAMS_BYTES = UPDATE_LAYOUT.words * 4;

/**
 * Bytes of the fused update's work area for rows of `width` values (assembly/embedding.ts'
 * applyUpdate): the weight row, the state row and the random words (width + 16 words: Philox
 * writes whole groups of 16), then the thresholds, which the register-resident SGD path also
 * uses to spill 16 words of one 8-element chunk: at least 16 words, whatever the width.
 */
export function updateScratchBytes(width: number): number {
  return (3 * width + 16 + Math.max(width, 16)) * 4;
}

/** Where an update keeps a row's old codes in its undo journal: see {@link journalLayout}. */
export interface JournalLayout {
  /** Bytes from one row's entry to the next. */
  readonly stride: number;
  /** Offset of the old state codes within an entry (the old weight codes are at 0). */
  readonly state: number;
}

/**
 * The layout of a table's undo journal (the kernel reads it from the parameter block): row u's
 * old weight codes, then its old state codes, each part padded to 16 bytes so that every copy
 * runs in whole aligned vectors. (Entries written over the rows' consumed gradients, in cache,
 * measured no faster, and slower for 16-bit rows of 8 or 16 elements.)
 */
export function journalLayout(t: WasmTable): JournalLayout {
  const weightBytes = t.handle.dim * bytesPerElement(t.handle.storage);
  const stateBytes = t.stateSize * bytesPerElement(t.handle.optimizer.stateStorage);
  const state = Math.ceil(weightBytes / 16) * 16;
  return { stride: state + Math.ceil(stateBytes / 16) * 16, state };
}

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
  /** Policy 'error': stop at the first row with a non-finite result (else skip such rows). */
  readonly stop: boolean;
  /** Address of the undo journal, 0 for none, and its layout. */
  readonly journal: number;
  readonly journalLayout: JournalLayout;
}

/**
 * Writes the parameter block of assembly/embedding.ts' `applyUpdate` (`UPDATE_LAYOUT`) at
 * `address`. The optimizer's float32 constants at `call.step` are @halfstep/optim's
 * `kernelConstants` (decoupled decay's factor lr * rate rounded once, Adam's bias corrections).
 * @throws TypeError for an optimizer kind the kernel does not know.
 */
export function writeUpdateParams(k: Kernels, address: number, call: UpdateCall): void {
  const t = call.table;
  const h = t.handle;
  const opt = h.optimizer;
  const kind = (OPTIMIZER_CODES as Readonly<Record<string, number>>)[opt.kind];
  if (kind === undefined) throw new TypeError(`optimizer kind "${opt.kind}" has no WASM kernel`);
  const c = kernelConstants(opt, call.step);
  UPDATE_LAYOUT.write(k.u32(), address >>> 2, {
    kind,
    dim: h.dim,
    stateSize: t.stateSize,
    wKind: STORAGE_KINDS[h.storage],
    sKind: t.stateFormat === null ? 0 : STORAGE_KINDS[t.stateFormat.name],
    stochastic: h.rounding === 'stochastic' ? 1 : 0,
    weights: t.weights,
    state: t.state,
    schedule: t.schedule,
    step: call.step % 2 ** 32,
    tdWeights: call.tdWeights,
    tdState: call.tdState,
    rows: call.rows,
    grads: call.grads,
    count: call.count,
    wEncoder: call.weightEncoder,
    sEncoder: call.stateEncoder,
    wLut: call.weightLut,
    sLut: call.stateLut,
    wBits: call.weightBits,
    sBits: call.stateBits,
    scratch: call.scratch,
    lr: c.lr,
    l2: c.l2,
    shrink: c.shrink,
    maxNorm: c.maxNorm,
    eps: c.eps,
    mu: c.momentum,
    b1: c.beta1,
    b2: c.beta2,
    a1: c.oneMinusBeta1,
    a2: c.oneMinusBeta2,
    bc1: c.biasCorrection1,
    bc2: c.biasCorrection2,
    wMax: t.format === null ? 0 : t.format.maxFinite,
    sMax: t.stateFormat === null ? 0 : t.stateFormat.maxFinite,
    stop: call.stop ? 1 : 0,
    journal: call.journal,
    journalStride: call.journalLayout.stride,
    journalState: call.journalLayout.state,
    done: 0,
    skipped: 0,
  });
}
