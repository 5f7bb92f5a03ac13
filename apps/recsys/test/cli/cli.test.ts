import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { readSafetensors } from '@halfstep/embedding';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCriteo } from '../../src/data/reader.js';
import { tableSizes } from '../../src/data/synthetic/index.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/halfstep-recsys.js', import.meta.url));
const SMALL = [
  '--bottom-mlp',
  '16-4',
  '--top-mlp',
  '8-1',
  '--embedding-dim',
  '4',
  '--batch-size',
  '32',
  '--quiet',
];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recsys-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs the bin from another working directory (as an installed command would be). */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd: dir,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('halfstep-recsys CLI', () => {
  it('generate writes a Criteo file that the reader parses', async () => {
    const out = join(dir, 'gen.tsv');
    const r = await cli(['generate', '--out', out, '--examples', '300', '--cap', '1000']);
    expect(r.code).toBe(0);
    const stream = readCriteo(out, { tableSizes: tableSizes(1000) });
    let n = 0;
    for await (const example of stream) {
      expect(example.label === 0 || example.label === 1).toBe(true);
      n++;
    }
    expect(n).toBe(300);
    expect(stream.stats.skipped).toBe(0);
  }, 60_000);

  it('train writes metrics JSON with the required keys (built-in data and --data)', async () => {
    const metrics = join(dir, 'metrics.json');
    const r = await cli([
      'train',
      ...SMALL,
      '--train-examples',
      '256',
      '--validation-examples',
      '128',
      '--cap',
      '500',
      '--precision',
      'fp16-sr',
      '--backend',
      'js',
      '--metrics-out',
      metrics,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('backend: js');
    const m = JSON.parse(await readFile(metrics, 'utf8'));
    expect(m).toMatchObject({ precision: 'fp16-sr', backend: 'js' });
    expect(m.examplesPerSecond).toBeGreaterThan(0);
    expect(m.embeddingBytes).toBe(tableSizes(500).reduce((a, b) => a + b, 0) * 4 * 2);
    for (const key of ['logloss', 'auc', 'accuracy'])
      expect(Number.isFinite(m.validation[key])).toBe(true);

    const data = join(dir, 'train.tsv.gz');
    expect((await cli(['generate', '--out', data, '--examples', '700'])).code).toBe(0);
    const fileMetrics = join(dir, 'file-metrics.json');
    const f = await cli([
      'train',
      ...SMALL,
      '--data',
      data,
      '--max-ind-range',
      '1000',
      '--metrics-out',
      fileMetrics,
    ]);
    expect(f.code).toBe(0);
    const fm = JSON.parse(await readFile(fileMetrics, 'utf8'));
    expect(fm.validation.examples).toBe(50); // DLRM split of 700 lines: last day 100, validation half
    expect(fm.embeddingBytes).toBe(26 * 1000 * 4 * 4);
  }, 60_000);

  it('train says up front what the tables take, per precision, with nothing on stderr', async () => {
    const r = await cli([
      'train',
      ...SMALL,
      '--train-examples',
      '64',
      '--validation-examples',
      '32',
      '--cap',
      '300',
      '--precision',
      'bf16-nearest',
      '--optimizer',
      'rowwise-adagrad',
      '--backend',
      'js',
    ]);
    expect(r.code).toBe(0);
    // Small tables: no initialisation progress.
    expect(r.stderr).toBe('');
    // 26 tables, dim 4: bfloat16 weights (2 bytes each), row-wise Adagrad (one float32 a row).
    const rows = tableSizes(300).reduce((a, b) => a + b, 0);
    const weights = rows * 4 * 2;
    const state = rows * 4;
    const line = r.stdout.split('\n').find((l) => l.includes('embedding tables:'));
    expect(line, r.stdout).toMatch(
      new RegExp(
        `^\\[bf16-nearest\\] embedding tables: 26 tables, ${rows} rows x 4 bfloat16: weights .*\\(${weights} bytes\\) \\+ optimizer state .*\\(${state} bytes\\) = .*\\(${weights + state} bytes\\)$`,
      ),
    );
    // Before the tables are made: ahead of the first validation line.
    expect(r.stdout.indexOf('embedding tables:')).toBeLessThan(r.stdout.indexOf('validation @'));
  }, 60_000);

  it('a malformed data file fails with its line number and a non-zero exit', async () => {
    const good = (
      await readFile(fileURLToPath(new URL('../fixtures/criteo-tiny.tsv', import.meta.url)), 'utf8')
    )
      .split('\n')
      .filter(Boolean);
    const bad = join(dir, 'bad.tsv');
    // 16 lines: enough for the 7-day split to leave training and validation examples.
    const rest = Array.from({ length: 13 }, (_, i) => good[i % good.length]);
    await writeFile(bad, [good[0], good[1], 'not\ta\tcriteo\tline', ...rest].join('\n'));
    const r = await cli(['train', ...SMALL, '--data', bad, '--max-ind-range', '100']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bad\.tsv:3: malformed/);
  }, 60_000);

  it('a run interrupted and resumed in a new process ends bit-identical to an uninterrupted one', async () => {
    const args = [
      ...SMALL,
      '--train-examples',
      '640',
      '--validation-examples',
      '128',
      '--cap',
      '300',
      '--precision',
      'fp16-sr',
      '--epochs',
      '2',
    ];
    const whole = join(dir, 'ckpt-whole');
    const split = join(dir, 'ckpt-split');
    expect((await cli(['train', ...args, '--checkpoint', whole])).code).toBe(0);
    const first = await cli(['train', ...args, '--checkpoint', split, '--max-steps', '27']);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('stopped at step 27');
    const second = await cli(['train', ...args, '--checkpoint', split]);
    expect(second.stdout).toContain('resumed from');
    const last = 'step-000000040';
    expect((await readFile(join(split, 'latest'), 'utf8')).trim()).toBe(last);
    const a = await readFile(join(whole, last, 'embeddings.safetensors'));
    const b = await readFile(join(split, last, 'embeddings.safetensors'));
    expect(b.equals(a)).toBe(true);
    const da = await readSafetensors(join(whole, last, 'dense.safetensors'));
    const db = await readSafetensors(join(split, last, 'dense.safetensors'));
    expect(Object.keys(db.tensors).sort()).toEqual(Object.keys(da.tensors).sort());
    for (const [name, t] of Object.entries(da.tensors)) {
      const u = db.tensors[name]!;
      expect(
        Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(
          Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        ),
        name,
      ).toBe(true);
    }
  }, 60_000);

  it('rejects an unknown precision with usage help', async () => {
    const r = await cli(['train', '--precision', 'fp8']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/fp16-sr/);
  }, 60_000);
});
