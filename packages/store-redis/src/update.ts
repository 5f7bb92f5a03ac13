import { DOMAIN_STATE, DOMAIN_WEIGHTS, fillRowWords, tableDomain } from '@halfstep/backend';
import type { StoreUpdateResult } from '@halfstep/embedding';
import type { Cluster } from 'ioredis';
import { acknowledgedRows } from './acknowledge.js';
import { blockCallError } from './errors.js';
import { blockKey } from './keys.js';
import { blockLength, rowsByBlock } from './layout.js';
import { UPDATE_FUNCTION } from './lua.js';
import { headerBytes, UPDATE_ARGS, UPDATE_HEADER, updateHeaderValues } from './params.js';
import type { StoreCounters } from './stats.js';
import type { OpenTable } from './table.js';

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
 * Applies one optimizer step to distinct `rows` (checked by the caller) of the open table `t`
 * inside Redis: one update call per block (atomic: no other command runs between reading and
 * writing its rows), pipelined per node, carrying the float32 gradients and the counter-based
 * random words of (seed, step, table, row). An update is never re-sent. With `replicas > 0`,
 * then counts the rows whose master reached that many replicas (`acknowledgedRows`). A row whose
 * new float32 weights or state are not finite is not written (the other rows of its block are)
 * and is reported (`nonFiniteRows`, `firstNonFiniteRow`).
 * @returns how many rows were applied, and acknowledged, and which were left unchanged.
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
  const header = updateHeaderValues(t, step);
  // The raw counter-based words of each row, as many as the header says (Redis derives the
  // thresholds, as fillRowThresholds does).
  const weightWords = header.wRowWords;
  const stateWords = header.sRowWords;
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
      const row = rows[positions[i]!]!;
      inBlock.writeUInt32LE(row - b * layout.blockRows, 4 * i);
      const g = positions[i]! * dim;
      for (let c = 0; c < dim; c++) grads.writeFloatLE(gradients[g + c]!, 4 * (i * dim + c));
      if (weightWords > 0) {
        const out = wth.subarray(i * weightWords, (i + 1) * weightWords);
        fillRowWords(t.schedule, row, step, weightDomain, out, weightWords);
      }
      if (stateWords > 0) {
        const out = sth.subarray(i * stateWords, (i + 1) * stateWords);
        fillRowWords(t.schedule, row, step, stateDomain, out, stateWords);
      }
    }
    const h = headerBytes(UPDATE_HEADER, {
      ...header,
      blockBytes: blockLength(layout, spec.rows, b),
    });
    const wBuf = Buffer.from(wth.buffer, wth.byteOffset, wth.byteLength);
    const sBuf = Buffer.from(sth.buffer, sth.byteOffset, sth.byteLength);
    ctx.counters.calls++;
    ctx.counters.bytesSent += h.length + inBlock.length + grads.length + wBuf.length + sBuf.length;
    const reply = await ctx.cluster.fcall(
      UPDATE_FUNCTION,
      1,
      blockKey(ctx.keyPrefix, spec.name, b),
      ...UPDATE_ARGS.argv({
        header: h,
        rows: inBlock,
        gradients: grads,
        weightWords: wBuf,
        stateWords: sBuf,
      }),
    );
    return blockReply(reply, n, b * layout.blockRows);
  });
  const settled = await Promise.allSettled(sent);
  let updatedRows = 0;
  let nonFiniteRows = 0;
  let firstNonFiniteRow = -1;
  const applied = new Map<number, number>();
  const failedRows: number[] = [];
  let firstError: unknown;
  settled.forEach((s, i) => {
    const [b, positions] = groups[i]!;
    if (s.status === 'fulfilled') {
      updatedRows += s.value.written;
      applied.set(b, s.value.written);
      nonFiniteRows += s.value.skipped.length;
      for (const row of s.value.skipped)
        if (firstNonFiniteRow < 0 || row < firstNonFiniteRow) firstNonFiniteRow = row;
    } else {
      firstError ??= s.reason;
      for (const k of positions) failedRows.push(rows[k]!);
    }
  });
  ctx.counters.rowsUpdated += updatedRows;
  const acknowledged = await acknowledgedRows(ctx, spec.name, applied);
  if (firstError !== undefined) {
    throw blockCallError(spec.name, failedRows, firstError, {
      updatedRows,
      acknowledgedRows: acknowledged,
      nonFiniteRows,
    });
  }
  return { updatedRows, acknowledgedRows: acknowledged, nonFiniteRows, firstNonFiniteRow };
}

/** What one block's update call did. */
interface BlockOutcome {
  /** Rows written. */
  readonly written: number;
  /** Table rows left unchanged because their new weights or state were not finite. */
  readonly skipped: readonly number[];
}

/**
 * The update function's reply `{rows written, in-block row skipped, ...}` for a call on `n` rows
 * of the block whose first row is `first`.
 * @throws Error when the reply has another shape (it then says what it got).
 */
function blockReply(reply: unknown, n: number, first: number): BlockOutcome {
  if (
    Array.isArray(reply) &&
    reply.length >= 1 &&
    reply.every((x) => Number.isInteger(x) && x >= 0) &&
    reply[0] + reply.length - 1 === n
  ) {
    return { written: reply[0], skipped: reply.slice(1).map((r: number) => first + r) };
  }
  throw new Error(
    `the update function's reply ${JSON.stringify(reply)} does not account for the ${n} rows sent`,
  );
}
