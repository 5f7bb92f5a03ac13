import { redactCredentials } from '@halfstep/store-redis';

export { redactCredentials };

/** One Redis node address. */
export interface RedisNode {
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  /** TCP port, 1..65535. */
  readonly port: number;
}

/** A Redis Cluster reached through any of its `nodes` (the client discovers the rest). */
export interface RedisLocation {
  /** Always 'redis'. */
  readonly kind: 'redis';
  /** Seed nodes. */
  readonly nodes: readonly RedisNode[];
  /** TLS to every node (`rediss://`). */
  readonly tls: boolean;
  /** ACL user (`rediss://user:password@...`); absent: Redis's default user. */
  readonly username?: string;
  /** Its password; never printed (see {@link formatStoreUrl}). */
  readonly password?: string;
}

/** Where the embedding rows live: `memory` (one process, the default) or a Redis Cluster. */
export type StoreLocation = { readonly kind: 'memory' } | RedisLocation;

/** The default store: rows in this process's memory. */
export const MEMORY_STORE: StoreLocation = { kind: 'memory' };

/** A `--store` value that cannot be used; the message names the flag and the value. */
export class StoreUrlError extends Error {
  override readonly name = 'StoreUrlError';
  /** What is wrong, without the flag and value (the message has both). */
  readonly reason: string;

  /**
   * @param value - the `--store` value as given.
   * @param reason - what is wrong with it.
   */
  constructor(value: string, reason: string) {
    super(`--store "${redactCredentials(value)}": ${reason}`);
    this.reason = reason;
  }
}

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

function parseNode(value: string, part: string): RedisNode {
  const colon = part.lastIndexOf(':');
  if (colon <= 0) {
    throw new StoreUrlError(
      value,
      `node "${part}" has no port; expected host:port, e.g. 127.0.0.1:7000`,
    );
  }
  const host = part.slice(0, colon);
  const portText = part.slice(colon + 1);
  if (!HOST.test(host)) throw new StoreUrlError(value, `bad host "${host}"`);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StoreUrlError(value, `bad port "${portText}" of node "${part}"; expected 1..65535`);
  }
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port };
}

/** Percent-decodes a user or password. @throws StoreUrlError (without echoing it). */
function decodeCredential(value: string, text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new StoreUrlError(value, `the ${what} is not valid percent-encoding (write % as %25)`);
  }
}

/**
 * Parses a `--store` value: `memory`, or `redis://[user:password@]host:port[,host:port...]` (the
 * seed nodes of a Redis Cluster; one is enough, more survive a node being down at start), or
 * `rediss://...` for TLS. User and password are percent-encoded (`@` as `%40`).
 * @throws StoreUrlError naming the flag, the value (its password as `***`) and what is wrong.
 */
export function parseStoreUrl(value: string): StoreLocation {
  const text = value.trim();
  if (text === 'memory') return MEMORY_STORE;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text);
  if (!scheme) {
    throw new StoreUrlError(value, `expected "memory" or redis://host:port[,host:port...]`);
  }
  // Group 1 takes part in every match: the default is never used.
  const [, schemeName = ''] = scheme;
  const lower = schemeName.toLowerCase();
  if (lower !== 'redis' && lower !== 'rediss') {
    throw new StoreUrlError(
      value,
      `unsupported scheme "${schemeName}://"; expected redis://host:port[,host:port...] (rediss:// for TLS)`,
    );
  }
  let rest = text.slice(scheme[0].length).replace(/\/$/, '');
  // The user information runs to the last '@' (a password may hold '@', ',' or '/').
  const at = rest.lastIndexOf('@');
  let credentials: { username?: string; password?: string } = {};
  if (at >= 0) {
    const info = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = info.indexOf(':');
    if (colon < 0)
      throw new StoreUrlError(value, `a user needs a password: ${lower}://user:password@host:port`);
    const user = info.slice(0, colon);
    credentials = {
      ...(user === '' ? {} : { username: decodeCredential(value, user, 'user') }),
      password: decodeCredential(value, info.slice(colon + 1), 'password'),
    };
  }
  if (rest === '') throw new StoreUrlError(value, `no node after ${lower}://`);
  if (/[/?#]/.test(rest)) {
    throw new StoreUrlError(value, `only host:port nodes are accepted (no path or query)`);
  }
  const nodes = rest.split(',').map((part) => {
    if (part.trim() === '') throw new StoreUrlError(value, `empty node in the list`);
    return parseNode(value, part.trim());
  });
  return { kind: 'redis', nodes, tls: lower === 'rediss', ...credentials };
}

/**
 * The `--store` text of a location (`memory` or `redis://host:port,...`), with the password as
 * `***` (`rediss://trainer:***@host:port`): what logs and metrics show. With `secret`, the
 * password itself (percent-encoded), for handing the location on to worker processes.
 */
export function formatStoreUrl(location: StoreLocation, secret?: 'with-password'): string {
  if (location.kind === 'memory') return 'memory';
  const { username, password } = location;
  const user = username === undefined ? '' : encodeURIComponent(username);
  const shown =
    password === undefined
      ? ''
      : `${user}:${secret === 'with-password' ? encodeURIComponent(password) : '***'}@`;
  return `${location.tls ? 'rediss' : 'redis'}://${shown}${location.nodes
    .map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`)
    .join(',')}`;
}
