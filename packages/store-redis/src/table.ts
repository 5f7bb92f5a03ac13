import { philoxSchedule, type StorageName, type TableSpec } from '@halfstep/backend';
import { type FloatFormat, formats } from '@halfstep/codecs';
import type { TableLayout } from './layout.js';

/** A table this store has opened: what the read and update paths need to know about it. */
export interface OpenTable {
  /** Its spec (without the initial values, which are only needed to create it). */
  readonly spec: Omit<TableSpec, 'init'>;
  /** Where its rows live, as stored in its description. */
  readonly layout: TableLayout;
  /** The 16- or 8-bit format of its weights, null for float32. */
  readonly weightFormat: FloatFormat | null;
  /** The 16-bit format of its optimizer state, null for float32. */
  readonly stateFormat: FloatFormat | null;
  /** The Philox key schedule of its seed (the counter-based random words). */
  readonly schedule: Int32Array;
}

/** The codecs format of a storage (16 or 8 bits), null for float32. */
export function storageFormat(storage: StorageName): FloatFormat | null {
  return storage === 'float32' ? null : formats[storage];
}

/** The description of an open table with the stored `layout`. */
export function describeOpenTable(spec: TableSpec, layout: TableLayout): OpenTable {
  const { init: _init, ...rest } = spec;
  return {
    spec: rest,
    layout,
    weightFormat: storageFormat(spec.storage),
    stateFormat: storageFormat(spec.optimizer.stateStorage),
    schedule: philoxSchedule(spec.seed),
  };
}
