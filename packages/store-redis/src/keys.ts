/**
 * Checks a table name for use in keys: non-empty, without `{` or `}` (a hash tag would pin
 * every block of the table to one slot) and without control characters (line breaks, tabs).
 * Spaces are allowed: keys are binary-safe.
 * @throws RangeError naming the table.
 */
export function checkTableName(name: string): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it rejects
  if (typeof name !== 'string' || name.length === 0 || /[{}\u0000-\u001f\u007f]/.test(name)) {
    throw new RangeError(
      `table "${name}": a Redis store table name must be non-empty, without braces or control characters`,
    );
  }
}

/** The key of block `block` of table `table` under `prefix`: `{prefix}:{table}:{block}`. */
export function blockKey(prefix: string, table: string, block: number): string {
  return `${prefix}:${table}:${block}`;
}

/** The key of table `table`'s description (identity, layout, status): `{prefix}:{table}:meta`. */
export function metaKey(prefix: string, table: string): string {
  return `${prefix}:${table}:meta`;
}

/** The hash slot of a key (Redis Cluster's CRC16 rule, hash tags included). */
export function keySlot(key: string): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  const bytes = Buffer.from(key.slice(start, end));
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
