import type { Backend } from '@halfstep/backend';
import { createMemoryTableStore, type TableStore } from '@halfstep/embedding';
import { createRedisClusterStore } from '@halfstep/store-redis';
import type { RedisLocation, StoreLocation } from './store-url.js';

/** The key prefix of a run's tables in Redis: `halfstep:recsys:<runId>`. */
export function runKeyPrefix(runId: string): string {
  return `halfstep:recsys:${runId}`;
}

/**
 * Opens the table store at `location`: a memory store on `backend`, or a Redis Cluster store
 * (`@halfstep/store-redis`) connected through the location's seed nodes, its keys under
 * {@link runKeyPrefix}, waiting up to 10 minutes for tables another worker is creating.
 */
export async function openTableStore(
  location: StoreLocation,
  backend: Backend,
  runId: string,
): Promise<TableStore> {
  if (location.kind === 'memory') return createMemoryTableStore(backend);
  return createRedisClusterStore({
    ...redisConnection(location),
    keyPrefix: runKeyPrefix(runId),
    openTimeoutMs: 600_000,
  });
}

/** The connection options (`@halfstep/store-redis`) of a Redis location: nodes, login, TLS. */
export function redisConnection(location: RedisLocation): {
  readonly nodes: RedisLocation['nodes'];
  readonly tls: boolean;
  readonly username?: string;
  readonly password?: string;
} {
  return {
    nodes: location.nodes,
    tls: location.tls,
    ...(location.username === undefined ? {} : { username: location.username }),
    ...(location.password === undefined ? {} : { password: location.password }),
  };
}
