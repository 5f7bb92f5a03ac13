import { type BagUpdate, nonFiniteRowGradient } from '@halfstep/backend';
import type { StagedUpdate } from './batch.js';
import type { Kernels } from './kernels.js';
import type { Scratch } from './scratch.js';
import { TABLE_SORT } from './scratch-slots.js';

/** A batch's gradient summed per distinct row, in linear memory (byte addresses). */
export interface AggregatedRows {
  /** Distinct rows, ascending (int32); the first `count` are valid. */
  readonly rows: number;
  /** Their summed gradients, count x dim float32. */
  readonly grads: number;
  /** One byte per row: 1 when its summed gradient is not finite ('skip-rows'). */
  readonly bad: number;
  readonly count: number;
  readonly badCount: number;
}

/**
 * Sums the staged gradient per distinct row in WASM (backend-js' `aggregate`: same order, same
 * float32 sums), sorting in the table's scratch slots from `slot`, into the block that
 * `output(bytes)` returns (the rows, gradients and flags share it, so that a hogwild job owns one
 * block per table).
 * @throws BadInputError when a row's sum overflows under the 'error' policy.
 */
export function aggregateRows(
  k: Kernels,
  scratch: Scratch,
  u: BagUpdate,
  s: StagedUpdate,
  slot: number,
  output: (bytes: number) => number,
): AggregatedRows {
  const dim = u.table.dim;
  const n = s.n;
  const keys = scratch.get(slot + TABLE_SORT, n * 8);
  const tmp = scratch.get(slot + TABLE_SORT + 1, n * 8);
  const bagOf = scratch.get(slot + TABLE_SORT + 2, n * 4);
  // n int32 rows, n x dim float32 gradients, n flag bytes.
  const rows = output(n * 4 * (1 + dim) + n);
  const grads = rows + n * 4;
  const bad = grads + n * dim * 4;
  const count = k.exports.aggregate(
    s.indices,
    n,
    s.offsets,
    s.bags,
    s.grad,
    dim,
    s.psw,
    s.psw === 0 ? 0 : 1,
    u.pooling === 'mean' ? 1 : 0,
    keys,
    tmp,
    bagOf,
    rows,
    grads,
    bad,
  );
  const badCount = k.exports.aggregateBadCount();
  if (badCount > 0 && (u.nonFinite ?? 'error') === 'error') {
    throw nonFiniteRowGradient(u.table.name, k.exports.aggregateFirstBadRow());
  }
  return { rows, grads, bad, count, badCount };
}

/**
 * Moves the rows flagged bad out of `agg` (in place, keeping the order) and returns how many
 * remain. Rare: only 'skip-rows' with non-finite sums has any.
 */
export function dropSkippedRows(k: Kernels, agg: AggregatedRows, dim: number): number {
  const good = agg.count - agg.badCount;
  if (agg.badCount === 0) return good;
  const rows = k.i32();
  const grads = k.f32();
  const flags = k.u8();
  const r0 = agg.rows >>> 2;
  const g0 = agg.grads >>> 2;
  for (let u = 0, g = 0; u < agg.count; u++) {
    if (flags[agg.bad + u] !== 0) continue;
    rows[r0 + g] = rows[r0 + u]!;
    grads.copyWithin(g0 + g * dim, g0 + u * dim, g0 + (u + 1) * dim);
    g++;
  }
  return good;
}
