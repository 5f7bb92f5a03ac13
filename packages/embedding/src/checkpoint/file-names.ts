import { CheckpointError } from './errors.js';

/**
 * Largest checkpoint `writeSafetensors` writes, in bytes (2^31 - 1): the most one `fs.write`
 * call takes; the file is written with one call (looping only if the system writes less).
 */
export const MAX_WRITE_BYTES = 2 ** 31 - 1;

/** A {@link CheckpointError} (reason `io`) for a failed file operation, with the system error. */
export function ioError(op: string, path: string, cause: unknown): CheckpointError {
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
 * Temporary files of the atomic write are named `<target>.halfstep-<pid>-<thread>-<16 hex>.tmp`
 * (next to the target's real path): the writer's process and worker thread ids, then 64 random
 * bits. The name says who wrote it, so a later save can tell a killed save's leftover from a
 * file another writer is still writing, and it cannot be mistaken for a user's file such as
 * `model.safetensors.5000`.
 */
export function temporaryName(target: string, pid: number, thread: number, random: string): string {
  return `${target}.halfstep-${pid}-${thread}-${random}.tmp`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/**
 * The pattern of the temporary file names of target file name `base` (no directory); groups:
 * pid, thread id.
 */
export function temporaryPattern(base: string): RegExp {
  return new RegExp(
    `^${escapeRegExp(base)}\\.halfstep-(\\d{1,10})-(\\d{1,10})-[0-9a-f]{16}\\.tmp$`,
  );
}
