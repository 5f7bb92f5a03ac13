import { decode, type FloatFormat } from '@halfstep/codecs';
import type { Cluster } from 'ioredis';
import { blockCallError, isUnreachable, RedisStoreError } from './errors.js';
import { blockKey } from './keys.js';
import { blockLength, rowsByBlock } from './layout.js';
import { READ_FUNCTION } from './lua.js';
import { headerBytes, READ_ARGS, READ_HEADER } from './params.js';
import type { StoreCounters } from './stats.js';
import type { OpenTable } from './table.js';

/**
 * ioredis generates a Buffer-replying variant of every command; its typings omit
 * `fcall_roBuffer`. (The generic `call`/`callBuffer` lose the command name under auto-pipelining.)
 */
interface BufferFunctionCalls {
  fcall_roBuffer(
    fn: string,
    numkeys: number,
    ...args: (string | number | Buffer)[]
  ): Promise<Buffer>;
}

/** What the read path needs from its store. */
export interface ReadContext {
  /** The cluster client. */
  readonly cluster: Cluster;
  /** The store's key prefix. */
  readonly keyPrefix: string;
  /** How long a read keeps retrying while the cluster is unreachable, in ms. */
  readonly readRetryMs: number;
  /** The store's counters (calls, bytes, retries are added). */
  readonly counters: StoreCounters;
  /** Whether the store was closed (a closed store stops retrying). */
  readonly isClosed: () => boolean;
}

/**
 * Decoded weights of `rows` (checked in range by the caller) of the open table `t`, rows x dim
 * float32, in the order given. One read call per block (it checks the key's length first); the
 * calls are pipelined per node. A read changes nothing, so while the cluster is unreachable (a
 * failover) it is retried for `readRetryMs`.
 * @throws RedisStoreError naming the table and the rows (missing key, wrong size, unreachable);
 *   never returns zeros for a row it could not read.
 */
export async function readBlockRows(
  ctx: ReadContext,
  t: OpenTable,
  rows: Int32Array,
): Promise<Float32Array> {
  const { spec, layout } = t;
  const { dim } = spec;
  const out = new Float32Array(rows.length * dim);
  const format = t.weightFormat;
  const codes =
    format === null ? null : format.bits === 8 ? new Uint8Array(dim) : new Uint16Array(dim);
  const row32 = new Float32Array(dim);
  const calls = [...rowsByBlock(layout, rows)].map(async ([b, positions]) => {
    const inBlock = Buffer.alloc(4 * positions.length);
    for (let i = 0; i < positions.length; i++)
      inBlock.writeUInt32LE(rows[positions[i]!]! - b * layout.blockRows, 4 * i);
    const header = headerBytes(READ_HEADER, {
      blockBytes: blockLength(layout, spec.rows, b),
      recordBytes: layout.recordBytes,
      weightBytes: layout.weightBytes,
    });
    ctx.counters.calls++;
    ctx.counters.bytesSent += header.length + inBlock.length;
    let reply: Buffer;
    const deadline = Date.now() + ctx.readRetryMs;
    for (;;) {
      try {
        reply = await (ctx.cluster as unknown as BufferFunctionCalls).fcall_roBuffer(
          READ_FUNCTION,
          1,
          blockKey(ctx.keyPrefix, spec.name, b),
          ...READ_ARGS.argv({ header, rows: inBlock }),
        );
        break;
      } catch (error) {
        if (!isUnreachable(error) || Date.now() >= deadline || ctx.isClosed()) {
          throw blockCallError(
            spec.name,
            positions.map((k) => rows[k]!),
            error,
          );
        }
        ctx.counters.readRetries++;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    ctx.counters.bytesReceived += reply.length;
    if (reply.length !== positions.length * layout.weightBytes) {
      throw new RedisStoreError(
        spec.name,
        'wrong-size',
        positions.map((k) => rows[k]!),
        `Redis returned ${reply.length} bytes, expected ${positions.length * layout.weightBytes}`,
      );
    }
    for (let i = 0; i < positions.length; i++) {
      const at = i * layout.weightBytes;
      const o = positions[i]! * dim;
      if (codes === null) {
        for (let c = 0; c < dim; c++) out[o + c] = reply.readFloatLE(at + 4 * c);
      } else {
        if (codes instanceof Uint8Array) codes.set(reply.subarray(at, at + dim));
        else for (let c = 0; c < dim; c++) codes[c] = reply.readUInt16LE(at + 2 * c);
        decode(format as FloatFormat, codes, row32);
        out.set(row32, o);
      }
    }
  });
  const settled = await Promise.allSettled(calls);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
  ctx.counters.rowsRead += rows.length;
  return out;
}
