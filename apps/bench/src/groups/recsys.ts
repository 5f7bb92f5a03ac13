import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchGroup, BenchRow, Measured } from '../harness.js';
import { measurePython } from '../python.js';

const RECSYS_BIN = fileURLToPath(
  new URL('../../../recsys/bin/halfstep-recsys.js', import.meta.url),
);
const TORCH_SCRIPT = fileURLToPath(new URL('../torch_dlrm.py', import.meta.url));
/** Lines of the generated Criteo file (DLRM's split trains on 6/7 of them). */
const EXAMPLES = Number(process.env.BENCH_RECSYS_EXAMPLES ?? 6400);
const MAX_IND_RANGE = 100_000;

function recsys(args: string[]): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [RECSYS_BIN, ...args],
      { maxBuffer: 1 << 22 },
      (error, _stdout, stderr) => resolve({ ok: !error, stderr }),
    );
  });
}

/** Our trainer on `file`, through the CLI: its examples/s (training steps only). */
function halfstepRow(file: string, backend: string, precision: string, dir: string): BenchRow {
  return {
    name: `halfstep ${backend} ${precision}`,
    async measure(): Promise<Measured> {
      const metrics = join(dir, `${backend}-${precision}.json`);
      const r = await recsys([
        'train',
        '--data',
        file,
        '--max-ind-range',
        String(MAX_IND_RANGE),
        '--backend',
        backend,
        '--precision',
        precision,
        '--quiet',
        '--metrics-out',
        metrics,
      ]);
      if (!r.ok) return { unavailable: r.stderr.trim().split('\n').pop() ?? 'failed' };
      return { itemsPerSecond: JSON.parse(readFileSync(metrics, 'utf8')).examplesPerSecond };
    },
  };
}

/** PyTorch's DLRM on the same file (torch_dlrm.py), 2 threads. */
function torchRow(file: string): BenchRow {
  return {
    name: 'PyTorch (2 threads)',
    measure: () =>
      measurePython(
        `import sys, runpy; sys.argv = ${JSON.stringify([TORCH_SCRIPT, file, '--max-ind-range', String(MAX_IND_RANGE), '--threads', '2'])}; runpy.run_path(${JSON.stringify(TORCH_SCRIPT)}, run_name='__main__')`,
      ),
  };
}

/**
 * DLRM training throughput (Criteo Kaggle configuration, batch 128, tables hashed to 100k rows)
 * on one generated file: halfstep-recsys with fp32 and fp16-sr tables on each backend, against
 * PyTorch. Each row is a separate process; examples/s counts the training steps only.
 */
export const recsysGroup: BenchGroup = {
  name: 'recsys',
  async tables() {
    const dir = mkdtempSync(join(tmpdir(), 'halfstep-bench-recsys-'));
    const file = join(dir, 'criteo.tsv');
    const generated = await recsys(['generate', '--out', file, '--examples', String(EXAMPLES)]);
    if (!generated.ok) throw new Error(`halfstep-recsys generate failed: ${generated.stderr}`);
    const rows: BenchRow[] = [];
    for (const backend of ['wasm', 'js']) {
      for (const precision of ['fp32', 'fp16-sr'])
        rows.push(halfstepRow(file, backend, precision, dir));
    }
    rows.push(torchRow(file));
    return [
      {
        title: `DLRM training, ${EXAMPLES} generated Criteo lines, batch 128, 26 x ${MAX_IND_RANGE} x 16 tables`,
        unit: 'examples',
        baseline: 'PyTorch (2 threads)',
        rows,
      },
    ];
  },
};
