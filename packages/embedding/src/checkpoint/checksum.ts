import { DTYPES, HOST_LITTLE_ENDIAN, swapBytes } from './dtypes.js';
import { compareCodePoints } from './encode.js';
import { CheckpointError } from './errors.js';
import type { Checkpoint, Tensor } from './tensor.js';

/**
 * Metadata keys `halfstep.checksum.<tensor name>` hold the checksum of each tensor's bytes;
 * `halfstep.checksum.__metadata__` holds the checksum of the other metadata entries.
 */
export const CHECKSUM_KEY_PREFIX = 'halfstep.checksum.';

/** The name, after {@link CHECKSUM_KEY_PREFIX}, of the checksum of the metadata itself. */
export const METADATA_CHECKSUM_NAME = '__metadata__';

/**
 * The hash every checksum uses: SHA-256 of `bytes`, as 64 lowercase hex digits. Supplied by the
 * caller so that this module stays free of platform APIs (Node's `node:crypto` in `file.ts`).
 */
export type Sha256 = (bytes: Uint8Array) => string | Promise<string>;

const VALUE = /^sha256:([0-9a-f]{64})$/;

/** What {@link verifyChecksums} found. */
export interface ChecksumReport {
  /** Tensors (and `__metadata__`) whose checksum was recorded and matched. */
  readonly verified: readonly string[];
  /** Tensors (and `__metadata__`) that have no checksum: only when the file records none. */
  readonly unchecked: readonly string[];
}

/** The tensor's data as the file stores it: little-endian bytes (a copy on big-endian hosts). */
function fileBytes(tensor: Tensor): Uint8Array {
  const d = tensor.data;
  const view = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  if (HOST_LITTLE_ENDIAN) return view;
  const copy = view.slice();
  swapBytes(copy, DTYPES[tensor.dtype].size);
  return copy;
}

/**
 * The bytes the metadata checksum covers: the UTF-8 JSON array of the `[key, value]` pairs of
 * every metadata entry that is not a checksum, sorted by key (code point order).
 */
function metadataBytes(metadata: Readonly<Record<string, string>>): Uint8Array {
  const entries = Object.keys(metadata)
    .filter((key) => !key.startsWith(CHECKSUM_KEY_PREFIX))
    .sort(compareCodePoints)
    .map((key) => [key, metadata[key]]);
  return new TextEncoder().encode(JSON.stringify(entries));
}

/**
 * Returns `metadata` plus a checksum for every tensor (`halfstep.checksum.<name>` =
 * `sha256:<hex>` of its little-endian bytes, as in the file) and one for the metadata itself
 * (`halfstep.checksum.__metadata__`, over the other entries). Pass the result to the writer.
 * @throws CheckpointError (`invalid-metadata`) when `metadata` already has a checksum key or a
 *   tensor is named `__metadata__`.
 */
export async function addChecksums(
  tensors: Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>>,
  sha256: Sha256,
): Promise<Record<string, string>> {
  const out: Record<string, string> = { ...metadata };
  for (const key of Object.keys(metadata)) {
    if (key.startsWith(CHECKSUM_KEY_PREFIX)) {
      throw new CheckpointError(
        'invalid-metadata',
        `metadata key ${JSON.stringify(key)} is reserved for the checksums this writer adds`,
      );
    }
  }
  out[CHECKSUM_KEY_PREFIX + METADATA_CHECKSUM_NAME] =
    `sha256:${await sha256(metadataBytes(metadata))}`;
  for (const name of Object.keys(tensors)) {
    out[CHECKSUM_KEY_PREFIX + name] = `sha256:${await sha256(fileBytes(tensors[name]!))}`;
  }
  return out;
}

/**
 * Checks the checksums that `checkpoint` (as decoded) records against its tensors and metadata.
 * A file that records no checksum at all (written by PyTorch's safetensors, or by halfstep before
 * checksums existed) passes with every tensor in `unchecked`: the caller decides whether to warn.
 * A file that records any checksum must record one for every tensor and for the metadata.
 * Throws a {@link CheckpointError} naming the tensor: `checksum-mismatch` when the bytes differ
 * from their checksum; `invalid-metadata` when a checksum is malformed, names no tensor, or is
 * missing while others are present.
 */
export async function verifyChecksums(
  checkpoint: Checkpoint,
  sha256: Sha256,
): Promise<ChecksumReport> {
  const { tensors, metadata } = checkpoint;
  const recorded = new Map<string, string>();
  for (const key of Object.keys(metadata)) {
    if (!key.startsWith(CHECKSUM_KEY_PREFIX)) continue;
    const name = key.slice(CHECKSUM_KEY_PREFIX.length);
    const value = metadata[key]!;
    const m = VALUE.exec(value);
    if (m === null) {
      throw new CheckpointError(
        'invalid-metadata',
        `metadata ${JSON.stringify(key)} is ${JSON.stringify(value)}, expected "sha256:" and 64 lowercase hex digits`,
      );
    }
    if (name !== METADATA_CHECKSUM_NAME && !Object.hasOwn(tensors, name)) {
      throw new CheckpointError(
        'invalid-metadata',
        `metadata ${JSON.stringify(key)} is the checksum of tensor ${JSON.stringify(name)}, which the file does not have`,
      );
    }
    recorded.set(name, m[1]!);
  }
  const names = [METADATA_CHECKSUM_NAME, ...Object.keys(tensors)];
  if (recorded.size === 0) return { verified: [], unchecked: names };
  const verified: string[] = [];
  for (const name of names) {
    const what =
      name === METADATA_CHECKSUM_NAME ? 'the metadata' : `tensor ${JSON.stringify(name)}`;
    const expected = recorded.get(name);
    if (expected === undefined) {
      throw new CheckpointError(
        'invalid-metadata',
        `${what} has no checksum (metadata ${JSON.stringify(CHECKSUM_KEY_PREFIX + name)}) although the file records checksums for others`,
      );
    }
    const bytes =
      name === METADATA_CHECKSUM_NAME ? metadataBytes(metadata) : fileBytes(tensors[name]!);
    const actual = await sha256(bytes);
    if (actual !== expected) {
      throw new CheckpointError(
        'checksum-mismatch',
        `${what}: SHA-256 of its ${bytes.length} bytes is ${actual}, the file records ${expected}: the ${name === METADATA_CHECKSUM_NAME ? 'header metadata' : 'data'} is corrupted`,
      );
    }
    verified.push(name);
  }
  return { verified, unchecked: [] };
}
