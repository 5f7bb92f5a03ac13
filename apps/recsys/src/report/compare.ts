import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chooseBackend } from '../backends.js';
import type { Precision } from '../model/precision.js';
import { describeBackend, type Log, openData, runTraining } from '../run.js';
import type { RunSettings } from '../settings.js';
import type { TrainResult } from '../train/trainer.js';
import { lineChartSvg } from './svg-chart.js';
import { comparisonTable } from './table.js';

/** What {@link runComparison} produced. */
export interface Comparison {
  readonly results: readonly TrainResult[];
  /** The markdown table. */
  readonly table: string;
  /** Paths written: markdown, SVG, JSON. */
  readonly files: { readonly markdown: string; readonly svg: string; readonly json: string };
}

/** The plot of validation log loss against training examples seen, one line per run. */
export function comparisonChart(results: readonly TrainResult[], title: string): string {
  return lineChartSvg(
    results.map((r) => ({
      name: r.precision,
      points: r.curve.map((p) => ({ x: p.examplesSeen, y: p.logloss })),
    })),
    { title, xLabel: 'training examples seen', yLabel: 'validation log loss' },
  );
}

/**
 * Trains once per precision with the same seed, data and options (validating every
 * `evalEvery` batches, or 4 times per epoch when it is 0) (one after another, on the same
 * backend) and writes `compare.md` (the table), `compare.svg` (validation log loss against
 * examples seen) and `compare.json` (every result with its curve) into `outDir`.
 */
export async function runComparison(
  settings: RunSettings,
  precisions: readonly Precision[],
  outDir: string,
  log: Log,
): Promise<Comparison> {
  const choice = await chooseBackend(settings.backend);
  describeBackend(choice, log);
  const data = await openData(settings);
  log(`data: ${data.description}`);
  // Without --eval-every, validate 4 times per epoch so that the plot has a curve.
  const evalEvery =
    settings.evalEvery > 0
      ? settings.evalEvery
      : Math.max(1, Math.ceil(data.trainExamples / settings.batchSize / 4));
  const results: TrainResult[] = [];
  for (const precision of precisions) {
    const checkpoint =
      settings.checkpoint === undefined ? {} : { checkpoint: join(settings.checkpoint, precision) };
    const result = await runTraining(
      { ...settings, ...checkpoint, evalEvery, precision },
      log,
      choice,
      data,
    );
    results.push(result);
  }
  const table = comparisonTable(results);
  const title = `DLRM validation log loss (${choice.name} backend, ${settings.optimizer} lr ${settings.lr}, batch ${settings.batchSize})`;
  await mkdir(outDir, { recursive: true });
  const files = {
    markdown: join(outDir, 'compare.md'),
    svg: join(outDir, 'compare.svg'),
    json: join(outDir, 'compare.json'),
  };
  const heading = `# halfstep-recsys comparison\n\n${data.description}; ${choice.name} backend; ${settings.optimizer} lr ${settings.lr}; batch ${settings.batchSize}; ${settings.epochs} epoch(s); seed ${settings.seed}.\n\n`;
  await writeFile(files.markdown, `${heading}${table}`);
  await writeFile(files.svg, comparisonChart(results, title));
  await writeFile(
    files.json,
    `${JSON.stringify({ settings, data: data.description, backend: choice.name, results }, null, 2)}\n`,
  );
  return { results, table, files };
}
