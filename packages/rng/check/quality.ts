/**
 * Statistical quality of every engine's raw 32-bit stream, measured with Debian's dieharder.
 *
 *   pnpm check:rng-quality --short   CI subset (< ~3 min on 2 cores); exits 1 on any FAILED
 *   pnpm check:rng-quality           full set; writes packages/rng/QUALITY.md (a report, exits 0)
 *   options: --engines a,b  --tests 0,15,200/4 (number or number/ntuple)  --jobs N  --out FILE
 *            --max-seconds S (per dieharder run, default 240)
 *
 * Each run pipes the engine's words (seed 20240601, uint32 in host byte order) into
 * `dieharder -g 200 -d N -Y 1` (generator 200 = raw stdin; -Y 1 = dieharder's "resolve
 * ambiguity" mode, which re-runs a WEAK test with more p-samples until it passes or fails).
 * Dieharder's convention: a p-value below 0.000001 is FAILED, one below 0.005 or above 0.995 is
 * WEAK, anything else PASSED. About 1 test in 100 is WEAK by chance for a perfect generator, so a
 * WEAK that -Y 1 left unresolved is reported but does not fail the check; a FAILED in short mode
 * does. The full mode is a report (xorshift32 is expected to fail some tests). A run still going
 * after --max-seconds (-Y 1 keeps re-running a test that stays WEAK) is stopped with SIGTERM; its
 * last attempt, which dieharder prints on exit, is recorded and marked as stopped.
 * Without dieharder: exit 1 when CI=true, otherwise print why the check is skipped and exit 0.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEngine, ENGINE_NAMES, type EngineName } from '../src/index.js';

const SEED = 20240601;
const CHUNK_WORDS = 1 << 16;
/** CI subset: fast tests that still catch a broken engine (birthdays, 6x8 rank, bitstream, count-1s, runs, monobit). */
const SHORT_TESTS = ['0', '3', '4', '9', '15', '100'];
/**
 * Full set: every dieharder test rated "Good" except two that take minutes per engine here, the
 * Marsaglia-Tsang GCD test (17, ~100 s) and the RGB generalized minimum distance test (201, > 3 min);
 * rgb_bitdist (200) needs an ntuple and runs with 2 and 8.
 */
const FULL_TESTS = [
  ...['0', '1', '2', '3', '4', '8', '9', '10', '11', '12', '13', '15', '16'],
  ...[
    '100',
    '101',
    '102',
    '200/2',
    '200/8',
    '202',
    '203',
    '204',
    '205',
    '206',
    '207',
    '208',
    '209',
  ],
];

type Outcome = 'PASSED' | 'WEAK' | 'FAILED';
interface Line {
  readonly test: string;
  readonly ntup: string;
  readonly psamples: number;
  readonly pvalue: string;
  readonly outcome: Outcome;
}
interface Run {
  readonly engine: EngineName;
  /** A dieharder test number, or `number/ntuple` for a test that needs `-n`. */
  readonly spec: string;
  /** The deciding result lines (see `decisive`). */
  readonly lines: readonly Line[];
  readonly seconds: number;
  /** True when the run was stopped at --max-seconds. */
  readonly stopped: boolean;
  readonly error?: string;
}

const { values } = parseArgs({
  options: {
    short: { type: 'boolean', default: false },
    engines: { type: 'string' },
    tests: { type: 'string' },
    jobs: { type: 'string' },
    out: { type: 'string' },
    'max-seconds': { type: 'string', default: '240' },
  },
});

const dieharder = process.env.DIEHARDER ?? 'dieharder';

function dieharderVersion(): string | null {
  const probe = spawnSync(dieharder, ['-l'], { encoding: 'utf8' });
  if (probe.error) return null;
  return probe.stdout.match(/dieharder version ([\d.]+)/)?.[1] ?? 'unknown version';
}

/** Parses dieharder's result lines: `name| ntup| tsamples| psamples| p-value| Assessment`. */
function parseResults(stdout: string): Line[] {
  const lines: Line[] = [];
  for (const row of stdout.split('\n')) {
    const cells = row.split('|').map((cell) => cell.trim());
    if (cells.length < 6) continue;
    const outcome = cells[5];
    if (outcome !== 'PASSED' && outcome !== 'WEAK' && outcome !== 'FAILED') continue;
    const [test = '', ntup = '', , psamples, pvalue = ''] = cells;
    lines.push({ test, ntup, psamples: Number(psamples), pvalue, outcome });
  }
  return lines;
}

/**
 * The lines that decide a run: with -Y 1 dieharder prints every attempt at a test, each with more
 * p-samples, so for each (test, ntuple) only the attempt with the most p-samples counts (a test
 * such as diehard_runs prints several statistics per attempt; all of those count).
 */
function decisive(lines: readonly Line[]): Line[] {
  const most = new Map<string, number>();
  for (const line of lines) {
    const key = `${line.test}|${line.ntup}`;
    most.set(key, Math.max(most.get(key) ?? 0, line.psamples));
  }
  return lines.filter((line) => line.psamples === most.get(`${line.test}|${line.ntup}`));
}

/** Feeds one engine's stream to one dieharder test until dieharder stops reading. */
function runTest(engineName: EngineName, spec: string): Promise<Run> {
  const started = performance.now();
  const engine = createEngine(engineName, SEED);
  const [testNumber = '', ntuple] = spec.split('/');
  const args = ['-g', '200', '-d', testNumber, '-Y', '1', ...(ntuple ? ['-n', ntuple] : [])];
  const child = spawn(dieharder, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
  });
  let finished = false;
  let stopped = false;
  const timer = setTimeout(() => {
    stopped = true;
    child.kill('SIGTERM');
  }, Number(values['max-seconds']) * 1000);
  // EPIPE (or a write after close) just means dieharder has read all it needs.
  child.stdin.on('error', () => {
    finished = true;
  });
  const write = () => {
    while (!finished) {
      const chunk = engine.fillUint32(new Uint32Array(CHUNK_WORDS));
      if (!child.stdin.write(new Uint8Array(chunk.buffer))) {
        child.stdin.once('drain', write);
        return;
      }
    }
  };
  return new Promise((resolve) => {
    child.on('close', (code) => {
      finished = true;
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      const lines = decisive(parseResults(stdout));
      const error =
        lines.length === 0
          ? `dieharder exited with ${code}: ${(stderr.trim() || stdout.trim()).split('\n')[0]}`
          : undefined;
      resolve({ engine: engineName, spec, lines, seconds, stopped, ...(error ? { error } : {}) });
    });
    write();
  });
}

/** Runs the tasks with at most `jobs` dieharder processes at a time; results in task order. */
async function runAll(
  tasks: readonly (readonly [EngineName, string])[],
  jobs: number,
): Promise<Run[]> {
  const results: Run[] = new Array(tasks.length);
  let nextTask = 0;
  const worker = async () => {
    while (nextTask < tasks.length) {
      const index = nextTask++;
      const [engine, spec] = tasks[index]!;
      const run = await runTest(engine, spec);
      results[index] = run;
      const summary =
        run.error ??
        run.lines.map((line) => `${line.test}[${line.ntup}] ${line.outcome}`).join(', ');
      const time = `${run.seconds.toFixed(1).padStart(6)}s`;
      const note = run.stopped ? ' (stopped at --max-seconds)' : '';
      console.log(`${engine.padEnd(14)} -d ${spec.padEnd(5)} ${time}  ${summary}${note}`);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  return results;
}

function worst(run: Run): Outcome {
  if (run.lines.some((line) => line.outcome === 'FAILED')) return 'FAILED';
  if (run.lines.some((line) => line.outcome === 'WEAK')) return 'WEAK';
  return 'PASSED';
}

/** A table cell: pass / weak / FAIL, with "k/n" when a test reports n statistics and k are that bad. */
function cell(run: Run | undefined): string {
  if (!run) return '—';
  if (run.error) return 'error';
  const outcome = worst(run);
  const count = run.lines.filter((line) => line.outcome === outcome).length;
  const share =
    run.lines.length > 1 && outcome !== 'PASSED' ? ` (${count}/${run.lines.length})` : '';
  const stopped = run.stopped ? `, still WEAK when stopped at ${Math.round(run.seconds)} s ¹` : '';
  return `${{ PASSED: 'pass', WEAK: 'weak', FAILED: '**FAIL**' }[outcome]}${share}${stopped}`;
}

function markdown(
  runs: Run[],
  engines: EngineName[],
  tests: string[],
  version: string,
  seconds: number,
): string {
  const rows = tests.map((spec) => {
    const name =
      runs.find((run) => run.spec === spec && run.lines.length > 0)?.lines[0]?.test ?? 'test';
    const [number, ntuple] = spec.split('/');
    const label = `${name} (-d ${number}${ntuple ? ` -n ${ntuple}` : ''})`;
    const cells = engines.map((engine) =>
      cell(runs.find((r) => r.engine === engine && r.spec === spec)),
    );
    return `| ${label} | ${cells.join(' | ')} |`;
  });
  const totals = engines.map((engine) => {
    const own = runs.filter((run) => run.engine === engine);
    const count = (outcome: Outcome) =>
      own.filter((run) => !run.error && worst(run) === outcome).length;
    const errors = own.filter((run) => run.error).length;
    return `${count('PASSED')} pass, ${count('WEAK')} weak, ${count('FAILED') + errors} fail`;
  });
  const machine = `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}`;
  return [
    '# Statistical quality of the @halfstep/rng engines',
    '',
    `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}, with dieharder ${version}`,
    `(Debian), by \`pnpm check:rng-quality\` (packages/rng/check/quality.ts), ${(seconds / 60).toFixed(0)} minutes.`,
    `Each engine is seeded with ${SEED}; its raw 32-bit words go to \`dieharder -g 200 -d N -Y 1\``,
    "with dieharder's default sample sizes.",
    '',
    'Outcomes follow dieharder: FAILED when a p-value is below 1e-6, WEAK when below 0.005 or above',
    '0.995, otherwise PASSED; `-Y 1` re-runs a WEAK test with more p-samples until it resolves, and',
    'the cell shows the final attempt. A perfect generator is WEAK in about 1 test in 100, so an',
    'isolated "weak" is not a defect. "(k/n)": the test reports n statistics and k of them had that outcome.',
    `¹ -Y 1 kept re-running a test that stayed WEAK; the run was stopped after ${values['max-seconds']} s and its`,
    'last attempt is shown. A test that stays WEAK with ever more samples points at a real, if small, bias.',
    '',
    `| dieharder test | ${engines.join(' | ')} |`,
    `| --- | ${engines.map(() => '---').join(' | ')} |`,
    ...rows,
    `| **summary** | ${totals.join(' | ')} |`,
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const version = dieharderVersion();
  if (version === null) {
    const reason = `dieharder not found (ran "${dieharder}"; install Debian's dieharder package or set DIEHARDER)`;
    if (process.env.CI === 'true') {
      console.error(`check:rng-quality: ${reason}; failing because CI=true.`);
      return 1;
    }
    console.log(`check:rng-quality: skipped: ${reason}.`);
    return 0;
  }
  const engines = (values.engines?.split(',') ?? [...ENGINE_NAMES]) as EngineName[];
  for (const engine of engines) {
    if (!ENGINE_NAMES.includes(engine)) throw new RangeError(`--engines: unknown engine ${engine}`);
  }
  const tests = values.tests?.split(',') ?? (values.short ? SHORT_TESTS : FULL_TESTS);
  const jobs = Number(values.jobs ?? Math.max(1, cpus().length));
  const started = performance.now();
  const tasks = engines.flatMap((engine) => tests.map((spec) => [engine, spec] as const));
  const runs = await runAll(tasks, jobs);
  const seconds = (performance.now() - started) / 1000;
  console.log(`\n${runs.length} dieharder runs in ${seconds.toFixed(0)} s`);

  for (const run of runs.filter((r) => !r.error && worst(r) === 'WEAK')) {
    console.log(
      `note: ${run.engine} -d ${run.spec} WEAK after -Y 1${run.stopped ? ' (stopped)' : ''} (not a failure by dieharder's convention)`,
    );
  }
  if (!values.short || values.out) {
    const out = values.out ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'QUALITY.md');
    writeFileSync(out, markdown(runs, engines, tests, version, seconds));
    console.log(`wrote ${out}`);
  }
  const failed = runs.filter((run) => run.error || worst(run) === 'FAILED');
  for (const run of failed) {
    const detail =
      run.error ??
      run.lines.map((l) => `${l.test}[${l.ntup}] p=${l.pvalue} ${l.outcome}`).join('; ');
    console.error(`FAILED: ${run.engine} -d ${run.spec}: ${detail}`);
  }
  // Only the short (CI) mode gates on failures; the full mode is a report.
  return values.short && failed.length > 0 ? 1 : 0;
}

process.exitCode = await main();
