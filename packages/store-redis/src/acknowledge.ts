import type { Cluster } from 'ioredis';
import { blockKey, keySlot } from './keys.js';

/** What counting acknowledged rows needs from its store. */
export interface AcknowledgeContext {
  /** The cluster client. */
  readonly cluster: Cluster;
  /** The store's key prefix. */
  readonly keyPrefix: string;
  /** Replicas that must acknowledge an update; 0 counts every applied row. */
  readonly replicas: number;
  /** How long `WAIT` waits for the replicas, in ms. */
  readonly waitTimeoutMs: number;
}

/**
 * The rows of an update call that count as acknowledged. With `replicas` = 0, every row written
 * in the applied blocks. Otherwise sends `WAIT replicas timeout` to the masters of the applied
 * blocks that wrote rows (on the connections that carried the updates) and counts the rows
 * written in those blocks whose master (by the slot map after the calls, which follows MOVED)
 * reached the replica count.
 * @param applied - the blocks whose update Redis confirmed, each with the rows it wrote (rows
 *   left unchanged for a non-finite result are not counted).
 */
export async function acknowledgedRows(
  ctx: AcknowledgeContext,
  table: string,
  applied: ReadonlyMap<number, number>,
): Promise<number> {
  let total = 0;
  for (const written of applied.values()) total += written;
  if (ctx.replicas === 0 || total === 0) return total;
  const ownerOf = new Map<number, string>();
  for (const [b, written] of applied) {
    if (written === 0) continue; // nothing written there: nothing to replicate
    const owner = (ctx.cluster.slots[keySlot(blockKey(ctx.keyPrefix, table, b))] ?? [])[0];
    if (owner !== undefined) ownerOf.set(b, owner);
  }
  const owners = new Set(ownerOf.values());
  const masters = ctx.cluster
    .nodes('master')
    .filter((node) => owners.has(`${node.options.host}:${node.options.port}`));
  const replies = await Promise.allSettled(
    masters.map((node) => node.wait(ctx.replicas, ctx.waitTimeoutMs)),
  );
  const good = new Set<string>();
  replies.forEach((r, i) => {
    if (r.status === 'fulfilled' && r.value >= ctx.replicas)
      good.add(`${masters[i]!.options.host}:${masters[i]!.options.port}`);
  });
  let acknowledged = 0;
  for (const [b, written] of applied) {
    const owner = ownerOf.get(b);
    if (owner !== undefined && good.has(owner)) acknowledged += written;
  }
  return acknowledged;
}
