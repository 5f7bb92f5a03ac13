/**
 * What went wrong, as a stable machine-readable code. The human-readable detail is in
 * {@link CheckpointError.message}.
 *
 * - `too-short`: the file is shorter than the 8-byte header-length prefix.
 * - `truncated-header`: the header length in the prefix is larger than the rest of the file.
 * - `header-too-large`: the header length exceeds {@link MAX_HEADER_BYTES}.
 * - `invalid-utf8`: the header bytes are not valid UTF-8.
 * - `invalid-json`: the header is not valid JSON (or not a JSON object).
 * - `invalid-header`: the header is JSON but a tensor entry is malformed (missing field, bad shape).
 * - `unknown-dtype`: a tensor has a dtype this module does not know.
 * - `size-mismatch`: a tensor's byte size disagrees with its shape and dtype.
 * - `truncated-data`: the data section is shorter than the offsets require.
 * - `trailing-data`: the data section has bytes that no tensor covers after the last tensor.
 * - `overlap`: two tensors' byte ranges overlap.
 * - `gap`: there is a hole between two tensors' byte ranges.
 * - `duplicate-name`: a tensor name (or metadata key) occurs twice.
 * - `invalid-metadata`: `__metadata__` is not an object of string values, or a name is unusable.
 * - `invalid-tensor`: a tensor passed to the encoder is inconsistent (wrong array type, bad shape).
 * - `too-large`: the checkpoint is larger than this implementation can hold or write.
 * - `checksum-mismatch`: a tensor's bytes (or the metadata) differ from the SHA-256 checksum the
 *   file records for them: the file was corrupted or edited after it was written.
 * - `invalid-value`: a tensor holds a value its role forbids (a NaN or infinite weight, a
 *   non-finite or negative optimizer state); the message names the tensor and the first position.
 * - `io`: reading or writing the file failed; `cause` holds the system error.
 * - `unsupported`: file checkpoints were used where there is no file system (a browser): the
 *   message says to use the bytes API (`toSafetensors()` / `loadSafetensors(bytes)`).
 */
export type CheckpointErrorReason =
  | 'too-short'
  | 'truncated-header'
  | 'header-too-large'
  | 'invalid-utf8'
  | 'invalid-json'
  | 'invalid-header'
  | 'unknown-dtype'
  | 'size-mismatch'
  | 'truncated-data'
  | 'trailing-data'
  | 'overlap'
  | 'gap'
  | 'duplicate-name'
  | 'invalid-metadata'
  | 'invalid-tensor'
  | 'too-large'
  | 'checksum-mismatch'
  | 'invalid-value'
  | 'io'
  | 'unsupported';

/** Options of the {@link CheckpointError} constructor. */
export interface CheckpointErrorOptions {
  /** The file the error concerns, when there is one. It is prefixed to the message. */
  path?: string;
  /** The underlying error, e.g. a system error from `node:fs`. */
  cause?: unknown;
}

/**
 * The one error type thrown by the checkpoint module for malformed files, inconsistent tensors
 * and failed reads or writes. `message` says exactly what is wrong (and names the file when
 * known); `reason` is a stable code for programs; `path` is the file, when known.
 */
export class CheckpointError extends Error {
  /** Stable code of what went wrong. */
  readonly reason: CheckpointErrorReason;
  /** The file concerned, or `undefined` when decoding/encoding bytes in memory. */
  readonly path: string | undefined;
  /** The message without the `path: ` prefix. */
  readonly detail: string;

  /**
   * Creates an error with the given reason and detail message; when `options.path` is given the
   * message becomes `"<path>: <detail>"`.
   */
  constructor(reason: CheckpointErrorReason, detail: string, options: CheckpointErrorOptions = {}) {
    super(
      options.path === undefined ? detail : `${options.path}: ${detail}`,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'CheckpointError';
    this.reason = reason;
    this.path = options.path;
    this.detail = detail;
  }

  /** Returns a copy of this error that names `path` (used when a decode error came from a file). */
  withPath(path: string): CheckpointError {
    return new CheckpointError(this.reason, this.detail, { path, cause: this.cause });
  }
}
