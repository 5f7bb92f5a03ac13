import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The workspace's packages folder. */
const PACKAGES = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The origin the page is served from: localhost, a secure context, so WebGPU is exposed. */
export const ORIGIN = 'http://localhost:9';

/** The page: an import map sending `@halfstep/*` to each package's TypeScript source. */
export function pageHtml(packages: readonly string[]): string {
  const imports = Object.fromEntries(
    packages.map((name) => [`@halfstep/${name}`, `/${name}/src/index.ts`]),
  );
  return `<!doctype html><meta charset="utf-8"><title>halfstep webgpu</title>
<script type="importmap">${JSON.stringify({ imports })}</script>`;
}

/**
 * A served module: `/<package>/<path>` read from the workspace (a `.js` import names its `.ts`
 * source) and transpiled to JavaScript, types stripped. No bundler: the browser loads the
 * modules one by one through the import map.
 */
export function serveModule(pathname: string): string | undefined {
  const path = join(PACKAGES, pathname.replace(/\.js$/, '.ts'));
  if (!path.startsWith(PACKAGES) || !path.endsWith('.ts')) return undefined;
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  return ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: path,
  }).outputText;
}
