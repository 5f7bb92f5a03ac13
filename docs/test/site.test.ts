import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveFile, type StaticServer, serveStatic } from './static-server.js';

const docs = fileURLToPath(new URL('..', import.meta.url));
/** The site's base path, as the build used it (`DOCS_BASE`, see .vitepress/config.ts). */
const base = `/${(process.env.DOCS_BASE ?? '/').replace(/^\/+|\/+$/g, '')}/`.replace(/\/+/g, '/');
const site = join(docs, 'site');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const BASE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) {
  const reason = `${CHROMIUM} not found (apt-get install chromium): skipping the browser tests`;
  if (process.env.CI === 'true') throw new Error(reason);
  console.warn(reason);
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

/**
 * Builds the site (the `docs` script: VitePress, then TypeDoc) unless a build newer than its sources
 * exists. `DOCS_SITE=prebuilt` tests docs/site as it is.
 */
function ensureBuilt(): void {
  const index = join(site, 'index.html');
  const api = join(site, 'api', 'index.html');
  if (process.env.DOCS_SITE === 'prebuilt') {
    if (!existsSync(index) || !existsSync(api))
      throw new Error(`DOCS_SITE=prebuilt: no build in ${site}`);
    return;
  }
  if (existsSync(index) && existsSync(api) && statSync(index).mtimeMs > newestSource(docs)) return;
  execSync('pnpm run docs', { cwd: docs, stdio: 'inherit' });
}

/** Everything a page visit observed. */
interface Visit {
  readonly errors: string[];
  readonly links: string[];
}

async function visit(page: Page, url: string): Promise<Visit> {
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

describe.skipIf(!hasChromium)('the built site in headless Chromium', () => {
  let server: StaticServer;
  let context: BrowserContext;
  let userDataDir: string;

  beforeAll(async () => {
    ensureBuilt();
    server = await serveStatic(site, base);
    userDataDir = mkdtempSync(join(tmpdir(), 'halfstep-docs-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...BASE_FLAGS, ...WEBGPU_FLAGS],
    });
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('loads every page without console errors, and every internal link resolves', async () => {
    const page = await context.newPage();
    const origin = server.origin;
    const queue = [base];
    const seen = new Set(queue);
    const problems: string[] = [];
    const links = new Map<string, string>(); // link -> first page that has it
    while (queue.length > 0) {
      const path = queue.shift()!;
      const { errors, links: found } = await visit(page, origin + path);
      for (const error of errors) problems.push(`${path}: ${error}`);
      for (const href of found) {
        const url = new URL(href);
        if (url.origin !== origin) continue;
        if (!links.has(url.pathname + url.hash)) links.set(url.pathname + url.hash, path);
        // Crawl the guides; visit the API pages the guides link to, without following TypeDoc's own links.
        if (!seen.has(url.pathname) && !path.startsWith(`${base}api/`)) {
          seen.add(url.pathname);
          queue.push(url.pathname);
        }
      }
    }
    for (const [link, from] of links) {
      const [pathname, hash] = link.split('#');
      const file = pathname.startsWith(base)
        ? resolveFile(site, pathname.slice(base.length - 1))
        : null;
      if (!file) {
        problems.push(`${from}: link to missing page ${link}`);
        continue;
      }
      if (hash && file.endsWith('.html')) {
        const id = decodeURIComponent(hash);
        const html = readFileSync(file, 'utf8');
        if (!html.includes(`id="${id}"`) && !html.includes(`name="${id}"`)) {
          problems.push(`${from}: link to missing anchor ${link}`);
        }
      }
    }
    await page.close();
    for (const miss of server.misses) problems.push(`server: not found ${miss}`);
    expect(problems).toEqual([]);
    expect(seen.size).toBeGreaterThan(12);
    expect([...seen].some((p) => p.startsWith(`${base}api/`))).toBe(true);
  }, 240_000);

  it('lets the browser load API links instead of the client router', async () => {
    const page = await context.newPage();
    await page.goto(`${server.origin}${base}guide/formats.html`);
    await page.click(`.vp-doc a[href^="${base}api/"]`);
    await page.waitForURL(/\/api\//);
    expect(await page.locator('.tsd-page-title, .col-content').count()).toBeGreaterThan(0);
    await page.close();
  });

  it('trains the demo model and its loss goes down', async () => {
    const page = await context.newPage();
    const { errors } = await visit(page, `${server.origin}${base}demo.html?steps=60`);
    await page.waitForSelector('[data-demo-state="done"]', { timeout: 60_000 });
    const backend = await page.getAttribute('[data-demo-state]', 'data-backend');
    const arms = await page.$$eval('[data-arm]', (items) =>
      items.map((item) => ({
        label: item.getAttribute('data-arm') ?? '',
        losses: JSON.parse(item.getAttribute('data-losses') ?? '[]') as number[],
      })),
    );
    await page.close();
    expect(errors).toEqual([]);
    expect(backend).toBe('wasm');
    expect(arms.map((a) => a.label)).toEqual([
      'float32',
      'bfloat16, stochastic',
      'bfloat16, nearest-even',
    ]);
    for (const arm of arms.slice(0, 2)) {
      expect(arm.losses.length).toBe(7);
      expect(arm.losses.at(-1)!, arm.label).toBeLessThan(arm.losses[0]);
    }
  }, 90_000);
});
