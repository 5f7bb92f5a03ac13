// What the docs' browser tests share: the site build, headless Chromium (with WebGPU on
// SwiftShader) and page visits that collect console errors.
import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const docs = fileURLToPath(new URL('..', import.meta.url));
/** The built site. */
export const site = join(docs, 'site');
/** The site's base path, as the build used it (`DOCS_BASE`, see .vitepress/config.ts). */
export const base = `/${(process.env.DOCS_BASE ?? '/').replace(/^\/+|\/+$/g, '')}/`.replace(
  /\/+/g,
  '/',
);

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Chromium without first-run chores or background traffic. */
export const BROWSER_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** WebGPU on SwiftShader (Vulkan on the CPU), for machines without a GPU. */
export const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

/** Whether Chromium is installed; in CI (`CI=true`) its absence is an error. */
export const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  const reason = `${CHROMIUM} not found (apt-get install chromium): skipping the browser tests`;
  if (process.env.CI === 'true') throw new Error(reason);
  console.warn(reason);
}

/** A headless Chromium with a fresh profile; `close` removes the profile. */
export interface Browser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Launches headless Chromium, with WebGPU on SwiftShader unless `webgpu` is false. */
export async function launchChromium({ webgpu = true } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'halfstep-docs-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: webgpu ? [...BROWSER_FLAGS, ...WEBGPU_FLAGS] : BROWSER_FLAGS,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The newest modification time of the site's sources. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'site', 'test', 'scripts', '.temp', 'cache'].includes(entry.name))
      continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** The site's sources: docs/ and the sources of the packages it bundles and documents. */
function newestSiteSource(): number {
  const packages = join(docs, '..', 'packages');
  const sources = readdirSync(packages)
    .map((name) => join(packages, name, 'src'))
    .filter((dir) => existsSync(dir));
  return Math.max(newestSource(docs), ...sources.map(newestSource));
}

/**
 * Builds the site (the `docs` script: VitePress, then TypeDoc) unless a build newer than its sources
 * (docs/ and packages/<name>/src) exists. `DOCS_SITE=prebuilt` tests docs/site as it is.
 */
export function ensureBuilt(): void {
  const index = join(site, 'index.html');
  const api = join(site, 'api', 'index.html');
  if (process.env.DOCS_SITE === 'prebuilt') {
    if (!existsSync(index) || !existsSync(api))
      throw new Error(`DOCS_SITE=prebuilt: no build in ${site}`);
    return;
  }
  if (existsSync(index) && existsSync(api) && statSync(index).mtimeMs > newestSiteSource()) return;
  execSync('pnpm run docs', { cwd: docs, stdio: 'inherit' });
}

/** Everything a page visit observed. */
export interface Visit {
  /** Console errors, page errors, failed requests and HTTP errors, as they keep coming. */
  readonly errors: string[];
  readonly links: string[];
}

/** Loads `url` in `page` and collects its errors from then on, and its links once loaded. */
export async function visit(page: Page, url: string): Promise<Visit> {
  const errors: string[] = [];
  page.removeAllListeners();
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    const reason = request.failure()?.errorText ?? '';
    // Prefetches cut short by the next navigation are not failures of the site.
    if (reason !== 'net::ERR_ABORTED') errors.push(`request failed: ${request.url()} (${reason})`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) errors.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForLoadState('networkidle');
  const links = await page.$$eval('a[href]', (anchors) =>
    anchors.map((a) => (a as HTMLAnchorElement).href),
  );
  return { errors, links };
}
