/**
 * A sharded row store for halfstep's embedding tables on Redis Cluster: rows kept in their
 * storage format, the optimizer step and the stochastic-rounding store run atomically inside
 * Redis, so that many trainers on many machines share the tables. Train on it with
 * `@halfstep/embedding`'s `createStoreBackend({ store })` and the one `EmbeddingBagCollection`.
 *
 * @packageDocumentation
 */
export type { DroppedTables, StoredTableInfo } from './admin.js';
export { connectRedisCluster, createRedisClusterStore } from './connect.js';
export type { AppliedCounts, RedisStoreErrorReason } from './errors.js';
export { isUnreachable, RedisStoreError } from './errors.js';
export { keySlot } from './keys.js';
export type { TableLayout } from './layout.js';
export {
  DEFAULT_BLOCK_BYTES,
  MAX_RECORD_VALUES,
  SUPPORTED_STORAGES,
  tableLayout,
} from './layout.js';
export { LIBRARY_NAME, LIBRARY_SOURCE, READ_FUNCTION, UPDATE_FUNCTION } from './lua.js';
export type {
  RedisClusterStoreOptions,
  RedisConnectionOptions,
  RedisNodeAddress,
  RedisUrl,
} from './options.js';
export { parseRedisNodes, parseRedisUrl, redactCredentials } from './options.js';
export type { RedisStoreStats } from './stats.js';
export { RedisClusterStore } from './store.js';
