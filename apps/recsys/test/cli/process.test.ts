import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/halfstep-recsys.js', import.meta.url));
// A run that trains for far longer than the tests wait.
const LONG = [
  'train',
  '--bottom-mlp',
  '16-4',
  '--top-mlp',
  '8-1',
  '--embedding-dim',
  '4',
  '--batch-size',
  '32',
  '--train-examples',
  '2000000',
  '--validation-examples',
  '128',
  '--cap',
  '500',
  '--backend',
  'js',
  '--quiet',
];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pids whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

/** Starts the CLI; resolves once the training child has printed `pattern` (with its output). */
function startCli(args: string[], pattern: RegExp): Promise<{ cli: ChildProcess; out: string }> {
  const cli = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} in time:\n${out}`)), 60_000);
    const take = (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve({ cli, out });
      }
    };
    cli.stdout?.on('data', take);
    cli.stderr?.on('data', take);
    cli.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the CLI ended early (${code ?? signal}):\n${out}`));
    });
  });
}

async function gone(pid: number, withinMs: number): Promise<boolean> {
  const end = Date.now() + withinMs;
  while (Date.now() < end) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

describe('the CLI process', () => {
  it('prints the bytes the tables will take before allocating them', async () => {
    const { cli, out } = await startCli(
      [...LONG, '--precision', 'fp16-sr', '--optimizer', 'adam'],
      /embedding tables:.*= .*bytes\)?\n/,
    );
    cli.kill('SIGKILL');
    // 26 tables of at most 500 rows, dim 4: float16 weights (2 bytes), float32 Adam state.
    const m =
      /\[fp16-sr\] embedding tables: 26 tables, (\d+) rows x 4 float16: weights .*\((\d+) bytes\) \+ optimizer state .*\((\d+) bytes\)/.exec(
        out,
      );
    expect(m, out).not.toBeNull();
    const rows = Number(m![1]);
    expect(Number(m![2])).toBe(rows * 4 * 2);
    // Adam keeps at least two float32 slots per element.
    const state = Number(m![3]);
    expect(state % (rows * 4)).toBe(0);
    expect(state).toBeGreaterThanOrEqual(rows * 4 * 2 * 4);
  }, 90_000);

  it.each(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGKILL'] as const)(
    'killing the CLI with %s ends its training child',
    async (signal) => {
      const { cli } = await startCli(LONG, /embedding tables:/);
      const pid = cli.pid!;
      const [child] = childrenOf(pid);
      expect(child, 'the training child').toBeGreaterThan(0);
      const exited = new Promise<[number | null, string | null]>((r) =>
        cli.on('exit', (code, sig) => r([code, sig])),
      );
      cli.kill(signal);
      const [code, sig] = await exited;
      if (signal === 'SIGKILL') expect(sig).toBe('SIGKILL');
      else
        expect(
          sig === signal || code === 128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15),
        ).toBe(true);
      expect(await gone(child!, 10_000), `child ${child} still running`).toBe(true);
    },
    90_000,
  );
});
