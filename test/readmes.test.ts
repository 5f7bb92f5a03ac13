import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Every ```ts block of every package README is a complete program: each is written to a file
 * of its own and run with Node (tsx, the workspace's source condition) in an empty temporary
 * directory, as a reader would run it; all of them are type-checked first (strict, the
 * workspace's settings, one tsc run for all), each as a module of its own, so a block that uses
 * a name it does not define fails. Two blocks are type-checked only, which their test names
 * say: the Redis store's (its 50-million-row table needs a real Redis Cluster) and the backend
 * conformance suite's (a vitest file, which vitest runs). `@halfstep/*` resolve to the
 * workspace's packages through a node_modules of links next to the blocks.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsx = pathToFileURL(createRequire(join(root, 'package.json')).resolve('tsx')).href;
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** A fenced code block of a README: its language, the line its code starts on, its code. */
interface Block {
  readonly lang: string;
  readonly line: number;
  readonly code: string;
}

/** The fenced code blocks of a markdown text, in order. @throws Error for an unclosed fence. */
function codeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([\w-]*)/.exec(lines[i]!);
    if (!open) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !lines[end]!.startsWith(open[1]!)) end++;
    if (end === lines.length) throw new Error(`line ${i + 1}: unclosed code block`);
    blocks.push({ lang: open[2]!, line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** Blocks that are type-checked but not run, and why (matched on the block's code). */
const TYPE_CHECK_ONLY: readonly { readonly pattern: RegExp; readonly why: string }[] = [
  {
    pattern: /createRedisClusterStore/,
    why: 'needs a Redis Cluster large enough for its 50-million-row table',
  },
  { pattern: /describeBackendConformance/, why: 'a vitest file: vitest runs it' },
];

/** Errors that mean this machine has no WebGPU adapter (skipped outside CI). */
const NO_WEBGPU = /WebGPU is not available|no (WebGPU )?adapter/i;

interface Sample {
  readonly pkg: string;
  readonly block: Block;
  readonly file: string;
  readonly typeCheckOnly: string | undefined;
}

const packagesDir = join(root, 'packages');
const packages = readdirSync(packagesDir)
  .filter((name) => existsSync(join(packagesDir, name, 'package.json')))
  .sort();

// The blocks' directory: inside the repository's node_modules (ignored by git), with a
// node_modules of links to the workspace packages.
const cache = join(root, 'node_modules', '.cache');
mkdirSync(cache, { recursive: true });
const scratch = mkdtempSync(join(cache, 'halfstep-readmes-'));
mkdirSync(join(scratch, 'node_modules', '@halfstep'), { recursive: true });
for (const name of packages) {
  const manifest = JSON.parse(readFileSync(join(packagesDir, name, 'package.json'), 'utf8'));
  symlinkSync(join(packagesDir, name), join(scratch, 'node_modules', manifest.name), 'dir');
}
writeFileSync(join(scratch, 'package.json'), '{ "type": "module" }\n');

const samples: Sample[] = packages.flatMap((pkg) => {
  const readme = join(packagesDir, pkg, 'README.md');
  if (!existsSync(readme)) return [];
  return codeBlocks(readFileSync(readme, 'utf8'))
    .filter((block) => block.lang === 'ts' || block.lang === 'typescript')
    .map((block) => ({
      pkg,
      block,
      file: join(scratch, `${pkg}-line-${block.line}.ts`),
      typeCheckOnly: TYPE_CHECK_ONLY.find(({ pattern }) => pattern.test(block.code))?.why,
    }));
});
for (const sample of samples) writeFileSync(sample.file, `${sample.block.code}\n`);

const temporaries: string[] = [scratch];
afterAll(() => {
  for (const path of temporaries) rmSync(path, { recursive: true, force: true });
});

/** Runs `file` with Node and tsx in an empty temporary directory. */
function runFile(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cwd = mkdtempSync(join(tmpdir(), 'halfstep-readme-'));
  temporaries.push(cwd);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=@halfstep/source', '--import', tsx, file],
      { cwd, timeout: 110_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * Type-checks every block in one tsc run; resolves with each block file's errors (the packages'
 * own sources are type-checked by `pnpm typecheck`, so only the blocks' errors are kept).
 */
function typeCheckBlocks(): Promise<Map<string, string[]>> {
  const config = {
    extends: join(root, 'tsconfig.base.json'),
    compilerOptions: { noEmit: true, types: ['node'], lib: ['ES2022', 'DOM'] },
    files: samples.map((s) => relative(scratch, s.file)),
  };
  writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify(config, null, 2));
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [tsc, '-p', join(scratch, 'tsconfig.json'), '--pretty', 'false'],
      { cwd: scratch, timeout: 290_000, encoding: 'utf8', maxBuffer: 16 << 20 },
      (error, stdout, stderr) => {
        const errors = new Map<string, string[]>();
        const text = `${stdout}${stderr}`;
        if (error !== null && error.code !== 1 && error.code !== 2) {
          // tsc did not finish (killed, crashed): every block reports it.
          for (const s of samples) errors.set(s.file, [`tsc failed: ${error.message}\n${text}`]);
        }
        for (const line of text.split('\n')) {
          const sample = samples.find((s) => line.startsWith(`${relative(scratch, s.file)}(`));
          if (sample === undefined) continue;
          const row = Number(/^[^(]*\((\d+),/.exec(line)?.[1] ?? 0);
          const message = `README line ${sample.block.line + row - 1}: ${line.slice(line.indexOf(':') + 1).trim()}`;
          errors.set(sample.file, [...(errors.get(sample.file) ?? []), message]);
        }
        resolve(errors);
      },
    );
  });
}

// Started now, while the first blocks run.
const typeErrors = typeCheckBlocks();

describe('package README code blocks', () => {
  it('are found in every package README, each a module of its own that imports what it uses', () => {
    expect(codeBlocks('```ts\nlet a = 1;\n```\n````md\n```ts\n````\n')).toEqual([
      { lang: 'ts', line: 2, code: 'let a = 1;' },
      { lang: 'md', line: 5, code: '```ts' },
    ]);
    expect(() => codeBlocks('```ts\nconst a = 1;\n')).toThrow(/unclosed/);
    const withBlocks = new Set(samples.map((s) => s.pkg));
    for (const pkg of packages) expect(withBlocks, `packages/${pkg}/README.md`).toContain(pkg);
    for (const { pkg, block } of samples) {
      expect(block.code, `packages/${pkg}/README.md line ${block.line}`).toMatch(/^import /m);
    }
  });

  it('the runner sees a block that throws or rejects', { timeout: 120_000 }, async () => {
    const file = join(scratch, 'runner-check.ts');
    writeFileSync(file, "await Promise.reject(new Error('later'));\n");
    const rejected = await runFile(file);
    expect(rejected.code).not.toBe(0);
    expect(rejected.stderr).toMatch(/later/);
  });

  for (const sample of samples) {
    const where = `packages/${sample.pkg}/README.md line ${sample.block.line}`;
    const title =
      sample.typeCheckOnly === undefined
        ? `${where} type-checks and runs`
        : `${where} type-checks (not run: ${sample.typeCheckOnly})`;
    it(title, { timeout: 400_000 }, async (context) => {
      const errors = (await typeErrors).get(sample.file) ?? [];
      expect(errors, errors.join('\n')).toEqual([]);
      if (sample.typeCheckOnly !== undefined) return;
      const result = await runFile(sample.file);
      if (
        result.code !== 0 &&
        sample.pkg === 'backend-webgpu' &&
        NO_WEBGPU.test(result.stderr) &&
        process.env.CI !== 'true'
      ) {
        console.warn(`${where}: no WebGPU adapter here, not run`);
        context.skip();
      }
      if (result.code !== 0) {
        throw new Error(`${where}: exit ${result.code}\n${result.stderr}\n${result.stdout}`);
      }
    });
  }
});
