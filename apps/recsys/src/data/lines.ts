import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** Where Criteo lines come from: a file path, or lines already split (sync or async). */
export type LineSource = string | Iterable<string> | AsyncIterable<string>;

/**
 * The longest line a reader accepts by default, in bytes (without its `\n`): 64 KiB. A Criteo
 * line is well under 1 KiB (40 fields, the longest ones 8 hex digits or 15 decimal ones), so a
 * longer line means the file is not Criteo TSV; the limit keeps such a file from being read into
 * one huge string.
 */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

/** Options of {@link readLines}. */
export interface ReadLinesOptions {
  /**
   * The longest line accepted, in bytes without the `\n` (for in-memory lines: UTF-16 code
   * units); default {@link DEFAULT_MAX_LINE_BYTES}. A longer line throws {@link LineTooLongError}.
   */
  maxLineBytes?: number;
}

/** A line longer than the reader's limit; says which line and the limit. */
export class LineTooLongError extends Error {
  override readonly name = 'LineTooLongError';

  /**
   * @param source the file path, or `'<lines>'` for in-memory lines.
   * @param lineNumber 1-based line number in the source.
   * @param maxLineBytes the limit that was exceeded.
   */
  constructor(
    readonly source: string,
    readonly lineNumber: number,
    readonly maxLineBytes: number,
  ) {
    super(
      `${source}:${lineNumber}: line longer than ${maxLineBytes} bytes (a Criteo line is under 1 KiB; is this a Criteo TSV file?)`,
    );
  }
}

/** A data file that cannot be opened or read (missing, a directory, corrupt gzip, ...); names it. */
export class DataFileError extends Error {
  override readonly name = 'DataFileError';

  constructor(
    readonly path: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${reason}`, options);
  }
}

/** The {@link DataFileError} for `error`, raised while opening or reading `path`. */
function fileError(path: string, error: unknown, gzip: boolean): Error {
  if (error instanceof DataFileError || error instanceof LineTooLongError) return error;
  const e = error as NodeJS.ErrnoException;
  const message = e instanceof Error ? e.message : String(error);
  let reason: string;
  switch (e?.code) {
    case 'ENOENT':
      reason = 'no such file';
      break;
    case 'EISDIR':
      reason = 'is a directory, not a data file';
      break;
    case 'EACCES':
    case 'EPERM':
      reason = 'permission denied';
      break;
    default:
      reason =
        gzip && typeof e?.code === 'string' && e.code.startsWith('Z_')
          ? `gzip data is truncated or corrupt (${message})`
          : message;
  }
  return new DataFileError(path, reason, { cause: error });
}

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
 * @throws DataFileError naming the path when it cannot be opened (missing, a directory, ...).
 */
export async function openCriteoFile(path: string): Promise<Readable> {
  let gz: boolean;
  try {
    gz = await isGzip(path);
  } catch (error) {
    throw fileError(path, error, false);
  }
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  if (!gz) return file;
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  file.on('error', (err) => gunzip.destroy(err));
  return file.pipe(gunzip);
}

function checkMaxLineBytes(max: number): void {
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new RangeError(`maxLineBytes must be a positive integer, got ${String(max)}`);
  }
}

/**
 * The lines of `source`: for a path, the file's lines (plain or gzipped) without their `\n`
 * (a `\r` before it stays; the parser drops it), split at the byte level as the file streams in,
 * so memory stays flat for any file length and no line grows past `maxLineBytes`; an empty last
 * line (the file ends in `\n`) is not a line. Otherwise the given lines as they are (each checked
 * against the limit too).
 * @throws LineTooLongError naming the file and 1-based line of a line over the limit.
 * @throws DataFileError naming the file when it cannot be read (missing, a directory, truncated
 * or corrupt gzip).
 */
export async function* readLines(
  source: LineSource,
  options: ReadLinesOptions = {},
): AsyncGenerator<string> {
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  checkMaxLineBytes(max);
  if (typeof source !== 'string') {
    let n = 0;
    for await (const line of source) {
      n++;
      if (line.length > max) throw new LineTooLongError('<lines>', n, max);
      yield line;
    }
    return;
  }
  const input = await openCriteoFile(source);
  const gzip = !(input as { path?: unknown }).path;
  /** The start of the current line from earlier chunks. */
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineNumber = 0;
  try {
    let chunks: AsyncIterator<Buffer>;
    try {
      chunks = input[Symbol.asyncIterator]();
    } catch (error) {
      throw fileError(source, error, gzip);
    }
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (error) {
        throw fileError(source, error, gzip);
      }
      if (next.done) break;
      const chunk = next.value;
      let pos = 0;
      for (;;) {
        const nl = chunk.indexOf(10, pos);
        const end = nl < 0 ? chunk.length : nl;
        if (pendingBytes + (end - pos) > max)
          throw new LineTooLongError(source, lineNumber + 1, max);
        if (nl < 0) {
          if (end > pos) {
            pending.push(chunk.subarray(pos, end));
            pendingBytes += end - pos;
          }
          break;
        }
        lineNumber++;
        if (pendingBytes === 0) {
          yield chunk.toString('utf8', pos, end);
        } else {
          pending.push(chunk.subarray(pos, end));
          yield Buffer.concat(pending).toString('utf8');
          pending = [];
          pendingBytes = 0;
        }
        pos = nl + 1;
      }
    }
    if (pendingBytes > 0) yield Buffer.concat(pending).toString('utf8');
  } finally {
    input.destroy();
  }
}
