import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chooseBuild, loadKernels } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('src/wasm.generated.ts', () => {
  it('is what scripts/build-wasm.mjs builds from assembly/ (run `pnpm build` after editing assembly/)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'halfstep-wasm-')), 'wasm.generated.ts');
    execFileSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs'), '--out', out], {
      cwd: root,
    });
    const committed = readFileSync(join(root, 'src', 'wasm.generated.ts'), 'utf8');
    expect(
      readFileSync(out, 'utf8') === committed,
      'src/wasm.generated.ts is stale: run pnpm build',
    ).toBe(true);
  }, 60_000);

  it('holds two valid modules; the SIMD one is chosen where it validates, and reported', async () => {
    const chosen = chooseBuild();
    expect(chosen.build).toBe('simd'); // Node >= 20 has WASM SIMD
    expect(chosen.simdRejected).toBeUndefined();
    const simd = await loadKernels();
    expect(simd.build).toBe('simd');
    expect(simd.exports.simd()).toBe(1);
    const scalar = await loadKernels({ build: 'scalar' });
    expect(scalar.build).toBe('scalar');
    expect(scalar.exports.simd()).toBe(0);
    expect(scalar.simdRejected).toBe('scalar build requested');
  });
});
