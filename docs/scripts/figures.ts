/**
 * Regenerates the committed figures: `pnpm --filter @halfstep/docs figures`.
 * Writes public/figures/convergence.svg and data/convergence.json (the numbers the guide quotes).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_OPTIONS, gridFloor, runConvergence } from './convergence.js';
import { logLineChart, type Series } from './svg.js';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..');
/** float32 in the text colour, float16 orange, bfloat16 blue; nearest-even dashed (as the headline figure). */
const style = (label: string) => ({
  color: label.startsWith('float16')
    ? '#e8590c'
    : label.startsWith('bfloat16')
      ? '#3b82f6'
      : 'text',
  dashed: label.includes('nearest'),
});

const started = performance.now();
const curves = runConvergence(DEFAULT_OPTIONS);
const floors = { float16: gridFloor('float16'), bfloat16: gridFloor('bfloat16') };
const last = curves[0]!.steps.at(-1)!;
const series: Series[] = [
  ...curves.map((curve) => ({
    label: curve.label,
    x: curve.steps,
    y: curve.error,
    ...style(curve.label),
  })),
  ...(['float16', 'bfloat16'] as const).map((name) => ({
    label: `${name} grid floor`,
    x: [0, last],
    y: [floors[name], floors[name]],
    color: '#8c959f',
    dashed: true,
  })),
];
const svg = logLineChart(series, {
  title: `SGD, least squares over a ${DEFAULT_OPTIONS.rows}x${DEFAULT_OPTIONS.dim} table, lr ${DEFAULT_OPTIONS.lr}`,
  xLabel: 'step',
  yLabel: 'mean (w - w*)^2',
});
mkdirSync(join(docs, 'public', 'figures'), { recursive: true });
writeFileSync(join(docs, 'public', 'figures', 'convergence.svg'), svg);
const summary = {
  options: DEFAULT_OPTIONS,
  floors,
  final: Object.fromEntries(curves.map((c) => [c.label, c.error.at(-1)])),
};
mkdirSync(join(docs, 'data'), { recursive: true });
writeFileSync(join(docs, 'data', 'convergence.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(
  `wrote public/figures/convergence.svg and data/convergence.json in ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
for (const [label, error] of Object.entries(summary.final)) {
  console.log(`${label.padEnd(24)} ${error?.toExponential(3)}`);
}
console.log(
  `grid floors: float16 ${floors.float16.toExponential(3)}, bfloat16 ${floors.bfloat16.toExponential(3)}`,
);
