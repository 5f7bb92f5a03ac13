import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { extractSamples } from './samples.js';

const docs = fileURLToPath(new URL('..', import.meta.url));
const repository = join(docs, '..');
const EXTENSIONS = { ts: 'ts', python: 'py', sh: 'sh' } as const;
const samples = extractSamples(docs);
// Inside docs/node_modules so that `@halfstep/*` resolve like they do for the site.
const scratchRoot = join(docs, 'node_modules', '.samples');
mkdirSync(scratchRoot, { recursive: true });
const scratch = mkdtempSync(join(scratchRoot, 'run-'));
// ES modules (top-level await), like a reader's project.
writeFileSync(join(scratch, 'package.json'), '{ "type": "module" }\n');

function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const numpy = hasNumpy();
if (!numpy && process.env.CI !== 'true') {
  console.warn('python3 with numpy not found: skipping the Python samples');
}

describe('guide code samples', () => {
  it('finds the runnable samples', () => {
    expect(samples.length).toBeGreaterThan(5);
  });

  for (const [i, sample] of samples.entries()) {
    const name = `${sample.page}:${sample.line} (${sample.language})`;
    const skip = sample.language === 'python' && !numpy && process.env.CI !== 'true';
    it.skipIf(skip)(name, { timeout: 120_000 }, () => {
      const file = join(scratch, `sample-${i}.${EXTENSIONS[sample.language]}`);
      writeFileSync(file, sample.code);
      const [command, args, cwd] = {
        ts: [process.execPath, ['--conditions=@halfstep/source', '--import', 'tsx', file], scratch],
        python: ['python3', [file], scratch],
        sh: ['bash', ['-euo', 'pipefail', file], repository],
      }[sample.language] as [string, string[], string];
      const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: 110_000 });
      // Shell samples run tools (pnpm) that report on stderr; the others must keep it empty.
      if (sample.language !== 'sh') expect(result.stderr, `${name} wrote to stderr`).toBe('');
      expect(result.status, `${name} exit status; stderr:\n${result.stderr}`).toBe(0);
      if (sample.expected.length > 0) {
        const lines = result.stdout
          .trimEnd()
          .split('\n')
          .map((line) => line.trim());
        expect(lines, `${name} printed`).toEqual(sample.expected);
      }
    });
  }
});
