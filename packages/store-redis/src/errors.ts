/** Why a Redis store operation failed. */
export type RedisStoreErrorReason =
  /** The cluster (or the node holding the row) could not be reached, or the call's outcome is unknown. */
  | 'unreachable'
  /** The row's key does not exist: the table was deleted or its node lost its data. */
  | 'missing'
  /** The row's key holds a string of the wrong length: another layout, or a damaged key. */
  | 'wrong-size'
  /** The table was not opened, or was created by another process that did not finish. */
  | 'no-table'
  /** The login was refused (WRONGPASS, NOAUTH) or the user lacks a permission (NOPERM). */
  | 'auth'
  /** The node is a Redis without cluster support ("cluster support disabled"). */
  | 'not-cluster'
  /** Redis answered with another error. */
  | 'failed';

/** Rows of an update call known to have been applied, and acknowledged as durable. */
export interface AppliedCounts {
  /** Rows whose update Redis confirmed applied. */
  readonly updatedRows: number;
  /** Rows confirmed applied and replicated as required. */
  readonly acknowledgedRows: number;
  /**
   * Rows of the confirmed blocks left unchanged because their new weights or optimizer state
   * were not finite (not counted in `updatedRows`). Default 0.
   */
  readonly nonFiniteRows?: number;
}

/**
 * A Redis store operation failed. The message names the table and the first rows concerned;
 * for `applyGradients` the counts say what is known to have been applied.
 */
export class RedisStoreError extends Error {
  /** The table's name. */
  readonly table: string;
  /** Why it failed. */
  readonly reason: RedisStoreErrorReason;
  /** The rows whose read or update failed (or whose update's outcome is unknown). */
  readonly rows: readonly number[];
  /** Rows of the call whose update Redis confirmed applied (applyGradients only, else 0). */
  readonly updatedRows: number;
  /** Rows of the call confirmed applied and replicated as required (applyGradients only). */
  readonly acknowledgedRows: number;
  /**
   * Rows of the call that Redis confirmed it left unchanged because their new weights or state
   * were not finite (applyGradients only, else 0).
   */
  readonly nonFiniteRows: number;

  /**
   * @param table - the table's name.
   * @param reason - why it failed.
   * @param rows - the rows concerned.
   * @param message - what happened (the table and rows are prefixed).
   * @param counts - what was applied, for updates.
   * @param cause - the underlying error.
   */
  constructor(
    table: string,
    reason: RedisStoreErrorReason,
    rows: readonly number[],
    message: string,
    counts: AppliedCounts = {
      updatedRows: 0,
      acknowledgedRows: 0,
    },
    cause?: unknown,
  ) {
    const shown =
      rows.slice(0, 8).join(', ') + (rows.length > 8 ? `, ... (${rows.length} rows)` : '');
    super(
      `table "${table}"${rows.length > 0 ? `, row${rows.length > 1 ? 's' : ''} ${shown}` : ''}: ${message}`,
      {
        cause,
      },
    );
    this.name = 'RedisStoreError';
    this.table = table;
    this.reason = reason;
    this.rows = rows;
    this.updatedRows = counts.updatedRows;
    this.acknowledgedRows = counts.acknowledgedRows;
    this.nonFiniteRows = counts.nonFiniteRows ?? 0;
  }
}

/**
 * Whether an ioredis error means the cluster (or a node) could not be reached, or that a call's
 * connection dropped or timed out so that its outcome is unknown.
 */
export function isUnreachable(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Failed to refresh slots|None of startup nodes|Cluster isn't ready|CLUSTERDOWN|Too many Cluster redirections|Command timed out|max retries|Stream isn't writeable/i.test(
    message,
  );
}

/**
 * The `RedisStoreError` for a failed read or update call on `rows` of `table`: the function
 * library's `HSMISSING key` and `HSWRONGSIZE key got expected` replies become 'missing' and
 * 'wrong-size', connection failures 'unreachable', anything else 'failed'.
 */
export function blockCallError(
  table: string,
  rows: readonly number[],
  error: unknown,
  counts?: AppliedCounts,
): RedisStoreError {
  const message = error instanceof Error ? error.message : String(error);
  const missing = /^HSMISSING (.+)$/s.exec(message);
  if (missing) {
    return new RedisStoreError(
      table,
      'missing',
      rows,
      `key ${missing[1]} does not exist in Redis (the table was deleted, or its node lost its data); no value was returned for these rows`,
      counts,
      error,
    );
  }
  const wrongSize = /^HSWRONGSIZE (.+) (\d+) (\d+)$/s.exec(message);
  if (wrongSize) {
    const [, key, got, expected] = wrongSize;
    return new RedisStoreError(
      table,
      'wrong-size',
      rows,
      `key ${key} holds ${got} bytes, expected ${expected} (another layout, or a damaged key); nothing was read or written there`,
      counts,
      error,
    );
  }
  if (isUnreachable(error))
    return new RedisStoreError(
      table,
      'unreachable',
      rows,
      `Redis is unreachable or the call's outcome is unknown: ${message}`,
      counts,
      error,
    );
  return new RedisStoreError(table, 'failed', rows, `Redis failed: ${message}`, counts, error);
}
