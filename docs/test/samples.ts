import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * A fenced code sample of a guide marked to run (`// @run` or `# @run` as its first line):
 * TypeScript runs as an ES module with the workspace sources, Python with python3, shell
 * commands with bash in the repository root.
 */
export interface Sample {
  /** Page path relative to docs/, e.g. `guide/formats.md`. */
  readonly page: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly language: 'ts' | 'python' | 'sh';
  readonly code: string;
  /** The `prints:` comments, in order: what the sample's stdout lines must be. */
  readonly expected: readonly string[];
}

const FENCE = /^```(\w+)[^\n]*\n([\s\S]*?)^```$/gm;
const LANGUAGES: Record<string, Sample['language']> = {
  ts: 'ts',
  typescript: 'ts',
  python: 'python',
  py: 'python',
  sh: 'sh',
  bash: 'sh',
};

/** Markdown pages under `root`, skipping build output and dependencies. */
export function markdownPages(root: string): string[] {
  const skip = new Set(['node_modules', 'site', '.vitepress', 'data', 'public']);
  const pages: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (skip.has(entry.name) || entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.md') && entry.name !== 'README.md') pages.push(path);
    }
  };
  walk(root);
  return pages.sort();
}

/** Every runnable sample of the pages under `root`. */
export function extractSamples(root: string): Sample[] {
  const samples: Sample[] = [];
  for (const path of markdownPages(root)) {
    const text = readFileSync(path, 'utf8');
    for (const match of text.matchAll(FENCE)) {
      const language = LANGUAGES[match[1]!];
      const code = match[2]!;
      const marker = language === 'ts' ? '// @run' : '# @run';
      if (!language || code.split('\n', 1)[0]!.trim() !== marker) continue;
      const comment = language === 'ts' ? '//' : '#';
      const expected = [...code.matchAll(new RegExp(`${comment} prints: (.*)$`, 'gm'))].map((m) =>
        m[1]!.trim(),
      );
      samples.push({
        page: relative(root, path),
        line: text.slice(0, match.index).split('\n').length,
        language,
        code,
        expected,
      });
    }
  }
  return samples;
}
