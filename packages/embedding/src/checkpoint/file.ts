import { type DecodeOptions, decodeSafetensors } from './decode.js';
import { encodeSafetensors } from './encode.js';
import { CheckpointError } from './errors.js';
import type { Checkpoint, Tensor } from './tensor.js';

/**
 * Node's file system, loaded on first use: the rest of the package (and encode/decode of
 * safetensors bytes) also runs in browsers, where these modules do not exist.
 */
async function nodeFs() {
  const [{ open }, { dirname }, { default: writeFileAtomic }] = await Promise.all([
    import('node:fs/promises'),
    import('node:path'),
    import('write-file-atomic'),
  ]);
  return { open, dirname, writeFileAtomic };
}

/**
 * Largest checkpoint {@link writeSafetensors} writes, in bytes (2^31 - 1): write-file-atomic
 * writes the file with a single `fs.write` call, which Node limits to this length.
 */
export const MAX_WRITE_BYTES = 2 ** 31 - 1;

const READ_CHUNK = 1 << 30;

function ioError(op: string, path: string, cause: unknown): CheckpointError {
  const code = (cause as { code?: unknown } | null)?.code;
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new CheckpointError(
    'io',
    `${op} failed${typeof code === 'string' ? ` (${code})` : ''}: ${msg}`,
    {
      path,
      cause,
    },
  );
}

/**
 * Encodes `tensors` and `metadata` with {@link encodeSafetensors} and writes them to `path`
 * atomically: write-file-atomic writes a temporary file next to `path`, fsyncs it, and renames it
 * over `path`; afterwards the directory is fsynced (best effort) so the rename is durable. If
 * encoding or writing fails, or the process dies midway, the previous file at `path` (if any) is
 * left intact; on an ordinary failure the temporary file is removed. Rejects with a
 * {@link CheckpointError} (reason `io` with the system error as `cause`, `too-large` above
 * {@link MAX_WRITE_BYTES}, or the encoder's error) whose `path` is `path`.
 */
export async function writeSafetensors(
  path: string,
  tensors: Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = encodeSafetensors(tensors, metadata);
  } catch (error) {
    throw error instanceof CheckpointError ? error.withPath(path) : error;
  }
  if (bytes.length > MAX_WRITE_BYTES) {
    throw new CheckpointError(
      'too-large',
      `checkpoint is ${bytes.length} bytes; writes are limited to ${MAX_WRITE_BYTES} bytes (one fs.write call)`,
      { path },
    );
  }
  const { writeFileAtomic, dirname, open } = await nodeFs();
  try {
    // fsync defaults to true in write-file-atomic; set it explicitly so it cannot regress.
    await writeFileAtomic(path, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), {
      fsync: true,
    });
  } catch (cause) {
    throw ioError('atomic write', path, cause);
  }
  await fsyncDirectory(open, dirname(path));
}

type Open = Awaited<ReturnType<typeof nodeFs>>['open'];

/** fsyncs a directory so a rename in it survives a crash; ignores platforms that refuse it. */
async function fsyncDirectory(open: Open, dir: string): Promise<void> {
  let handle: Awaited<ReturnType<Open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Directories cannot be opened or fsynced on some platforms (Windows); the data is already
    // fsynced and renamed, so this only loses the durability of the rename itself.
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Reads and decodes the safetensors file at `path` (see {@link decodeSafetensors}; tensors are
 * views into one private buffer holding the file, unless `options.copy`). Reads in chunks, so
 * files over 2 GiB work where the runtime can allocate them. Rejects with a
 * {@link CheckpointError} whose `path` is `path`: reason `io` when the file cannot be read, or
 * the decoder's reason when the content is malformed.
 */
export async function readSafetensors(
  path: string,
  options: DecodeOptions = {},
): Promise<Checkpoint> {
  const bytes = await readWholeFile(path);
  try {
    return decodeSafetensors(bytes, options);
  } catch (error) {
    throw error instanceof CheckpointError ? error.withPath(path) : error;
  }
}

async function readWholeFile(path: string): Promise<Uint8Array> {
  const { open } = await nodeFs();
  let handle: Awaited<ReturnType<Open>>;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw ioError('open', path, cause);
  }
  try {
    const { size } = await handle.stat();
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(size);
    } catch (cause) {
      throw new CheckpointError(
        'too-large',
        `file of ${size} bytes is too large to read into memory`,
        {
          path,
          cause,
        },
      );
    }
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await handle.read(bytes, pos, Math.min(READ_CHUNK, size - pos), pos);
      if (bytesRead === 0) {
        // The file shrank while we read it: decode what is there, which reports truncation.
        return bytes.subarray(0, pos);
      }
      pos += bytesRead;
    }
    return bytes;
  } catch (cause) {
    throw cause instanceof CheckpointError ? cause : ioError('read', path, cause);
  } finally {
    await handle.close().catch(() => {});
  }
}
