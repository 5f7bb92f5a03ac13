import type { ConnectionOptions } from 'node:tls';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { type ConnectionProblem, describeConnectionError, scrubbed } from './diagnose.js';
import { isUnreachable, RedisStoreError } from './errors.js';
import { DEFAULT_BLOCK_BYTES } from './layout.js';
import { LIBRARY_NAME, LIBRARY_SOURCE } from './lua.js';
import {
  parseRedisUrl,
  type RedisClusterStoreOptions,
  type RedisConnectionOptions,
  type RedisNodeAddress,
} from './options.js';
import { RedisClusterStore } from './store.js';

/**
 * Connects to a Redis Cluster, waits until it is ready, makes sure the halfstep function library
 * is loaded on every master (`FUNCTION LOAD REPLACE` where it is missing or differs; replicas
 * receive it through replication) and returns a store.
 * @throws RangeError for bad options; RedisStoreError (table "*") saying why the cluster cannot
 *   be used: 'auth' (NOAUTH, WRONGPASS, NOPERM), 'not-cluster' (cluster support disabled),
 *   'unreachable' (ECONNREFUSED, unknown host, TLS, not ready in time), never with a password.
 *
 * @example
 * ```ts
 * import { createEmbeddingBagCollection, createStoreBackend } from '@halfstep/embedding';
 * import { createRedisClusterStore } from '@halfstep/store-redis';
 *
 * const store = await createRedisClusterStore({
 *   nodes: `rediss://trainer:${process.env.REDIS_PASSWORD}@10.0.0.1:7000,10.0.0.2:7000`,
 * });
 * const tables = await createEmbeddingBagCollection(configs, {
 *   seed: 1,
 *   backend: createStoreBackend({ store, worker: 0, workers: 4 }),
 * });
 * ```
 */
export async function createRedisClusterStore(
  options: RedisClusterStoreOptions,
): Promise<RedisClusterStore> {
  const replicas = options.replicas ?? 0;
  if (!Number.isInteger(replicas) || replicas < 0)
    throw new RangeError(`replicas must be a non-negative integer, got ${replicas}`);
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
  if (!Number.isInteger(blockBytes) || blockBytes < 1)
    throw new RangeError(`blockBytes must be a positive integer, got ${blockBytes}`);
  const cluster = await connectRedisCluster({
    ...options,
    clusterOptions: {
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
        maxRetriesPerRequest: 2,
        ...options.clusterOptions?.redisOptions,
      },
    },
  });
  try {
    const library = options.library ?? 'load';
    if (library !== 'none') await ensureLibrary(cluster, library === 'load');
  } catch (error) {
    cluster.disconnect();
    const problem = describeConnectionError(error);
    throw new RedisStoreError(
      '*',
      problem?.reason ?? (isUnreachable(error) ? 'unreachable' : 'failed'),
      [],
      `the halfstep function library could not be loaded: ${problem?.text ?? (error as Error).message}`,
      undefined,
      scrubbed(error),
    );
  }
  return new RedisClusterStore(cluster, options);
}

/**
 * Loads the function library on every master where `FUNCTION LIST` does not show this exact
 * code (or, with `load` false, fails naming the masters without it).
 */
async function ensureLibrary(cluster: Cluster, load: boolean): Promise<void> {
  const masters = cluster.nodes('master');
  await Promise.all(
    masters.map(async (node) => {
      const listed = await node.call('FUNCTION', 'LIST', 'LIBRARYNAME', LIBRARY_NAME, 'WITHCODE');
      if (libraryCode(listed) === LIBRARY_SOURCE) return;
      if (!load) {
        throw new Error(
          `the halfstep function library (this version) is not loaded on ${node.options.host}:${node.options.port}; load it as a user with +function|load (createRedisClusterStore with library: 'load')`,
        );
      }
      await node.call('FUNCTION', 'LOAD', 'REPLACE', LIBRARY_SOURCE);
    }),
  );
}

/** The `library_code` in a `FUNCTION LIST ... WITHCODE` reply (RESP2 or RESP3), if any. */
function libraryCode(reply: unknown): string | undefined {
  if (reply instanceof Map) return libraryCode(Object.fromEntries(reply));
  if (Array.isArray(reply)) {
    for (let i = 0; i < reply.length; i++) {
      if (String(reply[i]) === 'library_code' && i + 1 < reply.length) return String(reply[i + 1]);
      const inner = typeof reply[i] === 'object' ? libraryCode(reply[i]) : undefined;
      if (inner !== undefined) return inner;
    }
    return undefined;
  }
  if (reply !== null && typeof reply === 'object') {
    const record = reply as Record<string, unknown>;
    if ('library_code' in record) return String(record.library_code);
  }
  return undefined;
}

/** The credentials and TLS settings of `options`, its URL's where the options give none. */
function resolveConnection(options: RedisConnectionOptions): {
  readonly nodes: RedisNodeAddress[];
  readonly username: string | undefined;
  readonly password: string | undefined;
  readonly tls: ConnectionOptions | undefined;
} {
  const url = typeof options.nodes === 'string' ? parseRedisUrl(options.nodes) : undefined;
  const nodes: RedisNodeAddress[] = url
    ? url.nodes
    : [...(options.nodes as readonly RedisNodeAddress[])];
  if (nodes.length === 0) throw new RangeError('connectRedisCluster: no Redis node given');
  if (url?.tls && options.tls === false)
    throw new RangeError('tls: false contradicts the rediss:// URL (TLS is never downgraded)');
  const tlsOption = options.tls ?? url?.tls ?? false;
  const tls = tlsOption === false ? undefined : tlsOption === true ? {} : tlsOption;
  const username = options.username ?? url?.username;
  const password = options.password ?? url?.password;
  if (username !== undefined && password === undefined)
    throw new RangeError(`user "${username}" needs a password`);
  return { nodes, username, password, tls };
}

/**
 * Connects an ioredis `Cluster` client to the cluster of `options` (seed nodes, ACL user and
 * password, TLS; see {@link RedisConnectionOptions}) and waits until it is ready. Each seed node
 * is first asked `CLUSTER INFO` on a connection of its own, so that a failure says what happened
 * (wrong password, nothing listening, a Redis without cluster support, an unknown host, a TLS
 * handshake refused) at once instead of after the connect timeout. The client's `error` events
 * are swallowed (errors reach the callers through their commands).
 * @throws RangeError for bad options; RedisStoreError (table "*", reason 'auth', 'not-cluster' or
 *   'unreachable') whose message names the nodes and the cause, never a password.
 */
export async function connectRedisCluster(options: RedisConnectionOptions): Promise<Cluster> {
  const { nodes, username, password, tls } = resolveConnection(options);
  const connectTimeoutMs = options.connectTimeoutMs ?? 10000;
  const login: RedisOptions = {
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    ...(tls === undefined ? {} : { tls }),
  };
  const where = nodes.map((n) => `${n.host}:${n.port}`).join(',');
  const fail = (problem: ConnectionProblem, cause?: unknown): never => {
    throw new RedisStoreError(
      '*',
      problem.reason,
      [],
      `Redis Cluster at ${where} could not be used: ${problem.text}`,
      undefined,
      scrubbed(cause),
    );
  };
  const probes = await Promise.all(
    nodes.map((n) =>
      probeNode(n, {
        ...login,
        connectTimeout: Math.min(connectTimeoutMs, 5000),
        ...(options.clusterOptions?.redisOptions as RedisOptions | undefined),
      }),
    ),
  );
  const answered = probes.filter((p) => p.problem === undefined);
  if (answered.length === 0) {
    // A login or cluster problem says more than the nodes that are down.
    const order: readonly ConnectionProblem['reason'][] = [
      'auth',
      'not-cluster',
      'unreachable',
      'failed',
    ];
    const first = [...probes].sort(
      (a, b) => order.indexOf(a.problem!.reason) - order.indexOf(b.problem!.reason),
    )[0]!;
    const texts = [...new Set(probes.map((p) => p.problem!.text))];
    fail({ reason: first.problem!.reason, text: texts.join('; ') }, first.error);
  }
  const clusterOptions: ClusterOptions = {
    ...options.clusterOptions,
    redisOptions: {
      connectTimeout: 2000,
      ...login,
      ...options.clusterOptions?.redisOptions,
    },
  };
  const cluster = new Cluster(
    nodes.map((n) => ({ host: n.host, port: n.port })),
    clusterOptions as ClusterConstructorOptions,
  );
  const nodeErrors: [unknown, string][] = [];
  cluster.on('error', () => {
    // Errors reach the callers through their commands; an unhandled 'error' event would crash.
  });
  cluster.on('node error', (error: unknown, node: string) => {
    if (nodeErrors.length < 20) nodeErrors.push([error, node]);
  });
  try {
    await whenReady(cluster, connectTimeoutMs);
  } catch (error) {
    cluster.disconnect();
    const states = answered.map((p) => `cluster_state:${p.state} at ${p.node}`).join(', ');
    // A login refused by a node the seeds named (a node without the ACL user) says why.
    const nodeProblem = nodeErrors
      .map(([e, node]) => describeConnectionError(e, node))
      .find((p) => p !== undefined);
    fail(
      nodeProblem?.reason === 'auth'
        ? nodeProblem
        : {
            reason: 'unreachable',
            text: `${(error as Error).message} (${states})${nodeProblem ? `; a node failed: ${nodeProblem.text}` : ''}`,
          },
      error,
    );
  }
  return cluster;
}

/** What asking one seed node `CLUSTER INFO` found. */
interface Probe {
  /** `host:port`. */
  readonly node: string;
  /** `cluster_state` when it answered. */
  readonly state?: string;
  /** Why it could not be used. */
  readonly problem?: ConnectionProblem;
  /** The error behind `problem`. */
  readonly error?: unknown;
}

/** Asks `node` for `CLUSTER INFO` on a connection of its own, without retries. */
async function probeNode(node: RedisNodeAddress, options: RedisOptions): Promise<Probe> {
  const name = `${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`;
  const { replyMapping: _replyMapping, ...rest } = options;
  const client = new Redis({
    ...rest,
    host: node.host,
    port: node.port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    reconnectOnError: null,
  });
  // The connection's own errors (refused, unknown host, TLS, WRONGPASS) come as events; the
  // promise then only says "Connection is closed".
  const events: unknown[] = [];
  client.on('error', (error: unknown) => events.push(error));
  try {
    await client.connect();
    const info = String(await client.call('CLUSTER', 'INFO'));
    const state = /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
    return { node: name, state };
  } catch (error) {
    const cause = events.find((e) => describeConnectionError(e, name) !== undefined) ?? error;
    const problem = describeConnectionError(cause, name) ?? {
      reason: isUnreachable(cause) ? 'unreachable' : 'failed',
      text: `${name}: ${(cause as Error).message}`,
    };
    return { node: name, problem, error: cause };
  } finally {
    client.disconnect();
  }
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
