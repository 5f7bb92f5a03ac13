import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Browser,
  base,
  docs,
  ensureBuilt,
  hasChromium,
  launchChromium,
  site,
  visit,
} from './browser.js';
import { resolveFile, type StaticServer, serveStatic } from './static-server.js';

const repository = join(docs, '..');
/** What the docs' source links point at: `.../blob/main/<path>#L<line>`. */
const SOURCE_LINK = /https:\/\/github\.com\/halfstep\/halfstep\/blob\/main\/([^"#?]+)#L(\d+)/g;

/** Every file under `dir` whose name ends with `extension`. */
function filesUnder(dir: string, extension: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path, extension);
    return entry.name.endsWith(extension) ? [path] : [];
  });
}

/** The widths every page must fit: a laptop and a phone (iPhone 12-15: 390 x 844). */
const VIEWPORTS = [
  { name: 'desktop 1280 x 800', width: 1280, height: 800 },
  { name: 'phone 390 x 844', width: 390, height: 844 },
] as const;

/**
 * What does not fit the page's width (runs in the page): code blocks that scroll sideways, table
 * cells outside the content column or the window (every column of guide tables; the columns
 * marked `data-key` and the first on API pages), and a page that scrolls sideways.
 */
function layoutProblems(page: Page, allColumns: boolean): Promise<string[]> {
  return page.evaluate((allColumns) => {
    const problems: string[] = [];
    const width = document.documentElement.clientWidth;
    const short = (text: string | null) => (text ?? '').replace(/\s+/g, ' ').trim().slice(0, 50);
    for (const pre of Array.from(document.querySelectorAll<HTMLElement>('.vp-doc pre'))) {
      if (pre.scrollWidth > pre.clientWidth + 1) {
        problems.push(`code block scrolls sideways: "${short(pre.textContent)}"`);
      }
    }
    for (const table of Array.from(document.querySelectorAll<HTMLTableElement>('.vp-doc table'))) {
      const container = table.closest('.vp-doc') as HTMLElement;
      const right = Math.min(width, container.getBoundingClientRect().right) + 1;
      const header = short(table.querySelector('tr')?.textContent ?? '');
      for (const row of Array.from(table.rows)) {
        Array.from(row.cells).forEach((cell, column) => {
          const key = allColumns || column === 0 || cell.hasAttribute('data-key');
          if (key && cell.getBoundingClientRect().right > right) {
            problems.push(`table "${header}": column ${column + 1} is cut off`);
          }
        });
      }
    }
    if (document.documentElement.scrollWidth > width + 1) {
      problems.push(`the page scrolls sideways (${document.documentElement.scrollWidth} px)`);
    }
    if (!document.querySelector('link[rel="icon"]')) problems.push('no favicon link');
    return [...new Set(problems)];
  }, allColumns);
}

describe('the API reference', () => {
  beforeAll(() => ensureBuilt());

  it('links every "Defined in" to a file and line of this repository, never node_modules', () => {
    const problems: string[] = [];
    let links = 0;
    const lines = new Map<string, number>();
    for (const file of filesUnder(join(site, 'api'), '.html')) {
      const html = readFileSync(file, 'utf8');
      const page = relative(site, file);
      for (const [, path, line] of html.matchAll(SOURCE_LINK)) {
        links++;
        const target = join(repository, path!);
        if (path!.includes('node_modules')) problems.push(`${page}: links into ${path}`);
        else if (!existsSync(target) || !statSync(target).isFile()) {
          problems.push(`${page}: links to missing file ${path}`);
        } else {
          if (!lines.has(target))
            lines.set(target, readFileSync(target, 'utf8').split('\n').length);
          if (Number(line) > lines.get(target)!)
            problems.push(`${page}: ${path} has no line ${line}`);
        }
      }
      if (html.includes('node_modules/')) problems.push(`${page}: mentions node_modules/`);
      // "QUALITY.md" is a file name: markdown-it's fuzzy links made it http://QUALITY.md/.
      for (const [href] of html.matchAll(/href="https?:\/\/[\w-]+\.md\/?"/g)) {
        problems.push(`${page}: ${href}`);
      }
    }
    expect([...new Set(problems)].slice(0, 20)).toEqual([]);
    expect(links).toBeGreaterThan(500);
  });

  it('has an @example on the main entry points', () => {
    const pages = [
      'embedding/functions/createEmbeddingBag.html',
      'embedding/functions/createEmbeddingBagCollection.html',
      'embedding/classes/EmbeddingBagCollection.html',
      'backend/functions/createBackend.html',
      'backend/functions/selectBackend.html',
      'optim/functions/sgd.html',
      'optim/functions/momentum.html',
      'optim/functions/adagrad.html',
      'optim/functions/rowwiseAdagrad.html',
      'optim/functions/adam.html',
      'codecs/functions/encode.html',
      'codecs/functions/decode.html',
      'rounding/functions/stochastic.html',
      'rounding/functions/roundToFormat.html',
      'rng/functions/createEngine.html',
      'rng/functions/createPhilox.html',
      'backend-wasm/functions/createWasmBackend.html',
      'backend-webgpu/functions/createWebGpuBackend.html',
    ];
    const missing = pages.filter(
      (path) => !/id="example"/.test(readFileSync(join(site, 'api', path), 'utf8')),
    );
    expect(missing).toEqual([]);
  });
});

describe.skipIf(!hasChromium)('the built site in headless Chromium', () => {
  let server: StaticServer;
  let browser: Browser;
  /** The pages the crawl found: the guides and the API pages they link to. */
  const crawled: string[] = [];

  beforeAll(async () => {
    ensureBuilt();
    server = await serveStatic(site, base);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('loads every page without console errors, and every internal link resolves', async () => {
    const page = await browser.context.newPage();
    const origin = server.origin;
    const queue = [base];
    const seen = new Set(queue);
    const problems: string[] = [];
    const links = new Map<string, string>(); // link -> first page that has it
    while (queue.length > 0) {
      const path = queue.shift()!;
      crawled.push(path);
      const { errors, links: found } = await visit(page, origin + path);
      for (const error of errors) problems.push(`${path}: ${error}`);
      for (const href of found) {
        const url = new URL(href);
        if (url.origin !== origin) continue;
        if (!links.has(url.pathname + url.hash)) links.set(url.pathname + url.hash, path);
        // Crawl the guides; visit the API pages the guides link to, without following the
        // reference's own links (its sidebar lists every page).
        if (!seen.has(url.pathname) && !path.startsWith(`${base}api/`)) {
          seen.add(url.pathname);
          queue.push(url.pathname);
        }
      }
    }
    for (const [link, from] of links) {
      const [pathname = '', hash] = link.split('#');
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
  }, 300_000);

  it('shows the API reference in the site, with the guides one click away', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.origin}${base}guide/formats.html`);
    await page.click(`.vp-doc a[href^="${base}api/"]`);
    await page.waitForURL(/\/api\//);
    // The site's own layout: its navigation bar, search, and a sidebar that leads back.
    expect(await page.locator('.VPNav').count()).toBe(1);
    expect(await page.locator('.VPNavBarSearch').count()).toBe(1);
    expect(await page.locator('.vp-doc h1').count()).toBe(1);
    const back = page.locator(`.VPSidebar a[href="${base}guide/getting-started.html"]`);
    expect(await back.count()).toBeGreaterThan(0);
    await page.close();
  });

  it('finds API names with the site search', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.origin}${base}guide/getting-started.html`);
    await page.click('.VPNavBarSearch button');
    await page.fill('.VPLocalSearchBox input', 'createEmbeddingBagCollection');
    const hit = page.locator(
      `.VPLocalSearchBox a[href*="api/embedding/functions/createEmbeddingBagCollection"]`,
    );
    await hit.first().waitFor({ timeout: 10_000 });
    expect(await hit.count()).toBeGreaterThan(0);
    await page.close();
  });

  for (const viewport of VIEWPORTS) {
    it(`fits code blocks and tables at ${viewport.name}`, async () => {
      const page = await browser.context.newPage();
      await page.setViewportSize(viewport);
      // Every guide page, and a few API pages (they share one layout).
      const guides = crawled.filter((path) => !path.startsWith(`${base}api/`));
      const api = crawled.filter((path) => path.startsWith(`${base}api/`)).slice(0, 4);
      const pages = crawled.length > 0 ? [...guides, ...api] : [base];
      const problems: string[] = [];
      for (const path of pages) {
        await page.goto(server.origin + path, { waitUntil: 'load' });
        const api = path.startsWith(`${base}api/`);
        for (const problem of await layoutProblems(page, !api))
          problems.push(`${path}: ${problem}`);
      }
      await page.close();
      expect(problems).toEqual([]);
    }, 300_000);
  }

  it('shows what halfstep does, the install line, an example and the figure above the fold', async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(`${server.origin}${base}`, { waitUntil: 'load' });
    const box = async (selector: string) => {
      const b = await page.locator(selector).first().boundingBox();
      expect(b, selector).not.toBeNull();
      return b!;
    };
    expect((await box('.VPHero .tagline')).y).toBeLessThan(800);
    const install = await box('.home-code div[class*="language-sh"]');
    expect(
      await page.locator('.home-code div[class*="language-sh"]').first().textContent(),
    ).toMatch(/npm install @halfstep\/embedding/);
    expect(install.y + install.height).toBeLessThan(800);
    const code = await box('.home-code div[class*="language-ts"]');
    expect(code.y).toBeLessThan(800);
    const figure = await box('.home-figure [data-figure="headline-loss"] svg');
    expect(figure.y + figure.height).toBeLessThanOrEqual(800);
    await page.close();
  });
});
