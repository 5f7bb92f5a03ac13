import type { ConnectionOptions } from 'node:tls';
import type { ClusterOptions } from 'ioredis';

/** A Redis node's address. */
export interface RedisNodeAddress {
  /** Host name or IP (IPv6 without brackets). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/**
 * How to reach and log in to a Redis Cluster: what `createRedisClusterStore` and
 * `connectRedisCluster` take.
 */
export interface RedisConnectionOptions {
  /**
   * Seed nodes of the cluster: a URL `redis://[user[:password]@]host:port[,host:port...]`
   * (`rediss://` for TLS; the scheme is optional for plain text; user and password
   * percent-encoded), or addresses. One reachable node is enough; the client discovers the rest.
   */
  readonly nodes: string | readonly RedisNodeAddress[];
  /** ACL user name (Redis 6+); overrides the URL's. Default: the URL's, else Redis's "default". */
  readonly username?: string | undefined;
  /** Password of `username`; overrides the URL's. Never written to errors or logs. */
  readonly password?: string | undefined;
  /**
   * TLS to every node: `true` (the system's certificate authorities; add a private one with
   * `NODE_EXTRA_CA_CERTS` or give `{ ca }`), or Node's `tls.connect` options. Default: true for a
   * `rediss://` URL, else false. `false` with a `rediss://` URL is refused.
   */
  readonly tls?: boolean | ConnectionOptions | undefined;
  /** How long to wait for the cluster to become ready, in ms. Default 10000. */
  readonly connectTimeoutMs?: number | undefined;
  /** Extra ioredis cluster options (merged over the defaults). */
  readonly clusterOptions?: ClusterOptions | undefined;
}

/** Options of `createRedisClusterStore`. */
export interface RedisClusterStoreOptions extends RedisConnectionOptions {
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
  /**
   * How long `readRows` keeps retrying a read while the cluster is unreachable (a failover takes
   * a few node timeouts), in ms. Default 15000. Updates are never retried (see `applyGradients`).
   */
  readonly readRetryMs?: number | undefined;
  /** How long to wait for a table another process is creating, in ms. Default 60000. */
  readonly openTimeoutMs?: number | undefined;
  /**
   * What to do about the halfstep function library that reads and updates rows: 'load' (the
   * default) loads it on every master where it is missing or differs (`FUNCTION LOAD REPLACE`,
   * which needs the ACL permission `+function|load`); 'check' only checks that this version is
   * there (for users allowed to call it but not to load it); 'none' does neither (a store only
   * used to list or drop tables).
   */
  readonly library?: 'load' | 'check' | 'none' | undefined;
}

/** A parsed `redis://` or `rediss://` URL of a cluster's seed nodes. */
export interface RedisUrl {
  /** The seed nodes. */
  readonly nodes: RedisNodeAddress[];
  /** The ACL user, when the URL has one (`redis://user:password@...`). */
  readonly username?: string;
  /** The password, when the URL has one (`redis://user:password@...` or `redis://:password@`). */
  readonly password?: string;
  /** Whether the scheme is `rediss://` (TLS). */
  readonly tls: boolean;
}

/**
 * `value` with the password of every `user:password@` in it (a user alone too) replaced by
 * `***`: what error messages, logs and metrics show of a Redis URL.
 *
 * @example
 * ```ts
 * redactCredentials('rediss://trainer:s3cret@10.0.0.1:7000'); // 'rediss://trainer:***@10.0.0.1:7000'
 * ```
 */
export function redactCredentials(value: string): string {
  // Everything up to the last '@' before the node list is the user information (a password may
  // hold '@', ',' or '/').
  return value.replace(/\/\/(.*)@(?=[^@]*$)/s, (_, credentials: string) => {
    const colon = credentials.indexOf(':');
    return `//${colon < 0 ? '***' : `${credentials.slice(0, colon)}:***`}@`;
  });
}

/** Percent-decodes a user or password of a URL. @throws RangeError (the value is not echoed). */
function decodePart(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new RangeError(
      `the ${what} in the Redis URL is not valid percent-encoding (write % as %25)`,
    );
  }
}

/**
 * Parses a cluster URL: `redis://[user[:password]@]host:port[,host:port...]`, `rediss://` for
 * TLS, or a bare `host:port,...` list (plain text). User and password are percent-decoded (write
 * `@` as `%40`, `%` as `%25`); IPv6 hosts go in brackets (`[::1]:7000`); each later node may
 * repeat the scheme.
 * @throws RangeError naming the part that is wrong, with any password replaced by `***`.
 */
export function parseRedisUrl(url: string): RedisUrl {
  const text = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  const schemeName = scheme?.[1]?.toLowerCase() ?? '';
  if (scheme && schemeName !== 'redis' && schemeName !== 'rediss') {
    throw new RangeError(
      `unsupported scheme "${scheme[1]}://" in "${redactCredentials(text)}"; expected redis:// or rediss://`,
    );
  }
  const tls = schemeName === 'rediss';
  let rest = scheme ? text.slice(scheme[0].length) : text;
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    if (!scheme)
      throw new RangeError('a Redis URL with a user or password needs redis:// or rediss://');
    const credentials = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = credentials.indexOf(':');
    const user = colon < 0 ? credentials : credentials.slice(0, colon);
    if (user !== '') username = decodePart(user, 'user');
    if (colon >= 0) password = decodePart(credentials.slice(colon + 1), 'password');
    if (colon < 0) {
      // "redis://name@host" is a user without a password: ACL users all have one.
      throw new RangeError(
        `Redis URL "${redactCredentials(text)}": a user needs a password (redis://user:password@host:port)`,
      );
    }
  }
  const list = rest
    .replace(/\/$/, '')
    .split(',')
    .map((s) => s.trim());
  if (list.length === 1 && list[0] === '')
    throw new RangeError(`no Redis node in "${redactCredentials(text)}"`);
  const nodes = list.map((part) => {
    const bare = part.replace(/^rediss?:\/\//i, '');
    if (bare !== part && /^rediss:/i.test(part) !== tls)
      throw new RangeError(`Redis node "${part}": every node of the URL must use the same scheme`);
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:/[\]\s]+)):(\d+)\/?$/.exec(bare);
    if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) {
      const shown = part === '' ? '(empty)' : part;
      throw new RangeError(`Redis node "${shown}": expected host:port`);
    }
    return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
  });
  return {
    nodes,
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    tls,
  };
}

/**
 * The nodes of a cluster URL (see `parseRedisUrl`; its user, password and TLS are ignored here).
 * @throws RangeError naming the part that is not host:port (without any password in it).
 */
export function parseRedisNodes(nodes: string): RedisNodeAddress[] {
  return parseRedisUrl(nodes).nodes;
}
