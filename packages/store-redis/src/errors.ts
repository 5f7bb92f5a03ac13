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
  /** Redis answered with another error. */
  | 'failed';

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
    counts: { updatedRows: number; acknowledgedRows: number } = {
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
  }
}
