import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A fresh run id: `r` + time (base 36) + 4 random bytes in hex. */
export function newRunId(): string {
  return `r${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

/** A worker process that failed. */
export class WorkerFailedError extends Error {
  override readonly name = 'WorkerFailedError';
}

/**
 * Starts `workers` child processes of this CLI on this machine, worker r with
 * `args --rank r --run-id <runId>` (they meet through the store, exactly as workers on other
 * machines would), writes each line they print with a `[worker r] ` prefix, and waits for all.
 * When one fails the others are stopped. `env` is added to their environment (e.g. the store's
 * URL with its password, kept out of their arguments).
 * @throws WorkerFailedError naming the first worker that failed and its exit code or signal.
 */
export async function launchWorkers(
  args: readonly string[],
  workers: number,
  runId: string,
  write: (line: string) => void,
  env: Readonly<Record<string, string>> = {},
): Promise<void> {
  const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));
  const tsx = import.meta.resolve('tsx');
  const children: ChildProcess[] = [];
  let failure: WorkerFailedError | null = null;
  const exits = Array.from({ length: workers }, (_, rank) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=@halfstep/source',
        '--import',
        tsx,
        cli,
        ...args,
        '--rank',
        String(rank),
        '--run-id',
        runId,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } },
    );
    children.push(child);
    for (const stream of [child.stdout, child.stderr]) {
      if (stream)
        createInterface({ input: stream }).on('line', (l) => write(`[worker ${rank}] ${l}`));
    }
    return new Promise<void>((resolve) => {
      child.on('error', (error) => {
        failure ??= new WorkerFailedError(`worker ${rank} could not start: ${error.message}`);
        stopOthers();
        resolve();
      });
      child.on('close', (code, signal) => {
        if (code !== 0 && failure === null) {
          failure = new WorkerFailedError(
            `worker ${rank} ${signal ? `was stopped by ${signal}` : `exited with code ${code}`}`,
          );
          stopOthers();
        }
        resolve();
      });
    });
  });
  function stopOthers(): void {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
  const forward = (signal: NodeJS.Signals) => () => {
    for (const c of children) c.kill(signal);
  };
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    await Promise.all(exits);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  if (failure) throw failure;
}
