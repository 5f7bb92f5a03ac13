import type { RedisStoreErrorReason } from './errors.js';

/** Why a node or cluster could not be used, in words (never with a password). */
export interface ConnectionProblem {
  /** The `RedisStoreError` reason it maps to. */
  readonly reason: Extract<
    RedisStoreErrorReason,
    'auth' | 'not-cluster' | 'unreachable' | 'failed'
  >;
  /** What happened, naming the node when known and the Redis or system error code. */
  readonly text: string;
}

/** TLS error codes of Node's `tls` module and OpenSSL that mean the handshake failed. */
const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_|HOSTNAME_MISMATCH)/;

/**
 * What a connection error means, or undefined when it is none of the cases told apart: a
 * refused login (WRONGPASS, NOAUTH) or command (NOPERM), a Redis without cluster support,
 * nothing listening (ECONNREFUSED), an unknown host (ENOTFOUND, EAI_AGAIN), a connect timeout,
 * a TLS handshake that failed, a connection reset (plain text to a TLS port).
 * @param node - `host:port`, named in the text when given.
 */
export function describeConnectionError(
  error: unknown,
  node?: string,
): ConnectionProblem | undefined {
  if (error === null || error === undefined) return undefined;
  const message = error instanceof Error ? error.message : String(error);
  const code = String((error as { code?: unknown }).code ?? '');
  const at = node === undefined ? '' : `${node}: `;
  const server = message.split('\n')[0]!.trim();
  if (/^WRONGPASS/.test(message))
    return {
      reason: 'auth',
      text: `${at}the user name or password was refused (${server})`,
    };
  if (/^NOAUTH/.test(message))
    return {
      reason: 'auth',
      text: `${at}the server requires a password (NOAUTH): give one, e.g. redis://user:password@host:port`,
    };
  if (/^NOPERM/.test(message))
    return {
      reason: 'auth',
      text: `${at}the user lacks a permission the store needs (${server}); see the least-privilege ACL in the scale-out guide`,
    };
  if (/cluster support disabled/i.test(message))
    return {
      reason: 'not-cluster',
      text: `${at}this Redis has cluster support disabled: it is not a Redis Cluster node (start Redis with cluster-enabled yes, or give the nodes of a cluster)`,
    };
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message))
    return { reason: 'unreachable', text: `${at}nothing is listening there (ECONNREFUSED)` };
  if (/^(ENOTFOUND|EAI_AGAIN|EAI_NONAME|EAI_FAIL)$/.test(code) || /getaddrinfo/.test(message))
    return {
      reason: 'unreachable',
      text: `${at}unknown host: the name could not be resolved (${code || server})`,
    };
  if (TLS_CODE.test(code) || /\bSSL\b|TLS|certificate/i.test(message)) {
    const hint = /wrong version number|WRONG_VERSION/i.test(`${code} ${message}`)
      ? ': the port does not speak TLS (use redis://)'
      : /self.signed|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/i.test(`${code} ${message}`)
        ? ': the certificate is not signed by a trusted authority (trust its CA with NODE_EXTRA_CA_CERTS or the tls: { ca } option)'
        : '';
    return {
      reason: 'unreachable',
      text: `${at}the TLS handshake failed (${server}${code ? `, ${code}` : ''})${hint}`,
    };
  }
  if (code === 'ECONNRESET' || /ECONNRESET/.test(message))
    return {
      reason: 'unreachable',
      text: `${at}the server closed the connection (ECONNRESET): if it is a TLS port, use rediss://`,
    };
  if (code === 'ETIMEDOUT' || /ETIMEDOUT|connect timeout/i.test(message))
    return { reason: 'unreachable', text: `${at}no answer in time (ETIMEDOUT)` };
  return undefined;
}

/**
 * A copy of `error` that keeps its name, message and code only: ioredis errors carry the
 * command that failed, and a failed `AUTH`/`HELLO` carries the password in its arguments.
 */
export function scrubbed(error: unknown): Error | undefined {
  if (error === undefined) return undefined;
  const copy = new Error(error instanceof Error ? error.message : String(error));
  if (error instanceof Error) copy.name = error.name;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') (copy as Error & { code?: string }).code = code;
  return copy;
}
