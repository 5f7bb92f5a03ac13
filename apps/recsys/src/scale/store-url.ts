/** One Redis node address. */
export interface RedisNode {
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  /** TCP port, 1..65535. */
  readonly port: number;
}

/**
 * Where the embedding rows live: `memory` (one process, the default) or a Redis Cluster reached
 * through any of its `nodes` (the client discovers the rest of the cluster from them).
 */
export type StoreLocation =
  | { readonly kind: 'memory' }
  | { readonly kind: 'redis'; readonly nodes: readonly RedisNode[] };

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

/** `value` with the password of every `user:password@` in it replaced by `***`. */
export function redactCredentials(value: string): string {
  return value.replace(/\/\/([^/@,]*)@/g, (_, credentials: string) => {
    const colon = credentials.indexOf(':');
    return `//${colon < 0 ? '***' : `${credentials.slice(0, colon)}:***`}@`;
  });
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

/**
 * Parses a `--store` value: `memory`, or `redis://host:port[,host:port...]` (the seed nodes of a
 * Redis Cluster; one is enough, more survive a node being down at start).
 * @throws StoreUrlError naming the flag, the value and what is wrong with it.
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
  if (schemeName.toLowerCase() !== 'redis') {
    throw new StoreUrlError(
      value,
      `unsupported scheme "${schemeName}://"; expected redis://host:port[,host:port...]`,
    );
  }
  const rest = text.slice(scheme[0].length).replace(/\/$/, '');
  if (rest === '') throw new StoreUrlError(value, `no node after redis://`);
  if (/[/?#@]/.test(rest)) {
    throw new StoreUrlError(value, `only host:port nodes are accepted (no user, path or query)`);
  }
  const nodes = rest.split(',').map((part) => {
    if (part.trim() === '') throw new StoreUrlError(value, `empty node in the list`);
    return parseNode(value, part.trim());
  });
  return { kind: 'redis', nodes };
}

/** The `--store` text of a location (`memory` or `redis://host:port,...`). */
export function formatStoreUrl(location: StoreLocation): string {
  if (location.kind === 'memory') return 'memory';
  return `redis://${location.nodes
    .map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`)
    .join(',')}`;
}
