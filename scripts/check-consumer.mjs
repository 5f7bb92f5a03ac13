#!/usr/bin/env node
// The packages as a user gets them (run by `pnpm check:packages`, after `turbo run build`):
//
//  1. packs every package under packages/ once (`pnpm pack`: workspace versions replaced);
//  2. lints each tarball: publint (strict), @arethetypeswrong/cli (profile esm-only),
//     `npm publish --dry-run`, and every relative link of its README.md must name a file that is
//     in the tarball;
//  3. installs the tarballs into a fresh npm project in a temporary directory;
//  4. type-checks a file importing every public entry under strict, noUncheckedIndexedAccess,
//     exactOptionalPropertyTypes and skipLibCheck: false, with moduleResolution bundler and
//     node16, and the browser entries again with the DOM library alone (no @types/node);
//  5. bundles each browser entry (and a few typical imports) with esbuild for the browser, fails
//     on any Node.js built-in module in a bundle (or the WASM threads build in a browser bundle),
//     runs the bundles and a smoke test in headless Chromium, and prints the bundle sizes
//     (minified and gzipped), writing them to docs/data/bundle-sizes.json.
//
// Options: --keep (keep the temporary directory), --skip-browser (no Chromium), --only <step,...>
// (steps: lint, types, bundle). Environment: CHROMIUM_PATH (default /usr/bin/chromium); in CI
// (CI=true) a missing Chromium is an error, elsewhere the browser run is skipped with a message.
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? new Set(args[onlyIndex + 1]?.split(',')) : undefined;
const step = (name) => only === undefined || only.has(name);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const browserRun = !args.includes('--skip-browser');

const started = performance.now();
const failures = [];
const fail = (message) => {
  failures.push(message);
  console.error(`  FAIL ${message}`);
};
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const section = (title) => console.log(`\n== ${title} (${elapsed()})`);

/** Runs a command; rejects with its output when it fails. */
async function sh(command, commandArgs, options = {}) {
  try {
    return await run(command, commandArgs, { maxBuffer: 64 << 20, encoding: 'utf8', ...options });
  } catch (error) {
    const output = `${error.stdout ?? ''}${error.stderr ?? ''}`.trim();
    throw new Error(`${command} ${commandArgs.join(' ')} failed:\n${output || error.message}`);
  }
}

/** Runs `jobs` (functions returning promises) at most `limit` at a time, in order. */
async function pool(jobs, limit) {
  const results = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

// ---------------------------------------------------------------------------------------------
// The packages and their public entries.

const packageDirs = readdirSync(join(root, 'packages'))
  .map((name) => join(root, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .sort();
const packages = packageDirs.map((dir) => {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const entries = Object.keys(manifest.exports ?? { '.': null })
    .filter((key) => key !== './package.json')
    .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`));
  return { dir, name: manifest.name, manifest, entries };
});
const allEntries = packages.flatMap((p) => p.entries);

/**
 * Entries that only work in Node.js: they are type-checked with @types/node but neither
 * bundled for a browser nor type-checked without it.
 */
const NODE_ONLY = new Map([
  ['@halfstep/store-redis', 'Redis Cluster over TCP (ioredis)'],
  ['@halfstep/backend/testing', 'the conformance suite, for vitest'],
  ['@halfstep/backend-wasm/threads', 'worker_threads'],
]);
for (const entry of NODE_ONLY.keys()) {
  if (!allEntries.includes(entry)) fail(`NODE_ONLY names ${entry}, which no package exports`);
}
const browserEntries = allEntries.filter((entry) => !NODE_ONLY.has(entry));
/** Entries that are imported for their effect (they register a backend). */
const sideEffectEntry = (entry) => entry.endsWith('/register');

const work = mkdtempSync(join(tmpdir(), 'halfstep-consumer-'));
const tarballDir = join(work, 'tarballs');
const project = join(work, 'project');
mkdirSync(tarballDir);
mkdirSync(project);

try {
  // -------------------------------------------------------------------------------------------
  section('pack');
  await sh(
    'npx',
    ['-y', 'pnpm@10', '-r', '--filter', './packages/*', 'pack', '--pack-destination', tarballDir],
    {
      cwd: root,
    },
  );
  const tarballs = new Map();
  for (const p of packages) {
    const file = join(
      tarballDir,
      `${p.name.replace(/^@/, '').replace('/', '-')}-${p.manifest.version}.tgz`,
    );
    if (!existsSync(file)) fail(`${p.name}: pnpm pack wrote no ${relative(work, file)}`);
    tarballs.set(p.name, file);
  }
  console.log(`${tarballs.size} tarballs`);

  // -------------------------------------------------------------------------------------------
  section('install the tarballs into a fresh npm project');
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'halfstep-consumer', private: true, type: 'module' }, null, 2)}\n`,
  );
  const typesNode = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies[
    '@types/node'
  ];
  const catalog = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const typesNodeRange =
    typesNode === 'catalog:' ? /"@types\/node": (\S+)/.exec(catalog)?.[1] : typesNode;
  await sh(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--loglevel=error',
      ...tarballs.values(),
      `@types/node@${typesNodeRange ?? '20'}`,
    ],
    { cwd: project },
  );
  // The optional peer of @halfstep/backend/testing, from the workspace (no second download).
  const vitest = dirname(createRequire(join(root, 'package.json')).resolve('vitest/package.json'));
  symlinkSync(vitest, join(project, 'node_modules', 'vitest'), 'dir');
  console.log(`installed into ${project}`);

  // -------------------------------------------------------------------------------------------
  if (step('lint')) {
    section('lint each tarball: publint, attw, npm publish --dry-run, README links');
    // @arethetypeswrong/cli's checks in this process (one TypeScript for every package), with
    // the CLI's own profile and exit rule: what `attw <tarball> --profile esm-only` runs.
    const cli = realpathSync(join(root, 'node_modules', '@arethetypeswrong', 'cli'));
    const attw = await import(
      pathToFileURL(createRequire(join(cli, 'package.json')).resolve('@arethetypeswrong/core'))
    );
    const { profiles } = await import(pathToFileURL(join(cli, 'dist', 'profiles.js')));
    const { getExitCode } = await import(pathToFileURL(join(cli, 'dist', 'getExitCode.js')));
    const attwOptions = { ignoreResolutions: profiles['esm-only'].ignoreResolutions };
    const jobs = packages.map((p) => async () => {
      const tarball = tarballs.get(p.name);
      const problems = [];
      const data = readFileSync(tarball);
      const lint = await publint({
        pack: { tarball: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) },
        strict: true,
        log: false,
      });
      for (const message of lint.messages) {
        const text = `publint (${message.type}): ${formatMessage(message, lint.pkg) ?? message.code}`;
        // As `publint --strict`: errors and warnings fail, suggestions are shown.
        if (message.type === 'suggestion') console.log(`  ${p.name}: ${text}`);
        else problems.push(text);
      }
      const analysis = await attw.checkPackage(
        attw.createPackageFromTarballData(new Uint8Array(data)),
      );
      if (!analysis.types) problems.push('attw: the package has no types');
      else if (getExitCode(analysis, attwOptions) !== 0) {
        for (const problem of analysis.problems) {
          const { kind, entrypoint, resolutionKind } = problem;
          if (
            resolutionKind !== undefined &&
            attwOptions.ignoreResolutions.includes(resolutionKind)
          )
            continue;
          problems.push(
            `attw (esm-only): ${kind} at ${entrypoint ?? ''} (${resolutionKind ?? ''})`,
          );
        }
      }
      try {
        await sh('npm', ['publish', '--dry-run', '--access', 'public', tarball], { cwd: work });
      } catch (error) {
        problems.push(`npm publish --dry-run: ${error.message}`);
      }
      problems.push(...readmeLinks(join(project, 'node_modules', p.name)));
      const entries = analysis.types ? Object.keys(analysis.entrypoints).length : 0;
      return { name: p.name, problems, entries };
    });
    for (const { name, problems, entries } of await pool(jobs, 2)) {
      if (problems.length === 0) console.log(`  ok ${name} (${entries} entries)`);
      for (const problem of problems) fail(`${name}: ${problem}`);
    }
  }

  // -------------------------------------------------------------------------------------------
  if (step('types')) {
    section('type-check every public entry as a consumer');
    await typeCheck();
  }

  // -------------------------------------------------------------------------------------------
  if (step('bundle')) {
    section('bundle the browser entries (esbuild) and run them in Chromium');
    await bundles();
  }
} finally {
  if (keep) console.log(`\nkept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

console.log(`\ncheck-consumer: ${failures.length} failure(s) in ${elapsed()}`);
if (failures.length > 0) {
  for (const failure of failures) console.error(`- ${failure}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------

/** The relative links of `dir`/README.md that name no file of the installed tarball. */
function readmeLinks(dir) {
  const problems = [];
  const readme = join(dir, 'README.md');
  if (!existsSync(readme)) return ['no README.md in the tarball'];
  const text = readFileSync(readme, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)|^\[[^\]]+\]:\s*(\S+)/gm)) {
    const target = match[1] ?? match[2];
    if (/^([a-z][a-z0-9+.-]*:|#|\/\/)/i.test(target)) continue;
    const path = decodeURIComponent(target.split('#')[0]);
    if (path === '') continue;
    const file = resolve(dir, path);
    if (!file.startsWith(`${dir}/`) || !existsSync(file)) {
      problems.push(
        `README.md links ${target}, which is not in the tarball (ship it with "files", or link an absolute URL)`,
      );
    }
  }
  return problems;
}

/** Writes the consumer's files and runs tsc with each configuration. */
async function typeCheck() {
  const namespace = (entries) =>
    entries.map((entry, i) => `import * as m${i} from '${entry}';`).join('\n');
  const uses = (entries) =>
    `export const modules = [${entries.map((_, i) => `m${i}`).join(', ')}];`;
  // What only type-checks when the packages' types say what they should.
  const usage = `
import { createEmbeddingBag, type BackendName } from '@halfstep/embedding';
import { sgd } from '@halfstep/optim';

const names: BackendName[] = ['js', 'wasm', 'webgpu']; // the register entries add their names
// @ts-expect-error: no backend of this name is registered
const unknown: BackendName = 'nope';
export const bag = await createEmbeddingBag({ rows: 8, dim: 4, optimizer: sgd({ lr: 0.1 }), backend: 'wasm' });
export const bytes = await bag.toSafetensors();
export const download = new Blob([bytes], { type: 'application/octet-stream' }); // a BlobPart
await bag.loadSafetensors(bytes, { onWarning: (message: string) => console.log(message) });
export { names, unknown };
`;
  writeFileSync(
    join(project, 'node.ts'),
    `${namespace(allEntries)}\n${uses(allEntries)}\n${usage}`,
  );
  writeFileSync(
    join(project, 'browser.ts'),
    `${namespace(browserEntries)}\n${uses(browserEntries)}\n${usage}`,
  );
  const strict = {
    target: 'ES2022',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    noEmit: true,
    isolatedModules: true,
    verbatimModuleSyntax: true,
  };
  const configs = {
    // @webgpu/types (backend-webgpu's GPU types) needs the DOM library's names.
    'bundler (Node types, DOM library)': {
      ...strict,
      module: 'ESNext',
      moduleResolution: 'bundler',
      lib: ['ES2022', 'DOM'],
      types: ['node'],
      files: ['node.ts'],
    },
    'node16 (Node types, DOM library)': {
      ...strict,
      module: 'node16',
      moduleResolution: 'node16',
      lib: ['ES2022', 'DOM'],
      types: ['node'],
      files: ['node.ts'],
    },
    'bundler, DOM only (no @types/node; browser entries)': {
      ...strict,
      module: 'ESNext',
      moduleResolution: 'bundler',
      lib: ['ES2022', 'DOM', 'DOM.Iterable'],
      types: [],
      files: ['browser.ts'],
    },
  };
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const jobs = Object.entries(configs).map(
    ([title, { files, ...compilerOptions }], i) =>
      async () => {
        const file = `tsconfig.${i}.json`;
        writeFileSync(join(project, file), JSON.stringify({ compilerOptions, files }, null, 2));
        try {
          await sh(process.execPath, [tsc, '-p', file, '--pretty', 'false'], { cwd: project });
          return { title, error: undefined };
        } catch (error) {
          return { title, error: error.message };
        }
      },
  );
  for (const { title, error } of await pool(jobs, 2)) {
    if (error === undefined) console.log(`  ok ${title}`);
    else fail(`tsc ${title}:\n${error}`);
  }
}

/** Whether `path` names a Node.js built-in module. */
function isBuiltin(path) {
  return path.startsWith('node:') || builtinModules.includes(path.split('/')[0]);
}

/** Bundles `source` (an ES module's text, resolved from the project) for the browser. */
async function bundle(name, source) {
  const result = await esbuild.build({
    stdin: { contents: source, resolveDir: project, sourcefile: `${name}.js`, loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const builtins = new Set();
  for (const [input, { imports }] of Object.entries(result.metafile.inputs)) {
    for (const imported of imports) {
      if (imported.external && isBuiltin(imported.path)) {
        builtins.add(`${imported.path} (imported by ${input.replace(/^.*node_modules\//, '')})`);
      }
    }
  }
  const code = result.outputFiles[0].contents;
  return { code, builtins: [...builtins], warnings: result.warnings };
}

async function bundles() {
  const sizes = [];
  const built = new Map();
  // The WASM SIMD + threads build differs from the SIMD one in a few bytes only: its base64
  // lines that the SIMD and scalar builds lack tell whether a bundle carries it.
  const wasmSource = (file) =>
    readFileSync(join(root, 'packages', 'backend-wasm', 'src', file), 'utf8');
  const mainBuilds = wasmSource('wasm.generated.ts');
  const threadsMarkers = [...wasmSource('wasm-threads.generated.ts').matchAll(/^ {2}'([^']+)'/gm)]
    .map((m) => m[1])
    .filter((line) => !mainBuilds.includes(line));
  if (threadsMarkers.length === 0) fail('cannot tell the WASM threads build from the others');
  const record = async (kind, name, source) => {
    let result;
    try {
      result = await bundle(name, source);
    } catch (error) {
      fail(`esbuild ${name}: ${error.message}`);
      return;
    }
    for (const builtin of result.builtins) {
      fail(`browser bundle of ${name} imports the Node.js built-in ${builtin}`);
    }
    const text = Buffer.from(result.code).toString('utf8');
    if (threadsMarkers.some((marker) => text.includes(marker))) {
      fail(`browser bundle of ${name} carries the WASM SIMD + threads build`);
    }
    built.set(name, text);
    sizes.push({
      kind,
      name,
      minified: result.code.length,
      gzip: gzipSync(result.code, { level: 9 }).length,
    });
  };
  for (const entry of browserEntries) {
    await record(
      'entry',
      entry,
      sideEffectEntry(entry) ? `import '${entry}';` : `export * from '${entry}';`,
    );
  }
  const scenarios = {
    'createEmbeddingBag + sgd (js backend)':
      "export { createEmbeddingBag } from '@halfstep/embedding';\nexport { sgd } from '@halfstep/optim';",
    'createEmbeddingBag + sgd + the wasm backend':
      "import '@halfstep/backend-wasm/register';\nexport { createEmbeddingBag } from '@halfstep/embedding';\nexport { sgd } from '@halfstep/optim';",
    'createEmbeddingBag + sgd + the webgpu backend':
      "import '@halfstep/backend-webgpu/register';\nexport { createEmbeddingBag } from '@halfstep/embedding';\nexport { sgd } from '@halfstep/optim';",
    'one engine: createXoshiro128PlusPlus (@halfstep/rng/xoshiro)':
      "export { createXoshiro128PlusPlus } from '@halfstep/rng/xoshiro';",
    'one engine: createPhilox (@halfstep/rng/philox)':
      "export { createPhilox } from '@halfstep/rng/philox';",
    'every engine: createEngine (@halfstep/rng)': "export { createEngine } from '@halfstep/rng';",
    'float16 codec: encode + decode (@halfstep/codecs)':
      "export { decode, encode } from '@halfstep/codecs';",
  };
  for (const [name, source] of Object.entries(scenarios)) await record('import', name, source);
  const smoke = readFileSync(join(root, 'scripts', 'consumer-smoke.mjs'), 'utf8');
  await record('test', 'browser smoke test', smoke);

  const width = Math.max(...sizes.map((s) => s.name.length));
  console.log(`\n  ${'bundle'.padEnd(width)}  minified      gzip`);
  for (const s of sizes.filter((s) => s.kind !== 'test')) {
    console.log(
      `  ${s.name.padEnd(width)}  ${kb(s.minified).padStart(8)}  ${kb(s.gzip).padStart(8)}`,
    );
  }
  const report = {
    description:
      'Browser bundles of the published packages: esbuild --bundle --minify --platform=browser --format=esm, gzip -9. "entry": everything an entry exports (export * from it, or the import of a register entry); "import": a typical import, tree-shaken. Written by scripts/check-consumer.mjs (pnpm check:packages).',
    esbuild: esbuild.version,
    bundles: sizes
      .filter((s) => s.kind !== 'test')
      .map(({ kind, name, minified, gzip }) => ({
        kind,
        name,
        minifiedBytes: minified,
        gzipBytes: gzip,
      })),
  };
  mkdirSync(join(root, 'docs', 'data'), { recursive: true });
  writeFileSync(
    join(root, 'docs', 'data', 'bundle-sizes.json'),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  console.log('  wrote docs/data/bundle-sizes.json');

  if (!browserRun) return;
  if (!existsSync(CHROMIUM)) {
    const reason = `${CHROMIUM} not found (apt-get install chromium): not running the bundles in a browser`;
    if (process.env.CI === 'true') fail(reason);
    else console.warn(`  ${reason}`);
    return;
  }
  await inChromium(built);
}

function kb(bytes) {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/**
 * Loads every bundle as a module in headless Chromium (served from memory), on two origins: a
 * secure one (http://localhost, with Web Crypto) and one that is not (no `crypto.subtle`, so the
 * checksums fall back to plain JavaScript). Fails on a page error, a console error, or a failed
 * check of the smoke test (scripts/consumer-smoke.mjs).
 */
async function inChromium(built) {
  const require = createRequire(join(root, 'docs', 'package.json'));
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  try {
    for (const origin of ['http://localhost', 'http://halfstep.test']) {
      const page = await browser.newPage();
      const errors = [];
      page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(`console: ${message.text()}`);
      });
      const names = [...built.keys()];
      await page.route(`${origin}/**`, (route) => {
        const path = new URL(route.request().url()).pathname;
        if (path === '/') {
          return route.fulfill({
            contentType: 'text/html',
            body: '<!doctype html><title>halfstep</title>',
          });
        }
        const i = Number(/^\/bundle-(\d+)\.js$/.exec(path)?.[1]);
        const body = built.get(names[i]);
        return body === undefined
          ? route.fulfill({ status: 404, body: 'not found' })
          : route.fulfill({ contentType: 'text/javascript', body });
      });
      await page.goto(`${origin}/`);
      const results = await page.evaluate(async (count) => {
        const out = [];
        for (let i = 0; i < count; i++) {
          try {
            const module = await import(`/bundle-${i}.js`);
            out.push({
              ok: true,
              smoke: module.smoke === undefined ? undefined : await module.smoke,
            });
          } catch (error) {
            out.push({ ok: false, error: String(error?.stack ?? error) });
          }
        }
        return out;
      }, names.length);
      results.forEach((result, i) => {
        if (!result.ok) fail(`Chromium (${origin}): ${names[i]} failed to load: ${result.error}`);
        for (const check of result.smoke ?? []) {
          if (check.ok) console.log(`  ok ${origin}: ${check.name}`);
          else fail(`Chromium (${origin}): ${check.name}: ${check.detail}`);
        }
      });
      for (const error of errors) fail(`Chromium (${origin}): ${error}`);
      await page.close();
    }
  } finally {
    await browser.close();
  }
}
