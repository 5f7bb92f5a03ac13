import {
  DOMAIN_STATE,
  DOMAIN_WEIGHTS,
  fillRowThresholds,
  randomBitsFor,
  tableDomain,
} from '@halfstep/backend';
import type { FloatFormat } from '@halfstep/codecs';
import type { Aggregated } from './aggregate.js';
import { StoreScratch, storeRow } from './store.js';
import type { JsTable } from './table.js';

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
 * Applies the optimizer to every good row of `agg`, in ascending row order. Per row: decode the
 * weights (and the state) to float32, `optimizer.updateRow`, then store with the table's
 * rounding (stochastic: the counter-based thresholds of (seed, step, table, row)). Stores
 * saturate: beyond the format's largest finite value the result is ±maxFinite; NaN stays NaN.
 */
export function applyUpdate(
  t: JsTable,
  agg: Aggregated,
  gradOutput: Float32Array,
  step: number,
  s: UpdateScratch,
): void {
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
  for (let u = 0; u < count; u++) {
    if (bad[u] !== 0) continue;
    const row = rows[u]!;
    const r = row * dim;
    let wArray: Float32Array = values;
    let wo = 0;
    if (format === null) {
      wArray = t.weights as Float32Array;
      wo = r;
    } else {
      const codes = t.weights;
      for (let c = 0; c < dim; c++) values[c] = lut[codes[r + c]!]!;
    }
    let sArray: Float32Array = state;
    let so = 0;
    const rs = row * stateSize;
    if (stateFormat === null) {
      sArray = t.state as Float32Array;
      so = rs;
    } else {
      const codes = t.state;
      for (let c = 0; c < stateSize; c++) state[c] = stateLut[codes[rs + c]!]!;
    }
    const g = direct[u] === 1 ? gradOutput : grads;
    opt.updateRow(wArray, wo, g, offsetOf[u]!, sArray, so, dim, scalars);
    if (format !== null) {
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
      storeRow(format, s.bits, 0, t.weights as Uint16Array, r, dim, th, s.store);
    }
    if (stateFormat !== null && stateSize > 0) {
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
        t.state as Uint16Array,
        rs,
        stateSize,
        thresholds,
        s.store,
      );
    }
  }
}
