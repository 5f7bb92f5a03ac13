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
 * The rows of an update call that count as acknowledged. With `replicas` = 0, every row of the
 * applied blocks. Otherwise sends `WAIT replicas timeout` to the masters of the applied blocks
 * (on the connections that carried the updates) and counts the rows of the applied blocks
 * whose master (by the slot map after the calls, which follows MOVED) reached the replica count.
 * @param groups - every block of the call with the positions of its rows.
 * @param applied - the blocks whose update Redis confirmed.
 */
export async function acknowledgedRows(
  ctx: AcknowledgeContext,
  table: string,
  groups: readonly (readonly [number, readonly number[]])[],
  applied: readonly number[],
): Promise<number> {
  const sizes = new Map(groups.map(([b, p]) => [b, p.length]));
  const total = applied.reduce((sum, b) => sum + (sizes.get(b) ?? 0), 0);
  if (ctx.replicas === 0 || total === 0) return total;
  const ownerOf = new Map<number, string>();
  for (const b of applied) {
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
  for (const b of applied) {
    const owner = ownerOf.get(b);
    if (owner !== undefined && good.has(owner)) acknowledged += sizes.get(b) ?? 0;
  }
  return acknowledged;
}
