import {
  DOMAIN_STATE,
  DOMAIN_WEIGHTS,
  fillRowThresholds,
  firstNonFinite,
  type NonFinitePolicy,
  randomBitsFor,
  tableDomain,
} from '@halfstep/backend';
import type { FloatFormat } from '@halfstep/codecs';
import type { Aggregated } from './aggregate.js';
import { StoreScratch, storeRow } from './store.js';
import type { JsTable, Store } from './table.js';

/** Reusable buffers of the fused update, sized for the widest row seen. */
export class UpdateScratch {
  private width = -1;
  values = new Float32Array(0);
  bits = new Uint32Array(0);
  state = new Float32Array(0);
  stateBits = new Uint32Array(0);
  thresholds = new Uint32Array(0);
  words = new Uint32Array(0);
  scalars = new Float32Array(8);
  readonly store = new StoreScratch();

  ensure(dim: number, stateSize: number): void {
    const width = Math.max(dim, stateSize);
    if (width <= this.width) return;
    this.width = width;
    this.values = new Float32Array(width);
    this.bits = new Uint32Array(this.values.buffer);
    this.state = new Float32Array(width);
    this.stateBits = new Uint32Array(this.state.buffer);
    this.thresholds = new Uint32Array(width);
    this.words = new Uint32Array(width + 4);
  }
}

/**
 * The old codes of the rows a backward call has written, so that a call that fails part-way
 * (a non-finite result under the 'error' policy) can restore every table it touched.
 */
export class UndoJournal {
  private readonly entries: {
    t: JsTable;
    rows: Int32Array;
    weights: Store;
    state: Store;
    count: number;
  }[] = [];
  private used = 0;

  /** Starts recording a table that will write at most `maxRows` rows; returns its entry. */
  begin(t: JsTable, maxRows: number): JournalEntry {
    let e = this.entries[this.used];
    const dim = t.handle.dim;
    if (
      !e ||
      e.rows.length < maxRows ||
      e.weights.constructor !== t.weights.constructor ||
      e.weights.length < maxRows * dim ||
      e.state.constructor !== t.state.constructor ||
      e.state.length < maxRows * t.stateSize
    ) {
      // Grow geometrically in rows; a change of element type or width alone keeps the count.
      const had = e?.rows.length ?? 0;
      const size = had >= maxRows ? had : Math.max(maxRows, 2 * had);
      e = {
        t,
        rows: new Int32Array(size),
        weights: like(t.weights, size * dim),
        state: like(t.state, size * t.stateSize),
        count: 0,
      };
      this.entries[this.used] = e;
    }
    e.t = t;
    e.count = 0;
    this.used++;
    return e;
  }

  /** Writes back every recorded row, most recent table first, and forgets them. */
  restore(): void {
    for (let k = this.used - 1; k >= 0; k--) {
      const { t, rows, weights, state, count } = this.entries[k]!;
      const dim = t.handle.dim;
      const stateSize = t.stateSize;
      for (let u = 0; u < count; u++) {
        const row = rows[u]!;
        t.weights.set(weights.subarray(u * dim, (u + 1) * dim), row * dim);
        t.state.set(state.subarray(u * stateSize, (u + 1) * stateSize), row * stateSize);
      }
    }
    this.clear();
  }

  /** Forgets every recorded row (the call succeeded). */
  clear(): void {
    this.used = 0;
  }
}

/** One table's part of an `UndoJournal`: row u's old codes at u x width. */
export interface JournalEntry {
  readonly rows: Int32Array;
  readonly weights: Store;
  readonly state: Store;
  count: number;
}

function like(store: Store, length: number): Store {
  return store instanceof Float32Array
    ? new Float32Array(length)
    : store instanceof Uint16Array
      ? new Uint16Array(length)
      : new Uint8Array(length);
}

/**
 * Applies the optimizer to every good row of `agg`, in ascending row order. Per row: decode the
 * weights (and the state) to float32, `optimizer.updateRow`, then, when every new weight and
 * state value is finite, store with the table's rounding (stochastic: the counter-based
 * thresholds of (seed, step, table, row)). Stores saturate: beyond the format's largest finite
 * value the result is ±maxFinite. A row with a non-finite result is never written: under the
 * 'error' policy the update stops there and returns that row; under 'skip-rows' it is skipped.
 * With a `journal`, every row written is recorded first, for the caller to restore (a call
 * refused by any of its tables restores all of them).
 * @returns the first row with a non-finite result under 'error', else -1; and the number of
 *   rows skipped for a non-finite result.
 */
export function applyUpdate(
  t: JsTable,
  agg: Aggregated,
  gradOutput: Float32Array,
  step: number,
  s: UpdateScratch,
  policy: NonFinitePolicy,
  journal: JournalEntry | null,
): { badRow: number; skipped: number } {
  const h = t.handle;
  const dim = h.dim;
  const opt = h.optimizer;
  const stateSize = t.stateSize;
  s.ensure(dim, stateSize);
  if (s.scalars.length < opt.scalarCount) s.scalars = new Float32Array(opt.scalarCount);
  opt.stepScalars(step, s.scalars);
  const { rows, grads, bad, direct, offsetOf, count } = agg;
  const format = t.format;
  const stateFormat = t.stateFormat;
  const weightStochastic = format !== null && h.rounding === 'stochastic';
  const weightBits = format === null ? 0 : randomBitsFor(format.mantissaBits);
  const stateBits = stateFormat === null ? 0 : randomBitsFor(stateFormat.mantissaBits);
  const weightDomain = tableDomain(h.index, DOMAIN_WEIGHTS);
  const stateDomain = tableDomain(h.index, DOMAIN_STATE);
  const { values, state, scalars, thresholds, words } = s;
  const lut = t.lut;
  const stateLut = t.stateLut;
  const weights = t.weights;
  const stored = t.state;
  let skipped = 0;
  for (let u = 0; u < count; u++) {
    if (bad[u] !== 0) continue;
    const row = rows[u]!;
    const r = row * dim;
    const rs = row * stateSize;
    // Decode into scratch (recording the old codes when journaling); the table is written only
    // once the result is known to be finite.
    const jw = journal === null ? 0 : journal.count * dim;
    const js = journal === null ? 0 : journal.count * stateSize;
    if (format === null) {
      for (let c = 0; c < dim; c++) values[c] = weights[r + c]!;
    } else {
      for (let c = 0; c < dim; c++) values[c] = lut[weights[r + c]!]!;
    }
    if (stateFormat === null) {
      for (let c = 0; c < stateSize; c++) state[c] = stored[rs + c]!;
    } else {
      for (let c = 0; c < stateSize; c++) state[c] = stateLut[stored[rs + c]!]!;
    }
    const g = direct[u] === 1 ? gradOutput : grads;
    opt.updateRow(values, 0, g, offsetOf[u]!, state, 0, dim, scalars);
    if (firstNonFinite(values, dim) >= 0 || firstNonFinite(state, stateSize) >= 0) {
      if (policy === 'error') return { badRow: row, skipped };
      skipped++;
      continue;
    }
    if (journal !== null) {
      journal.rows[journal.count++] = row;
      for (let c = 0; c < dim; c++) journal.weights[jw + c] = weights[r + c]!;
      for (let c = 0; c < stateSize; c++) journal.state[js + c] = stored[rs + c]!;
    }
    if (format === null) {
      (weights as Float32Array).set(values.subarray(0, dim), r);
    } else {
      let th: Uint32Array | null = null;
      if (weightStochastic) {
        fillRowThresholds(
          t.schedule,
          step,
          weightDomain,
          row,
          weightBits,
          dim,
          thresholds,
          0,
          words,
        );
        th = thresholds;
      }
      storeRow(format, s.bits, 0, weights as Uint16Array, r, dim, th, s.store);
    }
    if (stateSize === 0) continue;
    if (stateFormat === null) {
      (stored as Float32Array).set(state.subarray(0, stateSize), rs);
    } else {
      fillRowThresholds(
        t.schedule,
        step,
        stateDomain,
        row,
        stateBits,
        stateSize,
        thresholds,
        0,
        words,
      );
      storeRow(
        stateFormat as FloatFormat,
        s.stateBits,
        0,
        stored as Uint16Array,
        rs,
        stateSize,
        thresholds,
        s.store,
      );
    }
  }
  return { badRow: -1, skipped };
}
