import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { chooseBuild, loadKernels } from '../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('src/wasm.generated.ts and src/wasm-threads.generated.ts', () => {
  it('are what scripts/build-wasm.mjs builds from assembly/ (run `pnpm build` after editing assembly/)', () => {
    const out = mkdtempSync(join(tmpdir(), 'halfstep-wasm-'));
    execFileSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs'), '--out-dir', out], {
      cwd: root,
    });
    for (const name of ['wasm.generated.ts', 'wasm-threads.generated.ts']) {
      const committed = readFileSync(join(root, 'src', name), 'utf8');
      expect(
        readFileSync(join(out, name), 'utf8') === committed,
        `src/${name} is stale: run pnpm build`,
      ).toBe(true);
    }
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
