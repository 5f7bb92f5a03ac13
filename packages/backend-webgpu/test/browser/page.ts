import type { FloatFormat, RoundingStrategy } from '@halfstep/codecs';
import { createWebGpuBackend } from '../../src/index.js';

/** Known answers of float16 nearest-even: (float32 value, code). */
export const KNOWN_FLOAT16: readonly (readonly [number, number])[] = [
  [0, 0x0000],
  [-0, 0x8000],
  [1, 0x3c00],
  [-2, 0xc000],
  [1 / 3, 0x3555],
  [65504, 0x7bff],
  [65520, 0x7c00],
  [2 ** -24, 0x0001],
  [2 ** -25, 0x0000],
  [Number.POSITIVE_INFINITY, 0x7c00],
  [Number.NaN, 0x7e00],
];

/** What the page computes: the adapter it got and the codes of the encode kernel. */
export interface PageResult {
  readonly adapter: { vendor: string; architecture: string; source: string };
  readonly nearest: number[];
  readonly stochastic: number[];
  readonly thresholds: number[];
}

/**
 * Runs in the browser: opens the backend through `navigator.gpu` and encodes `KNOWN_FLOAT16`'s
 * values with nearest-even, and 1 + k/1024 + 1/2048 (k < 16) stochastically with fixed
 * thresholds alternating 0 and 2^32 - 1 (up, down, up, ...).
 */
export async function run(): Promise<PageResult> {
  const backend = await createWebGpuBackend();
  try {
    const src = Float32Array.from(KNOWN_FLOAT16, ([value]) => value);
    const nearest = new Uint16Array(src.length);
    await backend.encode('float16', src, nearest, { rule: 'nearest-even' });
    const halfway = Float32Array.from({ length: 16 }, (_, k) => 1 + k / 1024 + 1 / 2048);
    const thresholds = Uint32Array.from({ length: 16 }, (_, k) => (k % 2 === 0 ? 0 : 0xffffffff));
    const fixed: RoundingStrategy = {
      rule: 'stochastic',
      fillThresholds(out: Uint32Array, _format: FloatFormat) {
        out.set(thresholds.subarray(0, out.length));
      },
    };
    const stochastic = new Uint16Array(16);
    await backend.encode('float16', halfway, stochastic, fixed);
    return {
      adapter: { ...backend.adapter },
      nearest: [...nearest],
      stochastic: [...stochastic],
      thresholds: [...thresholds],
    };
  } finally {
    backend.dispose();
  }
}
