import type { ClusterOptions } from 'ioredis';

/** A Redis node's address. */
export interface RedisNodeAddress {
  /** Host name or IP. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/** Options of `createRedisClusterStore`. */
export interface RedisClusterStoreOptions {
  /**
   * Seed nodes of the cluster: `"redis://host:port,host:port"` (the scheme is optional), or
   * addresses. One reachable node is enough; the client discovers the rest.
   */
  readonly nodes: string | readonly RedisNodeAddress[];
  /** Prefix of every key, a namespace for several models in one cluster. Default "halfstep". */
  readonly keyPrefix?: string | undefined;
  /** Payload bytes per block key for tables this store creates. Default 16320. */
  readonly blockBytes?: number | undefined;
  /**
   * Replicas that must acknowledge an update (Redis `WAIT`) before `applyGradients` counts it as
   * acknowledged; 0 (the default) counts an update acknowledged once its master applied it.
   */
  readonly replicas?: number | undefined;
  /** How long `WAIT` waits for the replicas, in ms. Default 2000. */
  readonly waitTimeoutMs?: number | undefined;
  /** How long to wait for the cluster to become ready, in ms. Default 10000. */
  readonly connectTimeoutMs?: number | undefined;
  /**
   * How long `readRows` keeps retrying a read while the cluster is unreachable (a failover takes
   * a few node timeouts), in ms. Default 15000. Updates are never retried (see `applyGradients`).
   */
  readonly readRetryMs?: number | undefined;
  /** How long to wait for a table another process is creating, in ms. Default 60000. */
  readonly openTimeoutMs?: number | undefined;
  /** Extra ioredis cluster options (merged over the store's defaults). */
  readonly clusterOptions?: ClusterOptions | undefined;
}

/**
 * Parses `"redis://host:port,host:port"` (or `"host:port,..."`) into addresses.
 * @throws RangeError naming the part that is not host:port (without any credentials in it), or
 *   for `rediss://` (TLS is not supported yet: refused rather than connecting in plain text).
 */
export function parseRedisNodes(nodes: string): RedisNodeAddress[] {
  if (/(^|,)\s*rediss:\/\//i.test(nodes)) {
    // Never fall back to plain text when TLS was asked for.
    throw new RangeError('rediss:// (TLS) is not supported yet; use redis:// on a trusted network');
  }
  const list = nodes
    .replace(/^rediss?:\/\//, '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new RangeError(`no Redis node in "${nodes}"`);
  return list.map((part) => {
    const m = /^(?:rediss?:\/\/)?([^:/]+):(\d+)\/?$/.exec(part);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) {
      // A part with user:password@ is never echoed whole.
      const shown = part.includes('@') ? `${part.slice(0, part.indexOf('//') + 2)}***@…` : part;
      throw new RangeError(`Redis node "${shown}": expected host:port`);
    }
    const [, host = '', port] = m;
    return { host, port: Number(port) };
  });
}
