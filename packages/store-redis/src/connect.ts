import { Cluster } from 'ioredis';
import { isUnreachable, RedisStoreError } from './errors.js';
import { DEFAULT_BLOCK_BYTES } from './layout.js';
import { LIBRARY_SOURCE } from './lua.js';
import { parseRedisNodes, type RedisClusterStoreOptions } from './options.js';
import { RedisClusterStore } from './store.js';

/**
 * Connects to a Redis Cluster, waits until it is ready, loads the halfstep function library on
 * every master (`FUNCTION LOAD REPLACE`; replicas receive it through replication) and returns a
 * store.
 * @throws RangeError for bad options; RedisStoreError (table "*", unreachable) when the cluster
 *   is not ready in time.
 *
 * @example
 * ```ts
 * import { createEmbeddingBagCollection, createStoreBackend } from '@halfstep/embedding';
 * import { createRedisClusterStore } from '@halfstep/store-redis';
 *
 * const store = await createRedisClusterStore({ nodes: 'redis://10.0.0.1:7000' });
 * const tables = await createEmbeddingBagCollection(configs, {
 *   seed: 1,
 *   backend: createStoreBackend({ store, worker: 0, workers: 4 }),
 * });
 * ```
 */
export async function createRedisClusterStore(
  options: RedisClusterStoreOptions,
): Promise<RedisClusterStore> {
  const nodes =
    typeof options.nodes === 'string' ? parseRedisNodes(options.nodes) : [...options.nodes];
  if (nodes.length === 0) throw new RangeError('createRedisClusterStore: no Redis node given');
  const replicas = options.replicas ?? 0;
  if (!Number.isInteger(replicas) || replicas < 0)
    throw new RangeError(`replicas must be a non-negative integer, got ${replicas}`);
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
  if (!Number.isInteger(blockBytes) || blockBytes < 1)
    throw new RangeError(`blockBytes must be a positive integer, got ${blockBytes}`);
  const connectTimeoutMs = options.connectTimeoutMs ?? 10000;
  const cluster = new Cluster(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      // Calls issued together are pipelined on each node's connection (ioredis writes them without
      // waiting for replies). Auto-pipelining is off: it batches commands of several slots into one
      // pipeline, which ioredis cannot redirect after a failover (each call would fail with MOVED).
      enableAutoPipelining: false,
      // An update whose connection dropped is not re-sent: its outcome is unknown, and re-sending
      // could apply it twice. The caller sees it as failed ("unreachable").
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 2000,
      clusterRetryStrategy: (times) => (times > 20 ? null : Math.min(100 * times, 1000)),
      ...options.clusterOptions,
      redisOptions: {
        autoResendUnfulfilledCommands: false,
        connectTimeout: 2000,
        maxRetriesPerRequest: 2,
        // ioredis's ClusterOptions types replyMapping as `?: T | undefined`, its constructor as
        // `?: T`: the same object, typed for the constructor.
        ...(options.clusterOptions?.redisOptions as ClusterConstructorOptions['redisOptions']),
      },
    },
  );
  cluster.on('error', () => {
    // Errors reach the callers through their commands; an unhandled 'error' event would crash.
  });
  const where = nodes.map((n) => `${n.host}:${n.port}`).join(',');
  let stage: 'connect' | 'load' = 'connect';
  try {
    await whenReady(cluster, connectTimeoutMs);
    stage = 'load';
    await Promise.all(
      cluster
        .nodes('master')
        .map((node) => node.call('FUNCTION', 'LOAD', 'REPLACE', LIBRARY_SOURCE)),
    );
  } catch (error) {
    cluster.disconnect();
    throw new RedisStoreError(
      '*',
      stage === 'connect' || isUnreachable(error) ? 'unreachable' : 'failed',
      [],
      `Redis Cluster at ${where} could not be used: ${(error as Error).message}`,
      undefined,
      error,
    );
  }
  return new RedisClusterStore(cluster, options);
}

/** The options parameter of ioredis's `Cluster` constructor. */
type ClusterConstructorOptions = NonNullable<ConstructorParameters<typeof Cluster>[1]>;

/** Resolves when the cluster client is ready; rejects when it ends or after `timeoutMs`. */
function whenReady(cluster: Cluster, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the cluster was not ready within ${timeoutMs} ms`)),
      timeoutMs,
    );
    cluster.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
    cluster.once('end', () => {
      clearTimeout(timer);
      reject(new Error('the connection ended'));
    });
  });
}
