import {
  DOMAIN_STATE,
  DOMAIN_WEIGHTS,
  fillRowWords,
  randomBitsFor,
  tableDomain,
} from '@halfstep/backend';
import type { StoreUpdateResult } from '@halfstep/embedding';
import type { Cluster } from 'ioredis';
import { acknowledgedRows } from './acknowledge.js';
import { blockCallError } from './errors.js';
import { blockKey } from './keys.js';
import { blockLength, rowsByBlock } from './layout.js';
import { UPDATE_FUNCTION } from './lua.js';
import type { StoreCounters } from './stats.js';
import type { OpenTable } from './table.js';

/** Byte offset of the block-bytes field in the update header (the 5th uint32). */
const HEADER_BLOCK_BYTES_AT = 16;

/** What the update path needs from its store. */
export interface UpdateContext {
  /** The cluster client. */
  readonly cluster: Cluster;
  /** The store's key prefix. */
  readonly keyPrefix: string;
  /** Replicas that must acknowledge an update (`WAIT`); 0 counts applied as acknowledged. */
  readonly replicas: number;
  /** How long `WAIT` waits for the replicas, in ms. */
  readonly waitTimeoutMs: number;
  /** The store's counters (calls, bytes, rows updated are added). */
  readonly counters: StoreCounters;
}

/**
 * The update function's header for table `t` at optimizer step `step` (see the Lua `header`):
 * 17 little-endian uint32 (optimizer, shapes, the weights' and the state's code formats, each
 * as its width in bits (0 for float32), mantissa bits, bias, largest finite code and NaN code;
 * rounding, rows; the block bytes left 0, set per block) then 11 float32 (the optimizer's
 * options and step scalars).
 */
export function updateHeader(t: OpenTable, step: number): Buffer {
  const { spec, layout } = t;
  const o = spec.optimizer.options as Record<string, number>;
  const header = Buffer.alloc(17 * 4 + 11 * 4);
  const w = t.weightFormat;
  const s = t.stateFormat;
  const ints = [
    t.optimizerCode,
    spec.dim,
    layout.stateSize,
    layout.recordBytes,
    0, // block bytes: set per block
    w === null ? 0 : w.bits,
    w?.mantissaBits ?? 0,
    w?.bias ?? 0,
    w?.maxFiniteCode ?? 0,
    w?.nanCode ?? 0,
    s === null ? 0 : s.bits,
    s?.mantissaBits ?? 0,
    s?.bias ?? 0,
    s?.maxFiniteCode ?? 0,
    s?.nanCode ?? 0,
    w !== null && spec.rounding === 'stochastic' ? 1 : 0,
    spec.rows,
  ];
  for (let i = 0; i < ints.length; i++) header.writeUInt32LE(ints[i], 4 * i);
  const scalars = new Float32Array(Math.max(2, spec.optimizer.scalarCount));
  spec.optimizer.stepScalars(step, scalars);
  const b1 = spec.optimizer.kind === 'momentum' ? o.momentum : (o.beta1 ?? 0);
  const b2 = o.beta2 ?? 0;
  const floats = [
    o.lr,
    o.l2 ?? 0,
    o.decoupled ?? 0,
    o.maxNorm ?? 0,
    o.eps ?? 0,
    b1,
    b2,
    Math.fround(1 - b1),
    Math.fround(1 - b2),
    scalars[0],
    scalars[1],
  ];
  for (let i = 0; i < floats.length; i++) header.writeFloatLE(floats[i], 68 + 4 * i);
  return header;
}

/**
 * Applies one optimizer step to distinct `rows` (checked by the caller) of the open table `t`
 * inside Redis: one update call per block (atomic: no other command runs between reading and
 * writing its rows), pipelined per node, carrying the float32 gradients and the counter-based
 * random words of (seed, step, table, row). An update is never re-sent. With `replicas > 0`,
 * then counts the rows whose master reached that many replicas (`acknowledgedRows`).
 * @returns how many rows were applied, and acknowledged.
 * @throws RedisStoreError naming the table and the rows whose update failed or whose outcome is
 *   unknown, with the counts of the rows that were applied.
 */
export async function applyBlockUpdates(
  ctx: UpdateContext,
  t: OpenTable,
  rows: Int32Array,
  gradients: Float32Array,
  step: number,
): Promise<StoreUpdateResult> {
  const { spec, layout } = t;
  const { dim } = spec;
  const ss = layout.stateSize;
  const header = updateHeader(t, step);
  const weightStochastic = t.weightFormat !== null && spec.rounding === 'stochastic';
  const weightBits = t.weightFormat === null ? 0 : randomBitsFor(t.weightFormat.mantissaBits);
  const stateBits = t.stateFormat === null ? 0 : randomBitsFor(t.stateFormat.mantissaBits);
  // The raw counter-based words of each row (Redis derives the thresholds, as
  // fillRowThresholds does): ceil(count / floor(32 / bits)) words per row.
  const weightWords = weightStochastic ? Math.ceil(dim / Math.floor(32 / weightBits)) : 0;
  const stateWords =
    t.stateFormat !== null && ss > 0 ? Math.ceil(ss / Math.floor(32 / stateBits)) : 0;
  const weightDomain = tableDomain(spec.index, DOMAIN_WEIGHTS);
  const stateDomain = tableDomain(spec.index, DOMAIN_STATE);
  const groups = [...rowsByBlock(layout, rows)];
  const sent = groups.map(async ([b, positions]) => {
    const n = positions.length;
    const inBlock = Buffer.alloc(4 * n);
    const grads = Buffer.alloc(4 * n * dim);
    const wth = new Uint32Array(n * weightWords);
    const sth = new Uint32Array(n * stateWords);
    for (let i = 0; i < n; i++) {
      const row = rows[positions[i]];
      inBlock.writeUInt32LE(row - b * layout.blockRows, 4 * i);
      const g = positions[i] * dim;
      for (let c = 0; c < dim; c++) grads.writeFloatLE(gradients[g + c], 4 * (i * dim + c));
      if (weightWords > 0) {
        const out = wth.subarray(i * weightWords, (i + 1) * weightWords);
        fillRowWords(t.schedule, row, step, weightDomain, out, weightWords);
      }
      if (stateWords > 0) {
        const out = sth.subarray(i * stateWords, (i + 1) * stateWords);
        fillRowWords(t.schedule, row, step, stateDomain, out, stateWords);
      }
    }
    const h = Buffer.from(header);
    h.writeUInt32LE(blockLength(layout, spec.rows, b), HEADER_BLOCK_BYTES_AT);
    const wBuf = Buffer.from(wth.buffer, wth.byteOffset, wth.byteLength);
    const sBuf = Buffer.from(sth.buffer, sth.byteOffset, sth.byteLength);
    ctx.counters.calls++;
    ctx.counters.bytesSent += h.length + inBlock.length + grads.length + wBuf.length + sBuf.length;
    await ctx.cluster.fcall(
      UPDATE_FUNCTION,
      1,
      blockKey(ctx.keyPrefix, spec.name, b),
      h,
      inBlock,
      grads,
      wBuf,
      sBuf,
    );
    return b;
  });
  const settled = await Promise.allSettled(sent);
  let updatedRows = 0;
  const appliedBlocks: number[] = [];
  const failedRows: number[] = [];
  let firstError: unknown;
  settled.forEach((s, i) => {
    const [b, positions] = groups[i];
    if (s.status === 'fulfilled') {
      updatedRows += positions.length;
      appliedBlocks.push(b);
    } else {
      firstError ??= s.reason;
      for (const k of positions) failedRows.push(rows[k]);
    }
  });
  ctx.counters.rowsUpdated += updatedRows;
  const acknowledged = await acknowledgedRows(ctx, spec.name, groups, appliedBlocks);
  if (firstError !== undefined) {
    throw blockCallError(spec.name, failedRows, firstError, {
      updatedRows,
      acknowledgedRows: acknowledged,
    });
  }
  return { updatedRows, acknowledgedRows: acknowledged };
}
