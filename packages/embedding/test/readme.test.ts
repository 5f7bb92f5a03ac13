import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Runs every ```ts code block of the package README as a program of its own, the way a reader
 * would: written to test/.readme-tmp/ (inside the package, so that `@halfstep/*` imports resolve
 * through the workspace, git-ignored), run by Node with tsx and the workspace's source condition,
 * in an empty temporary working directory (the blocks may write files such as a checkpoint).
 * A block that throws, or whose top-level promise rejects, fails its test.
 */

const here = dirname(fileURLToPath(import.meta.url));
const readme = join(here, '..', 'README.md');
const blockDir = join(here, '.readme-tmp');
const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** A fenced code block: its language, the README line its code starts on, and its code. */
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
    if (end === lines.length) throw new Error(`README line ${i + 1}: unclosed code block`);
    blocks.push({ lang: open[2]!, line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** The TypeScript blocks (```ts or ```typescript). */
function tsBlocks(markdown: string): Block[] {
  return codeBlocks(markdown).filter((b) => b.lang === 'ts' || b.lang === 'typescript');
}

const written: string[] = [];

/** Runs `code` as a module named `name` in test/.readme-tmp; resolves with its exit and output. */
async function runModule(name: string, code: string) {
  await mkdir(blockDir, { recursive: true });
  const file = join(blockDir, `${name}.ts`);
  written.push(file);
  await writeFile(file, code);
  const cwd = await mkdtemp(join(tmpdir(), 'halfstep-readme-'));
  written.push(cwd);
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--conditions=@halfstep/source', '--import', tsx, file],
      { cwd, timeout: 60_000, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

afterAll(async () => {
  await Promise.all(written.map((path) => rm(path, { recursive: true, force: true })));
});

describe('the README code blocks', () => {
  it('are found: only the ts ones, with the line each starts on', () => {
    const sample = [
      '# x',
      '```sh',
      'npm install x',
      '```',
      '',
      '```ts',
      "console.log('a');",
      '```',
      '````typescript',
      '```ts',
      '````',
    ].join('\n');
    expect(tsBlocks(sample)).toEqual([
      { lang: 'ts', line: 7, code: "console.log('a');" },
      { lang: 'typescript', line: 10, code: '```ts' },
    ]);
    expect(() => codeBlocks('```ts\nconst a = 1;\n')).toThrow(/unclosed/);
  });

  it('a block that throws, or whose promise rejects, fails (the runner can tell)', async () => {
    const thrown = await runModule('throws', "throw new Error('boom');\n");
    expect(thrown.code).not.toBe(0);
    expect(thrown.stderr).toMatch(/boom/);
    const rejected = await runModule('rejects', "await Promise.reject(new Error('later'));\n");
    expect(rejected.code).not.toBe(0);
    expect(rejected.stderr).toMatch(/later/);
    const ok = await runModule(
      'imports',
      "import { createEmbeddingBag } from '@halfstep/embedding';\nconsole.log(typeof createEmbeddingBag);\n",
    );
    expect(ok).toMatchObject({ code: 0, stdout: 'function\n' });
  }, 120_000);

  const blocks = tsBlocks(readFileSync(readme, 'utf8'));
  it('include the usage examples', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    for (const b of blocks) expect(b.code).toMatch(/^import /m);
  });

  for (const block of blocks) {
    it(`the block at README.md line ${block.line} runs`, async () => {
      const result = await runModule(`block-line-${block.line}`, `${block.code}\n`);
      if (result.code !== 0) {
        throw new Error(
          `README.md line ${block.line}: exit ${result.code}\n${result.stderr}\n${result.stdout}`,
        );
      }
    }, 120_000);
  }
});
