import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Measured } from './harness.js';

/**
 * Interpreters to try, in order: `BENCH_PYTHON` alone when set; else `python3` on the PATH, then
 * Debian's `/usr/bin/python3` (where `python3-torch` lives when PATH's python3 is another one).
 */
const interpreters = process.env.BENCH_PYTHON
  ? [process.env.BENCH_PYTHON]
  : ['python3', '/usr/bin/python3'];

function runPython(python: string, script: string, env: Record<string, string>): Promise<Measured> {
  return new Promise((resolve) => {
    execFile(
      python,
      ['-c', script],
      { env: { ...process.env, ...env }, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        const missing = /No module named '([^']+)'/.exec(stderr);
        if (missing) return resolve({ unavailable: `not installed: ${missing[1]}` });
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          return resolve({ unavailable: `not installed: ${python}` });
        }
        if (error) return resolve({ unavailable: `failed: ${stderr.trim().split('\n').pop()}` });
        const last = stdout.trim().split('\n').pop() ?? '';
        const value = Number(last);
        resolve(
          Number.isFinite(value)
            ? { itemsPerSecond: value }
            : { unavailable: `bad output: ${last}` },
        );
      },
    );
  });
}

/**
 * Runs a Python snippet that prints one number, items per second, on its last line of stdout,
 * with the first interpreter (see above) that has the modules it imports. A missing interpreter
 * or module is reported as unavailable ("not installed: torch"), not thrown, so a benchmark
 * without the optional peer says so and goes on.
 */
export async function measurePython(
  script: string,
  env: Record<string, string> = {},
): Promise<Measured> {
  let result: Measured = { unavailable: 'not installed: python3' };
  for (const python of interpreters) {
    result = await runPython(python, script, env);
    if (!('unavailable' in result) || !result.unavailable.startsWith('not installed')) break;
  }
  return result;
}

/** Writes a typed array to a temporary file so that a Python peer measures the very same data. */
export function shareWithPython(data: ArrayBufferView): string {
  const path = join(mkdtempSync(join(tmpdir(), 'halfstep-bench-')), 'data.bin');
  writeFileSync(path, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return path;
}

/**
 * Python prelude: `timed(fn, items)` calls fn repeatedly for about a second (after a warm-up) and
 * prints the median items per second of 5 rounds, as the JS rows do: the protocol `measurePython` reads.
 */
export const pythonTimer = `
import time
def timed(fn, items, rounds=5, round_seconds=0.25):
    fn()
    rates = []
    for _ in range(rounds):
        calls = 0
        start = time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= round_seconds:
                break
        rates.append(calls * items / elapsed)
    rates.sort()
    print(rates[len(rates) // 2])
`;
