/** Traffic counters of a Redis store (payload bytes, excluding the protocol's framing). */
export interface RedisStoreStats {
  /** Rows read by `readRows`. */
  readonly rowsRead: number;
  /** Rows updated (confirmed) by `applyGradients`. */
  readonly rowsUpdated: number;
  /** Redis calls made by reads and updates (one per block touched). */
  readonly calls: number;
  /** Argument bytes sent by reads and updates. */
  readonly bytesSent: number;
  /** Reply bytes received by reads. */
  readonly bytesReceived: number;
  /** Read calls retried because the cluster was unreachable (e.g. during a failover). */
  readonly readRetries: number;
}

/** The store's running counters, which the read and update paths add to. */
export type StoreCounters = { -readonly [K in keyof RedisStoreStats]: number };

/** Counters at zero. */
export function zeroCounters(): StoreCounters {
  return { rowsRead: 0, rowsUpdated: 0, calls: 0, bytesSent: 0, bytesReceived: 0, readRetries: 0 };
}
