import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** Where Criteo lines come from: a file path, or lines already split (sync or async). */
export type LineSource = string | Iterable<string> | AsyncIterable<string>;

async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const magic = Buffer.alloc(2);
    const { bytesRead } = await handle.read(magic, 0, 2, 0);
    return bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/**
 * Opens the file at `path` as a byte stream, gunzipped when it starts with the gzip magic bytes
 * (`1f 8b`, whatever its name). Reads in 1 MiB chunks; back-pressure is the stream's own.
 */
export async function openCriteoFile(path: string): Promise<Readable> {
  const gz = await isGzip(path);
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!gz) return file;
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  file.on('error', (err) => gunzip.destroy(err));
  return file.pipe(gunzip);
}

/**
 * The lines of `source`: for a path, the file's lines (plain or gzipped) without their `\n`,
 * streamed through `node:readline`, so memory stays flat for any file length; otherwise the
 * given lines as they are.
 */
export async function* readLines(source: LineSource): AsyncGenerator<string> {
  if (typeof source !== 'string') {
    yield* source;
    return;
  }
  const input = await openCriteoFile(source);
  const rl = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    yield* rl;
  } finally {
    rl.close();
    input.destroy();
  }
}
