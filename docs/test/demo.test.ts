import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  armsFor,
  type BackendStatus,
  type DemoBackend,
  defaultBackend,
  startDemo,
} from '../.vitepress/theme/demo/train.js';
import { base, ensureBuilt, hasChromium, launchChromium, site, visit } from './browser.js';
import { type StaticServer, serveStatic } from './static-server.js';

/** Trains the demo model for `steps` steps on backend `name`, in Node. */
async function train(name: DemoBackend, steps: number) {
  const run = await startDemo(name, armsFor('bfloat16'), 50);
  for (let i = 0; i < steps; i++) await run.step();
  run.dispose();
  return run;
}

// The demo page's training loop, in Node: fast feedback without a browser.
describe('the live demo model', () => {
  it('learns: float32 and stochastic bfloat16 go down together, nearest-even lags', async () => {
    const run = await train('wasm', 300);
    const [f32, sr, rn] = run.losses.map((losses) => ({ first: losses[0]!, last: losses.at(-1)! }));
    expect(run.steps).toEqual([0, 50, 100, 150, 200, 250, 300]);
    expect(f32!.last).toBeLessThan(f32!.first - 0.1);
    expect(Math.abs(sr!.last - f32!.last)).toBeLessThan(0.01);
    expect(rn!.last - f32!.last).toBeGreaterThan(0.05);
    expect(run.weightBytes).toEqual([256 * 8 * 4, 256 * 8 * 2, 256 * 8 * 2]);
    expect(run.onGpu).toBe(false);
  });

  it('starts on the first backend that runs here, WASM before a software WebGPU adapter', () => {
    const status = (name: DemoBackend, available: boolean, software = false): BackendStatus => ({
      name,
      available,
      software,
      detail: '',
    });
    const js = status('js', true);
    expect(defaultBackend([status('webgpu', true), status('wasm', true), js])).toBe('webgpu');
    expect(defaultBackend([status('webgpu', true, true), status('wasm', true), js])).toBe('wasm');
    expect(defaultBackend([status('webgpu', false), status('wasm', false), js])).toBe('js');
    expect(defaultBackend([status('webgpu', true, true), status('wasm', false), js])).toBe('js');
    expect(defaultBackend([status('webgpu', true, true)])).toBe('webgpu');
    expect(defaultBackend([])).toBe('');
  });

  it('gives the same losses, bit for bit, on the WASM and JS backends', async () => {
    const [wasm, js] = [await train('wasm', 100), await train('js', 100)];
    expect(js.losses).toEqual(wasm.losses);
    expect(js.losses[0]!.length).toBe(3);
  });
});

/** What the demo shows once a run ends. */
interface DemoResult {
  readonly state: string | null;
  /** The page's error message, if training failed. */
  readonly error: string;
  readonly backend: string | null;
  readonly onGpu: string | null;
  readonly ran: string;
  readonly status: Record<string, { available: boolean; software: boolean; text: string }>;
  readonly arms: { label: string; losses: number[] }[];
  /** Points of each line of the loss chart. */
  readonly chart: number[];
  /** The chart's texts that stick out of its view box (a clipped tick label). */
  readonly clipped: string[];
  /** The chart's axis titles. */
  readonly axes: string[];
}

/** Waits for the current run to end (as `backend`, when given) and reads the page. */
async function demoResult(page: Page, backend = ''): Promise<DemoResult> {
  const on = backend ? `[data-backend="${backend}"]` : '';
  await page.waitForSelector(`[data-demo-state="done"]${on}, [data-demo-state="error"]`, {
    timeout: 120_000,
  });
  return page.$eval('.loss-demo', (demo) => ({
    state: demo.getAttribute('data-demo-state'),
    error: demo.querySelector('.error')?.textContent ?? '',
    backend: demo.getAttribute('data-backend'),
    onGpu: demo.querySelector('[data-on-gpu]')?.getAttribute('data-on-gpu') ?? null,
    ran: demo.querySelector('.ran')?.textContent?.replace(/\s+/g, ' ').trim() ?? '',
    status: Object.fromEntries(
      Array.from(demo.querySelectorAll('[data-backend-status]')).map((item) => [
        item.getAttribute('data-backend-status'),
        {
          available: item.getAttribute('data-available') === 'true',
          software: item.getAttribute('data-software') === 'true',
          text: item.textContent?.replace(/\s+/g, ' ').trim() ?? '',
        },
      ]),
    ),
    arms: Array.from(demo.querySelectorAll('[data-arm]')).map((item) => ({
      label: item.getAttribute('data-arm') ?? '',
      losses: JSON.parse(item.getAttribute('data-losses') ?? '[]') as number[],
    })),
    chart: Array.from(demo.querySelectorAll('svg polyline')).map(
      (line) => line.getAttribute('points')?.split(' ').length ?? 0,
    ),
    // Texts of the chart that extend outside it (a clipped tick label), in page coordinates.
    clipped: Array.from(demo.querySelectorAll('svg.chart text'))
      .filter((text) => {
        const t = text.getBoundingClientRect();
        const s = (demo.querySelector('svg.chart') as SVGSVGElement).getBoundingClientRect();
        return (
          t.left < s.left - 0.5 ||
          t.right > s.right + 0.5 ||
          t.top < s.top - 0.5 ||
          t.bottom > s.bottom + 0.5
        );
      })
      .map((text) => text.textContent ?? ''),
    axes: Array.from(demo.querySelectorAll('svg.chart text.axis')).map((t) => t.textContent ?? ''),
  }));
}

/** 60 steps, a loss every 10, all drawn: float32 and stochastic bfloat16 go down. */
function expectLearned(result: DemoResult): void {
  expect(result.state, result.error).toBe('done');
  expect(result.chart).toEqual([7, 7, 7]);
  expect(result.clipped, 'chart texts outside the chart').toEqual([]);
  expect(result.axes).toEqual(['training step (batches of 64)', 'held-out log loss']);
  expect(result.arms.map((a) => a.label)).toEqual([
    'float32',
    'bfloat16, stochastic',
    'bfloat16, nearest-even',
  ]);
  for (const arm of result.arms.slice(0, 2)) {
    expect(arm.losses.length).toBe(7);
    expect(arm.losses.at(-1)!, arm.label).toBeLessThan(arm.losses[0]! - 0.01);
  }
}

describe.skipIf(!hasChromium)('the live demo in headless Chromium', () => {
  let server: StaticServer;

  beforeAll(async () => {
    ensureBuilt();
    server = await serveStatic(site, base);
  });

  afterAll(async () => {
    await server?.close();
  });

  it('prefers WASM over a software WebGPU adapter; WebGPU gives the same losses', async (context) => {
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const { errors } = await visit(page, `${server.origin}${base}demo.html?steps=60`);
      const first = await demoResult(page);
      const webgpu = first.status.webgpu!;
      expect(webgpu, 'the demo lists the webgpu backend').toBeDefined();
      if (!webgpu.available) {
        const reason = `headless Chromium has no WebGPU adapter (${webgpu.text})`;
        if (process.env.CI === 'true') throw new Error(reason);
        console.warn(`${reason}: skipping the WebGPU demo test`);
        context.skip(reason);
      }
      expect(webgpu.text).toMatch(/^webgpu: \S/);
      expect(first.status.wasm!.available && first.status.js!.available).toBe(true);
      expectLearned(first);
      // SwiftShader (what headless Chromium has here) is a software adapter: WASM goes first.
      const other = webgpu.software ? 'webgpu' : 'wasm';
      expect(first.backend).toBe(webgpu.software ? 'wasm' : 'webgpu');
      if (webgpu.software) expect(webgpu.text).toMatch(/software adapter/);

      await page.selectOption('[data-control="backend"]', other);
      await page.click('[data-control="train"]');
      const second = await demoResult(page, other);
      expectLearned(second);
      const gpu = webgpu.software ? second : first;
      expect(gpu.onGpu).toBe('true');
      expect(gpu.ran).toMatch(/^Trained on webgpu \(.+\): .* on the GPU\.$/);
      expect((webgpu.software ? first : second).onGpu).toBe('false');
      expect(second.arms).toEqual(first.arms);
      expect(await page.getAttribute(`[data-compared="${first.backend}"]`, 'data-same')).toBe(
        'true',
      );
      expect(errors).toEqual([]);
      console.info(`demo on WebGPU: ${webgpu.text}`);
    } finally {
      await browser.close();
    }
  }, 240_000);

  it('without WebGPU says why, and trains on WASM', async () => {
    const browser = await launchChromium({ webgpu: false });
    try {
      const page = await browser.context.newPage();
      const { errors } = await visit(page, `${server.origin}${base}demo.html`);
      // Before the first run: an empty chart with its axis titles and a placeholder.
      await page.waitForSelector('[data-demo-state="idle"]');
      expect(await page.locator('.loss-demo [data-placeholder]').textContent()).toMatch(/Train/);
      expect(await page.locator('.loss-demo svg polyline').count()).toBe(0);
      expect(await page.inputValue('.loss-demo input[type="number"]')).toBe('4000');
      await page.fill('.loss-demo input[type="number"]', '60');
      await page.click('[data-control="train"]');
      const result = await demoResult(page);
      expect(result.status.webgpu).toEqual({
        available: false,
        software: false,
        text: expect.stringMatching(/^webgpu: unavailable \(.*WebGPU.*\)$/),
      });
      expect(result.backend).toBe('wasm');
      expect(result.ran).toMatch(/^Trained on wasm \((simd|scalar) build\): .* on the CPU\.$/);
      expectLearned(result);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
