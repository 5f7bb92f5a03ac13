import { describe, expect, it } from 'vitest';
import { armsFor, startDemo } from '../.vitepress/theme/demo/train.js';

// The demo page's training loop, in Node: fast feedback without a browser.
describe('the live demo model', () => {
  it('learns: float32 and stochastic bfloat16 go down together, nearest-even lags', async () => {
    const run = await startDemo(armsFor('bfloat16'), 50);
    for (let i = 0; i < 300; i++) run.step();
    run.dispose();
    expect(['wasm', 'js']).toContain(run.backend);
    const [f32, sr, rn] = run.losses.map((losses) => ({ first: losses[0], last: losses.at(-1)! }));
    expect(run.steps).toEqual([0, 50, 100, 150, 200, 250, 300]);
    expect(f32.last).toBeLessThan(f32.first - 0.1);
    expect(Math.abs(sr.last - f32.last)).toBeLessThan(0.01);
    expect(rn.last - f32.last).toBeGreaterThan(0.05);
    expect(run.weightBytes).toEqual([256 * 8 * 4, 256 * 8 * 2, 256 * 8 * 2]);
  });
});
