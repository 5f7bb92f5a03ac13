import type { Cluster } from 'ioredis';
import { blockKey, metaKey } from './keys.js';
import type { TableMeta } from './open.js';

/** A table found in Redis by `RedisClusterStore.listTables`. */
export interface StoredTableInfo {
  /** The table's name (what follows the store's key prefix and `:`). */
  readonly name: string;
  /** 'creating' while its creator is still writing its blocks (or died doing so), else 'ready'. */
  readonly status: 'creating' | 'ready';
  /** Rows. */
  readonly rows: number;
  /** Values per row. */
  readonly dim: number;
  /** Storage format of the weights, e.g. "float16". */
  readonly storage: string;
  /** The optimizer's kind, e.g. "sgd". */
  readonly optimizer: string;
  /** Rows per block key. */
  readonly blockRows: number;
  /** Bytes per row record (weights and optimizer state). */
  readonly recordBytes: number;
  /** Block keys. */
  readonly blocks: number;
  /** Payload bytes of its rows (`rows * recordBytes`), without Redis's per-key overhead. */
  readonly bytes: number;
  /** Every field of its stored identity (rows, dim, storage, rounding, seed, optimizer...). */
  readonly identity: Readonly<Record<string, string | number>>;
}

/** What `RedisClusterStore.dropTables` deleted. */
export interface DroppedTables {
  /** The tables whose keys were deleted, in name order. */
  readonly tables: readonly string[];
  /** Keys deleted (block keys and descriptions). */
  readonly keys: number;
}

/** What listing and dropping tables needs from a store. */
export interface AdminContext {
  /** The cluster client. */
  readonly cluster: Cluster;
  /** The store's key prefix. */
  readonly keyPrefix: string;
}

/** `text` with Redis glob pattern characters (`* ? [ ] \`) escaped. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Every key matching `pattern` on every master (SCAN; keys of one slot are on one master). */
async function scanMasters(cluster: Cluster, pattern: string): Promise<string[]> {
  const found = new Set<string>();
  await Promise.all(
    cluster.nodes('master').map(async (node) => {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        for (const key of keys) found.add(key);
        cursor = next;
      } while (cursor !== '0');
    }),
  );
  return [...found].sort();
}

/** A table's summary from its description's JSON, or undefined when it is not one. */
function summary(name: string, text: string): StoredTableInfo | undefined {
  let meta: TableMeta;
  try {
    meta = JSON.parse(text) as TableMeta;
  } catch {
    return undefined;
  }
  if (meta?.identity === undefined || !Number.isInteger(meta.blockRows)) return undefined;
  const rows = Number(meta.identity.rows);
  return {
    name,
    status: meta.status,
    rows,
    dim: Number(meta.identity.dim),
    storage: String(meta.identity.storage),
    optimizer: String(meta.identity.optimizer),
    blockRows: meta.blockRows,
    recordBytes: meta.recordBytes,
    blocks: Math.ceil(rows / meta.blockRows),
    bytes: rows * meta.recordBytes,
    identity: meta.identity,
  };
}

/** The tables `names` (those with a description) under the store's key prefix. */
async function describeTables(
  ctx: AdminContext,
  names: readonly string[],
): Promise<StoredTableInfo[]> {
  const texts = await Promise.all(names.map((n) => ctx.cluster.get(metaKey(ctx.keyPrefix, n))));
  const tables: StoredTableInfo[] = [];
  texts.forEach((text, i) => {
    const table = text === null ? undefined : summary(names[i]!, text);
    if (table) tables.push(table);
  });
  return tables;
}

/**
 * The tables under the store's key prefix: every `{prefix}:{name}:meta` key (SCAN on every
 * master), its description read and summarised, in name order.
 */
export async function listTables(ctx: AdminContext): Promise<StoredTableInfo[]> {
  const suffix = ':meta';
  const keys = await scanMasters(ctx.cluster, `${globEscape(ctx.keyPrefix)}:*${suffix}`);
  return describeTables(
    ctx,
    keys.map((key) => key.slice(ctx.keyPrefix.length + 1, key.length - suffix.length)),
  );
}

/**
 * Deletes tables under the store's key prefix: `names` (read directly: no SCAN), or every table
 * `listTables` finds. Per table, its block keys (UNLINK, 256 in flight), then its description,
 * so that a drop interrupted half way still lists the table and can be run again. Names without
 * a description are skipped.
 */
export async function dropTables(
  ctx: AdminContext,
  names?: readonly string[],
): Promise<DroppedTables> {
  const tables =
    names === undefined
      ? await listTables(ctx)
      : await describeTables(ctx, [...new Set(names)].sort());
  let keys = 0;
  for (const t of tables) {
    const inFlight: Promise<number>[] = [];
    for (let b = 0; b < t.blocks; b++) {
      inFlight.push(ctx.cluster.unlink(blockKey(ctx.keyPrefix, t.name, b)));
      if (inFlight.length >= 256)
        keys += (await Promise.all(inFlight.splice(0))).reduce((s, n) => s + n, 0);
    }
    keys += (await Promise.all(inFlight)).reduce((s, n) => s + n, 0);
    keys += await ctx.cluster.unlink(metaKey(ctx.keyPrefix, t.name));
  }
  return { tables: tables.map((t) => t.name), keys };
}
