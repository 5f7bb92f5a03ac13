import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encode } from '@halfstep/codecs';
import { chromium } from 'playwright-core';
import { expect, it } from 'vitest';
import { KNOWN_FLOAT16, type PageResult } from './browser/page.js';
import { ORIGIN, pageHtml, serveModule } from './browser/serve.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const required = process.env.CI === 'true';
const present = existsSync(CHROMIUM);
if (!present && !required) {
  console.warn(`@halfstep/backend-webgpu: browser test skipped: no Chromium at ${CHROMIUM}`);
}

const FLAGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

it.skipIf(!present && !required)(
  'runs the encode kernel in headless Chromium (navigator.gpu) with the known answers',
  { timeout: 60_000 },
  async () => {
    if (!present) throw new Error(`no Chromium at ${CHROMIUM} (set CHROMIUM_PATH) in CI`);
    const packages = readdirSync(resolve(import.meta.dirname, '../..'));
    const profile = mkdtempSync(join(tmpdir(), 'halfstep-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.route(`${ORIGIN}/**`, (route) => {
        const { pathname } = new URL(route.request().url());
        if (pathname === '/') {
          return route.fulfill({ contentType: 'text/html', body: pageHtml(packages) });
        }
        const body = serveModule(pathname);
        return body === undefined
          ? route.fulfill({ status: 404, body: `not found: ${pathname}` })
          : route.fulfill({ contentType: 'text/javascript', body });
      });
      await page.goto(`${ORIGIN}/`);
      // A string, not a function: vitest would rewrite a function's import() for Node.
      const url = `${ORIGIN}/backend-webgpu/test/browser/page.ts`;
      const result = (await page.evaluate(
        `import(${JSON.stringify(url)}).then((m) => m.run())`,
      )) as PageResult;
      expect(errors).toEqual([]);
      expect(result.adapter.source).toBe('navigator.gpu');
      console.info(`browser adapter: ${JSON.stringify(result.adapter)}`);
      expect(result.nearest).toEqual(KNOWN_FLOAT16.map(([, code]) => code));
      const halfway = Float32Array.from({ length: 16 }, (_, k) => 1 + k / 1024 + 1 / 2048);
      // Threshold 0 rounds every inexact value up, 2^32 - 1 rounds it down.
      expect(result.stochastic).toEqual(
        [...halfway].map((_, k) => 0x3c00 + k + (k % 2 === 0 ? 1 : 0)),
      );
      const reference = encode('float16', halfway, {
        rounding: {
          rule: 'stochastic',
          fillThresholds: (out) => out.set(result.thresholds.slice(0, out.length)),
        },
      });
      expect(result.stochastic).toEqual([...reference]);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  },
);
