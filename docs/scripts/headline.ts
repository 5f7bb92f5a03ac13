/**
 * The headline figure: validation log loss against examples seen, and embedding memory, for
 * float32, float16 and bfloat16 tables (stochastic and nearest rounding), from the reference
 * recommender (apps/recsys) on its built-in data.
 *
 *   pnpm --filter @halfstep/docs headline            # trains (a few minutes), writes data + SVGs
 *   pnpm --filter @halfstep/docs headline --render   # redraws the SVGs from data/headline.json
 *   pnpm --filter @halfstep/docs headline --from compare.json  # the app's report of RUN, made elsewhere
 *
 * Writes data/headline.json (what the pages quote) and public/figures/headline-loss.svg,
 * public/figures/headline-memory.svg. Both are committed; CI does not regenerate them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { barChart, type Series, stackedLineChart } from './svg.js';

const docs = join(dirname(fileURLToPath(import.meta.url)), '..');
const repository = join(docs, '..');

/**
 * The run: DLRM's 26 tables of the built-in data (840,543 rows x 16) with smaller MLPs than the
 * app's default (13-64-16 bottom, 367-64-1 top) so that it trains 262,144 examples per precision
 * in about a minute; SGD at lr 0.01, where many table updates fall below half a float16 gap.
 */
export const RUN = {
  precisions: ['fp32', 'fp16-sr', 'fp16-nearest', 'bf16-sr', 'bf16-nearest'],
  backend: 'wasm',
  lr: 0.01,
  batchSize: 128,
  trainExamples: 262_144,
  validationExamples: 8192,
  evalEvery: 128,
  bottomMlp: '64-16',
  topMlp: '64-1',
  seed: 0,
  dataSeed: 1,
} as const;

/** What a precision is called in the figure and the pages. */
export const LABELS: Record<string, string> = {
  fp32: 'float32',
  'fp16-sr': 'float16, stochastic',
  'fp16-nearest': 'float16, nearest',
  'bf16-sr': 'bfloat16, stochastic',
  'bf16-nearest': 'bfloat16, nearest',
};

/** float32 in the text colour, float16 orange, bfloat16 blue; nearest rounding dashed. */
const STYLES: Record<string, { color: string; dashed: boolean }> = {
  fp32: { color: 'text', dashed: false },
  'fp16-sr': { color: '#e8590c', dashed: false },
  'fp16-nearest': { color: '#e8590c', dashed: true },
  'bf16-sr': { color: '#3b82f6', dashed: false },
  'bf16-nearest': { color: '#3b82f6', dashed: true },
};

/** One precision's result, as data/headline.json holds it. */
export interface HeadlineResult {
  readonly precision: string;
  readonly label: string;
  readonly embeddingBytes: number;
  readonly validation: { logloss: number; auc: number; accuracy: number };
  readonly examplesPerSecond: number;
  readonly curve: { examplesSeen: number; logloss: number; auc: number }[];
}

/** data/headline.json. */
export interface Headline {
  readonly date: string;
  readonly command: string;
  readonly machine: string;
  readonly data: string;
  readonly settings: typeof RUN;
  readonly results: HeadlineResult[];
}

function commandArgs(outDir: string): string[] {
  return [
    'compare',
    '--precisions',
    RUN.precisions.join(','),
    '--backend',
    RUN.backend,
    '--lr',
    String(RUN.lr),
    '--batch-size',
    String(RUN.batchSize),
    '--train-examples',
    String(RUN.trainExamples),
    '--validation-examples',
    String(RUN.validationExamples),
    '--eval-every',
    String(RUN.evalEvery),
    '--bottom-mlp',
    RUN.bottomMlp,
    '--top-mlp',
    RUN.topMlp,
    '--seed',
    String(RUN.seed),
    '--data-seed',
    String(RUN.dataSeed),
    '--quiet',
    '--out-dir',
    outDir,
  ];
}

/**
 * Trains every precision with the reference app and reads its compare.json; or reads `from`, the
 * compare.json of a run of the same command made elsewhere.
 */
function train(from?: string): Headline {
  let report: { data: string; results: unknown[] };
  if (from) {
    report = JSON.parse(readFileSync(from, 'utf8'));
  } else {
    const out = mkdtempSync(join(tmpdir(), 'halfstep-headline-'));
    const app = join(repository, 'apps', 'recsys', 'bin', 'halfstep-recsys.js');
    const started = performance.now();
    const result = spawnSync(process.execPath, [app, ...commandArgs(out)], { stdio: 'inherit' });
    if (result.status !== 0) throw new Error(`the reference app failed (exit ${result.status})`);
    report = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'));
    rmSync(out, { recursive: true, force: true });
    console.log(`trained in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  const cpu =
    cpus()[0]
      ?.model.replace(/\s+\d+-Core Processor/, '')
      .trim() ?? 'unknown CPU';
  return {
    date: new Date().toISOString().slice(0, 10),
    command: `node apps/recsys/bin/halfstep-recsys.js ${commandArgs('<dir>').join(' ')}`,
    machine: `${cpu}, ${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
    data: report.data,
    settings: RUN,
    results: (report.results as Parameters<typeof toResult>[0][]).map(toResult),
  };
}

function toResult(r: {
  precision: string;
  embeddingBytes: number;
  validation: HeadlineResult['validation'];
  examplesPerSecond: number;
  curve: { examplesSeen: number; logloss: number; auc: number }[];
}): HeadlineResult {
  return {
    precision: r.precision,
    label: LABELS[r.precision] ?? r.precision,
    embeddingBytes: r.embeddingBytes,
    validation: {
      logloss: r.validation.logloss,
      auc: r.validation.auc,
      accuracy: r.validation.accuracy,
    },
    examplesPerSecond: Math.round(r.examplesPerSecond),
    curve: r.curve.map((p) => ({ examplesSeen: p.examplesSeen, logloss: p.logloss, auc: p.auc })),
  };
}

/** The two SVGs of the figure. */
export function render(headline: Headline): { loss: string; memory: string } {
  const results = headline.results;
  const reference = results.find((r) => r.precision === 'fp32')!;
  const mib = (bytes: number) => bytes / 2 ** 20;
  const series = (
    r: HeadlineResult,
    y: (p: HeadlineResult['curve'][number], k: number) => number,
  ) =>
    ({
      label: r.label,
      x: r.curve.map((p) => p.examplesSeen),
      y: r.curve.map(y),
      ...STYLES[r.precision]!,
    }) satisfies Series;
  const loss = stackedLineChart(
    [
      {
        yLabel: 'validation log loss',
        series: results.map((r) => series(r, (p) => p.logloss)),
      },
      {
        yLabel: 'gap to float32',
        series: results.map((r) => series(r, (p, k) => p.logloss - reference.curve[k]!.logloss)),
        weight: 0.6,
        reference: 0,
        endLabels: true,
      },
    ],
    {
      title: 'DLRM on Criteo-like data: validation log loss',
      xLabel: 'training examples seen',
      legend: ['fp32', 'fp16', 'bf16'].map((format) => {
        const rows = results.filter((r) => r.precision.startsWith(format));
        const name = { fp32: 'float32', fp16: 'float16', bf16: 'bfloat16' }[format];
        return {
          title: `${name} · ${mib(rows[0]!.embeddingBytes).toFixed(1)} MiB`,
          items: rows.map((r) => ({
            label: r.precision.endsWith('-sr')
              ? 'stochastic'
              : r.precision.endsWith('-nearest')
                ? 'nearest'
                : 'exact',
            ...STYLES[r.precision]!,
          })),
        };
      }),
      width: 560,
      height: 470,
    },
  );
  const memory = barChart(
    results.map((r) => ({
      label: r.label,
      value: mib(r.embeddingBytes),
      color: STYLES[r.precision]!.color,
      note: `${mib(r.embeddingBytes).toFixed(1)} MiB`,
    })),
    { title: 'Embedding table memory (26 tables)', unit: 'MiB', width: 560, labelWidth: 160 },
  );
  return { loss, memory };
}

function write(headline: Headline): void {
  const { loss, memory } = render(headline);
  mkdirSync(join(docs, 'public', 'figures'), { recursive: true });
  writeFileSync(join(docs, 'public', 'figures', 'headline-loss.svg'), loss);
  writeFileSync(join(docs, 'public', 'figures', 'headline-memory.svg'), memory);
  console.log('wrote public/figures/headline-loss.svg, public/figures/headline-memory.svg');
}

const dataFile = join(docs, 'data', 'headline.json');
if (process.argv.includes('--render')) {
  write(JSON.parse(readFileSync(dataFile, 'utf8')) as Headline);
} else {
  const from = process.argv.indexOf('--from');
  const headline = train(from >= 0 ? process.argv[from + 1] : undefined);
  writeFileSync(dataFile, `${JSON.stringify(headline, null, 1)}\n`);
  console.log('wrote data/headline.json');
  write(headline);
  const fp32 = headline.results.find((r) => r.precision === 'fp32')!;
  for (const r of headline.results) {
    const delta = ((r.validation.logloss / fp32.validation.logloss - 1) * 100).toFixed(3);
    console.log(
      `${r.label.padEnd(22)} logloss ${r.validation.logloss.toFixed(5)} (${delta}% vs float32)  ${(r.embeddingBytes / 2 ** 20).toFixed(2)} MiB`,
    );
  }
}
