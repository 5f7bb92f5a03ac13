import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Browser,
  base,
  ensureBuilt,
  hasChromium,
  launchChromium,
  site,
  visit,
} from './browser.js';
import { resolveFile, type StaticServer, serveStatic } from './static-server.js';

describe.skipIf(!hasChromium)('the built site in headless Chromium', () => {
  let server: StaticServer;
  let browser: Browser;

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
  }, 240_000);

  it('lets the browser load API links instead of the client router', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${server.origin}${base}guide/formats.html`);
    await page.click(`.vp-doc a[href^="${base}api/"]`);
    await page.waitForURL(/\/api\//);
    expect(await page.locator('.tsd-page-title, .col-content').count()).toBeGreaterThan(0);
    await page.close();
  });
});
