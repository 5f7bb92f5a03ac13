import { initialRows, initProgressRows, type TableSpec } from '@halfstep/backend';
import { encode } from '@halfstep/codecs';
import { checkTableIdentity, tableIdentity } from '@halfstep/embedding';
import type { Cluster } from 'ioredis';
import { describeConnectionError, scrubbed } from './diagnose.js';
import { isUnreachable, RedisStoreError } from './errors.js';
import { blockKey, checkTableName, metaKey } from './keys.js';
import { type TableLayout, tableLayout } from './layout.js';
import { describeOpenTable, type OpenTable, storageFormat } from './table.js';

/** What a store needs to open tables: its client, key prefix and creation settings. */
export interface OpenContext {
  /** The cluster client. */
  readonly cluster: Cluster;
  /** The store's key prefix. */
  readonly keyPrefix: string;
  /** Payload bytes per block key for tables this store creates. */
  readonly blockBytes: number;
  /** How long to wait for a table another process is creating, in ms. */
  readonly openTimeoutMs: number;
}

/** A table's description in Redis (JSON at its meta key). */
export interface TableMeta {
  /** `tableIdentity` of the spec it was created with. */
  readonly identity: Record<string, string | number>;
  /** Rows per block key. */
  readonly blockRows: number;
  /** Bytes per row record. */
  readonly recordBytes: number;
  /** 'creating' until every block is written. */
  readonly status: 'creating' | 'ready';
}

/**
 * Opens one table: creates it when it does not exist (this process wins a `SET NX` on the
 * table's description, writes every block, then marks it ready; the others wait until it is
 * ready) and checks its stored identity and record size against `spec`.
 * @returns the open table, and whether this call created it.
 * @throws RangeError for a name or storage the store cannot keep (before any Redis call);
 *   TableMismatchError naming the table and field; RedisStoreError when Redis fails.
 */
export async function openTable(
  ctx: OpenContext,
  spec: TableSpec,
): Promise<{ readonly table: OpenTable; readonly created: boolean }> {
  checkTableName(spec.name);
  const layout = tableLayout(spec, ctx.blockBytes);
  const key = metaKey(ctx.keyPrefix, spec.name);
  const fresh: TableMeta = {
    identity: tableIdentity(spec),
    blockRows: layout.blockRows,
    recordBytes: layout.recordBytes,
    status: 'creating',
  };
  let created = false;
  let meta: TableMeta;
  try {
    const won = await ctx.cluster.set(key, JSON.stringify(fresh), 'NX');
    if (won === 'OK') {
      await writeInitialBlocks(ctx, spec, layout);
      meta = { ...fresh, status: 'ready' };
      await ctx.cluster.set(key, JSON.stringify(meta));
      created = true;
    } else {
      meta = await waitUntilReady(ctx, spec.name, key);
    }
  } catch (error) {
    if (error instanceof RedisStoreError) throw error;
    // A NOPERM names the missing permission and the guide's ACL.
    const problem = describeConnectionError(error);
    throw new RedisStoreError(
      spec.name,
      problem?.reason === 'auth' ? 'auth' : isUnreachable(error) ? 'unreachable' : 'failed',
      [],
      `opening the table failed: ${problem?.reason === 'auth' ? problem.text : (error as Error).message}`,
      undefined,
      scrubbed(error),
    );
  }
  checkTableIdentity(spec, meta.identity);
  if (meta.recordBytes !== layout.recordBytes)
    throw new RedisStoreError(
      spec.name,
      'wrong-size',
      [],
      `stored records have ${meta.recordBytes} bytes, expected ${layout.recordBytes}`,
    );
  const stored: TableLayout = {
    ...layout,
    blockRows: meta.blockRows,
    blocks: Math.ceil(spec.rows / meta.blockRows),
  };
  return { table: describeOpenTable(spec, stored), created };
}

/** Polls the description at `key` until its creator marks it ready, for `openTimeoutMs`. */
async function waitUntilReady(ctx: OpenContext, table: string, key: string): Promise<TableMeta> {
  const deadline = Date.now() + ctx.openTimeoutMs;
  for (;;) {
    const text = await ctx.cluster.get(key);
    if (text === null)
      throw new RedisStoreError(
        table,
        'no-table',
        [],
        'the table description vanished while another process was creating it',
      );
    const meta = JSON.parse(text) as TableMeta;
    if (meta.status === 'ready') return meta;
    if (Date.now() > deadline)
      throw new RedisStoreError(
        table,
        'no-table',
        [],
        `another process started creating the table and did not finish within ${ctx.openTimeoutMs} ms (delete ${key} to retry)`,
      );
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One row's initial optimizer state (each slot at its `initial`), encoded in its storage. */
function initialStateBytes(spec: TableSpec, stateSize: number): Uint8Array {
  const stateFormat = storageFormat(spec.optimizer.stateStorage);
  const values = new Float32Array(stateSize);
  let o = 0;
  for (const slot of spec.optimizer.slots) {
    const n = slot.perElement ? spec.dim : 1;
    values.fill(slot.initial, o, o + n);
    o += n;
  }
  return stateFormat === null
    ? new Uint8Array(values.buffer)
    : new Uint8Array(encode(stateFormat, values, { overflow: 'saturate' }).buffer);
}

/**
 * Writes every block of a new table: the initial weights (`initialRows` of the spec's `init`,
 * zeros when absent, stored with nearest-even) and the initial optimizer state, 256 blocks in
 * flight at most. Calls `spec.onProgress` with the rows acknowledged so far, at least
 * `initProgressRows(dim)` apart, and once at the end with every row.
 */
async function writeInitialBlocks(
  ctx: OpenContext,
  spec: TableSpec,
  layout: TableLayout,
): Promise<void> {
  const weightFormat = storageFormat(spec.storage);
  const { recordBytes, weightBytes } = layout;
  const stateBytes = initialStateBytes(spec, layout.stateSize);
  const inFlight: Promise<unknown>[] = [];
  const every = initProgressRows(spec.dim);
  let reported = 0;
  const report = (done: number) => {
    if (spec.onProgress === undefined) return;
    if (done < spec.rows && done - reported < every) return;
    reported = done;
    spec.onProgress(done, spec.rows);
  };
  for (let b = 0; b < layout.blocks; b++) {
    const start = b * layout.blockRows;
    const count = Math.min(layout.blockRows, spec.rows - start);
    const values = initialRows(spec, start, count);
    const weights =
      weightFormat === null
        ? new Uint8Array(values.buffer)
        : new Uint8Array(encode(weightFormat, values, { overflow: 'saturate' }).buffer);
    const block = Buffer.alloc(count * recordBytes);
    for (let k = 0; k < count; k++) {
      block.set(weights.subarray(k * weightBytes, (k + 1) * weightBytes), k * recordBytes);
      block.set(stateBytes, k * recordBytes + weightBytes);
    }
    inFlight.push(ctx.cluster.set(blockKey(ctx.keyPrefix, spec.name, b), block));
    if (inFlight.length >= 256) {
      await Promise.all(inFlight.splice(0));
      report(start + count);
    }
  }
  await Promise.all(inFlight);
  report(spec.rows);
}
