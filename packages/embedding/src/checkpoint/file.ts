import { readWholeFile, sha256, writeFileAtomic } from '#checkpoint-io';
import { type DecodeOptions, decodeSafetensors } from './decode.js';
import { encodeSafetensors } from './encode.js';
import { CheckpointError } from './errors.js';
import { MAX_WRITE_BYTES } from './file-names.js';
import type { Checkpoint, Tensor } from './tensor.js';

export { MAX_WRITE_BYTES, temporaryName, temporaryPattern } from './file-names.js';

/**
 * SHA-256 of `bytes` as 64 lowercase hex digits: the hash of checkpoint checksums (see
 * `addChecksums` / `verifyChecksums`). Node's `node:crypto` (OpenSSL) in Node.js; Web Crypto in
 * browsers, or plain JavaScript where a page has no Web Crypto (not a secure context).
 *
 * @example
 * ```ts
 * import { sha256Hex } from '@halfstep/embedding';
 *
 * console.log(await sha256Hex(new TextEncoder().encode('abc'))); // ba7816bf...f20015ad
 * ```
 */
export function sha256Hex(bytes: Uint8Array): Promise<string> {
  return sha256(bytes);
}

/**
 * Encodes `tensors` and `metadata` with {@link encodeSafetensors} and writes them to `path`
 * atomically: a temporary file next to `path` (named `<path>.halfstep-<pid>-<thread>-<hex>.tmp`)
 * is written and fsynced, then renamed over `path`; afterwards the directory is fsynced (best
 * effort) so the rename is durable. Each write first removes the temporaries of the same target
 * that earlier writes left when their process was killed (only names of exactly that pattern,
 * older than this write's own, whose writer no longer runs; never `path` itself). If encoding or
 * writing fails, or the process dies midway, the previous file at `path` (if any) is left intact;
 * on an ordinary failure the temporary file is removed. Writes to the same path from this
 * process run one after another. Node.js only: in a browser it rejects with a
 * {@link CheckpointError} of reason `unsupported` (encode to bytes with
 * {@link encodeSafetensors} instead). Rejects with a {@link CheckpointError} (reason `io` with
 * the system error as `cause`, `too-large` above {@link MAX_WRITE_BYTES}, or the encoder's
 * error) whose `path` is `path`.
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
  await writeFileAtomic(path, bytes);
}

/**
 * Reads and decodes the safetensors file at `path` (see {@link decodeSafetensors}; tensors are
 * views into one private buffer holding the file, unless `options.copy`). Reads in chunks, so
 * files over 2 GiB work where the runtime can allocate them. Node.js only: in a browser it
 * rejects with reason `unsupported` (decode bytes with {@link decodeSafetensors}). Rejects with
 * a {@link CheckpointError} whose `path` is `path`: reason `io` when the file cannot be read, or
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
