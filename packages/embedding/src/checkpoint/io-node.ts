// The Node.js side of file checkpoints (package.json `imports`: `#checkpoint-io` under the
// `node` condition): atomic writes, chunked reads and SHA-256 with Node's file system and
// OpenSSL. Browsers get io-browser.ts instead, with the same exports.
import type { BigIntStats, Stats } from 'node:fs';
import { CheckpointError } from './errors.js';
import { ioError, MAX_WRITE_BYTES, temporaryName, temporaryPattern } from './file-names.js';

/**
 * Node's file system and hashing, loaded on first use. `fs` is the callback module, whose
 * functions are looked up at each call (tests replace them to inject failures).
 */
async function node() {
  const [fs, { open }, path, { createHash, randomBytes }, { threadId }] = await Promise.all([
    import('node:fs').then((m) => m.default),
    import('node:fs/promises'),
    import('node:path'),
    import('node:crypto'),
    import('node:worker_threads'),
  ]);
  return { fs, open, path, createHash, randomBytes, threadId };
}

type Node = Awaited<ReturnType<typeof node>>;

/** SHA-256 of `bytes` as 64 lowercase hex digits, with `node:crypto` (OpenSSL). */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const { createHash } = await node();
  return createHash('sha256').update(bytes).digest('hex');
}

const READ_CHUNK = 1 << 30;

/** Temporary files this thread is writing right now (absolute paths). */
const inFlight = new Set<string>();

/** Writes to the same target, one after another (by resolved path). */
const queues = new Map<string, Promise<void>>();

function serialized(key: string, job: () => Promise<void>): Promise<void> {
  const run = (queues.get(key) ?? Promise.resolve()).then(job);
  const tail = run.catch(() => {});
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

function call<T>(fn: (...args: never[]) => unknown, ...args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    (fn as (...a: unknown[]) => void)(...args, (error: unknown, value: T) =>
      error ? reject(error) : resolve(value),
    );
  });
}

/** Whether process `pid` exists on this host (EPERM: it does, owned by someone else). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}

/**
 * Removes temporary files of target `real` left by earlier saves that died (killed, crashed, or
 * lost power) before they could rename or remove them: files in the target's directory whose
 * names match {@link temporaryPattern} exactly, that are regular files, older (mtime) than
 * `current` (this save's own temporary, just created), and whose writer is gone: its process no
 * longer runs, or it is this process and thread but not one of its writes in flight. The target
 * itself and any other file never match. Best effort: errors are ignored (a temporary that cannot
 * be removed now is tried again at the next save). Returns the paths removed.
 */
async function removeStaleTemporaries(n: Node, real: string, current: string): Promise<string[]> {
  const { fs, path, threadId } = n;
  const dir = path.dirname(real);
  const pattern = temporaryPattern(path.basename(real));
  const removed: string[] = [];
  let names: string[];
  let now: bigint;
  try {
    names = await call<string[]>(fs.readdir, dir);
    now = (await call<BigIntStats>(fs.lstat, current, { bigint: true })).mtimeNs;
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (m === null) continue;
    const file = path.join(dir, name);
    if (file === current || inFlight.has(file)) continue;
    const pid = Number(m[1]);
    const thread = Number(m[2]);
    const gone = pid === process.pid ? thread === threadId : !running(pid);
    if (!gone) continue;
    try {
      const stats = await call<BigIntStats>(fs.lstat, file, { bigint: true });
      if (!stats.isFile() || stats.mtimeNs >= now) continue;
      await call<void>(fs.unlink, file);
      removed.push(file);
    } catch {
      // Gone already, or not ours to remove: leave it.
    }
  }
  return removed;
}

/**
 * Writes `bytes` to `target` atomically: a new temporary file next to the target's real path
 * (see {@link temporaryName}; created exclusively, with the mode of the file it replaces), the
 * stale temporaries of earlier killed saves removed (see {@link removeStaleTemporaries}), the
 * data written and fsynced, then renamed over the target. The target is never opened for
 * writing, truncated or removed: until the rename it holds the previous file, after it the new
 * one. On failure the temporary file is removed and the system error thrown. Returns the path
 * written (the target's real path).
 */
async function writeAtomic(n: Node, target: string, bytes: Uint8Array): Promise<string> {
  const { fs, randomBytes, threadId } = n;
  const real = n.path.resolve(await call<string>(fs.realpath, target).catch(() => target));
  const previous = await call<Stats>(fs.stat, real).catch(() => undefined);
  const tmp = temporaryName(real, process.pid, threadId, randomBytes(8).toString('hex'));
  inFlight.add(tmp);
  let fd: number | undefined;
  let renamed = false;
  try {
    fd = await call<number>(fs.open, tmp, 'wx', previous ? previous.mode & 0o7777 : 0o666);
    await removeStaleTemporaries(n, real, tmp);
    let written = 0;
    while (written < bytes.length) {
      const length = Math.min(bytes.length - written, MAX_WRITE_BYTES);
      const count = await call<number>(fs.write, fd, bytes, written, length, written);
      if (!(count > 0)) throw new Error(`write returned ${count} of ${length} bytes`);
      written += count;
    }
    await call<void>(fs.fsync, fd);
    const closing = fd;
    fd = undefined;
    await call<void>(fs.close, closing);
    if (previous) {
      // Keep the replaced file's mode exactly (the umask applied at open) and, as root, its owner.
      await call<void>(fs.chmod, tmp, previous.mode & 0o7777);
      if (process.getuid?.() === 0) {
        await call<void>(fs.chown, tmp, previous.uid, previous.gid).catch(() => {});
      }
    }
    await call<void>(fs.rename, tmp, real);
    renamed = true;
    return real;
  } finally {
    if (fd !== undefined) await call<void>(fs.close, fd).catch(() => {});
    inFlight.delete(tmp);
    if (!renamed) await call<void>(fs.unlink, tmp).catch(() => {});
  }
}

/**
 * Writes `bytes` to `path` atomically (see `writeSafetensors`): one write after another per
 * resolved path, then the directory fsynced (best effort) so that the rename is durable.
 * Rejects with a {@link CheckpointError} (reason `io`, the system error as `cause`).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const n = await node();
  let real = path;
  try {
    await serialized(n.path.resolve(path), async () => {
      real = await writeAtomic(n, path, bytes);
    });
  } catch (cause) {
    throw ioError('atomic write', path, cause);
  }
  await fsyncDirectory(n.open, n.path.dirname(real));
}

type Open = Node['open'];

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
 * The whole file at `path`, read in chunks (files over 2 GiB work where the runtime can allocate
 * them). Rejects with a {@link CheckpointError}: `io` when it cannot be read, `too-large` when
 * it does not fit in memory.
 */
export async function readWholeFile(path: string): Promise<Uint8Array> {
  const { open } = await node();
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
