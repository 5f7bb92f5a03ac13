import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { checkWritableDir, checkWritableFile, integerIn, numberAbove } from './cli-values.js';
import { writeSyntheticCriteo } from './data/synthetic/index.js';
import { parseLayers } from './model/config.js';
import { isPrecision, PRECISIONS, type Precision } from './model/precision.js';
import { runComparison } from './report/compare.js';
import { runTraining, writeMetrics } from './run.js';
import { launchWorkers, newRunId } from './scale/launch.js';
import {
  formatDistributed,
  runWorkerProcess,
  type WorkerProcessSettings,
  writeDistributedMetrics,
} from './scale/run-distributed.js';
import {
  formatStoreUrl,
  MEMORY_STORE,
  parseStoreUrl,
  type RedisLocation,
  redactCredentials,
  type StoreLocation,
  StoreUrlError,
} from './scale/store-url.js';
import { dropStoreTables, listStoreTables } from './scale/tables-command.js';
import { RUN_ID } from './scale/worker-group.js';
import { DEFAULT_SETTINGS, DEFAULT_TRAIN_EXAMPLES, type RunSettings } from './settings.js';
import { OPTIMIZERS, type OptimizerName } from './train/dense-optimizer.js';

/** The precisions `compare` runs by default. */
export const DEFAULT_COMPARE: readonly Precision[] = ['fp32', 'fp16-sr', 'fp16-nearest'];

/** Upper limits of the numeric options (generous; they keep allocations and loops sane). */
export const LIMITS = {
  /** Rows per table (DLRM's `--max-ind-range` on Terabyte is 10M; 2^24 = 16.8M). */
  rows: 1 << 24,
  batchSize: 65_536,
  examples: Number.MAX_SAFE_INTEGER,
  validationExamples: 100_000_000,
  epochs: 10_000,
  embeddingDim: 1024,
  seed: 0xffff_ffff,
  steps: Number.MAX_SAFE_INTEGER,
  workers: 256,
  lr: 1e9,
} as const;

function storeLocation(value: string): StoreLocation {
  try {
    return parseStoreUrl(value);
  } catch (error) {
    if (error instanceof StoreUrlError) throw new InvalidArgumentError(error.reason);
    throw error;
  }
}

function runId(value: string): string {
  if (!RUN_ID.test(value))
    throw new InvalidArgumentError('expected 1 to 64 letters, digits, "-" or "_"');
  return value;
}

function layers(value: string): number[] {
  try {
    return parseLayers(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** Parses `fp32,fp16-sr,...`. */
export function parsePrecisions(value: string): Precision[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((p) => !isPrecision(p));
  if (list.length === 0 || bad.length > 0) {
    throw new InvalidArgumentError(
      `unknown precision ${bad.join(', ') || '(none)'}; expected some of ${PRECISIONS.join(', ')}`,
    );
  }
  return list as Precision[];
}

function addRunOptions(command: Command): Command {
  const d = DEFAULT_SETTINGS;
  return command
    .option('--data <file>', 'Criteo TSV (plain or .gz); default: built-in synthetic data')
    .option(
      '--max-ind-range <n>',
      'hash categorical values of --data into this many rows per table',
      integerIn(2, LIMITS.rows),
      d.maxIndRange,
    )
    .addOption(
      new Option('--precision <p>', 'embedding storage and rounding')
        .choices(PRECISIONS)
        .default(d.precision),
    )
    .option('--backend <name>', 'js | wasm | webgpu | auto (best available)', d.backend)
    .addOption(new Option('--optimizer <o>', 'optimizer').choices(OPTIMIZERS).default(d.optimizer))
    .option('--lr <rate>', 'learning rate', numberAbove(0, LIMITS.lr), d.lr)
    .option('--batch-size <n>', 'training batch size', integerIn(1, LIMITS.batchSize), d.batchSize)
    .option(
      '--train-examples <n>',
      `training examples (built-in data default ${DEFAULT_TRAIN_EXAMPLES}; with --data: at most this many)`,
      integerIn(1, LIMITS.examples),
    )
    .option(
      '--validation-examples <n>',
      'validation examples of the built-in data',
      integerIn(1, LIMITS.validationExamples),
      d.validationExamples,
    )
    .option('--cap <n>', 'built-in data: cap on table rows', integerIn(2, LIMITS.rows), d.cap)
    .option('--data-seed <n>', 'built-in data: seed', integerIn(0, LIMITS.seed), d.dataSeed)
    .option('--epochs <n>', 'epochs', integerIn(1, LIMITS.epochs), d.epochs)
    .option(
      '--seed <n>',
      'seed of the init and the stochastic rounding bits',
      integerIn(0, LIMITS.seed),
      d.seed,
    )
    .addOption(
      new Option('--bottom-mlp <sizes>', 'bottom MLP widths after the 13 inputs')
        .argParser(layers)
        .default([...d.bottom], d.bottom.join('-')),
    )
    .addOption(
      new Option('--top-mlp <sizes>', 'top MLP widths after the interaction')
        .argParser(layers)
        .default([...d.top], d.top.join('-')),
    )
    .option(
      '--embedding-dim <n>',
      'embedding width (= the bottom MLP output)',
      integerIn(1, LIMITS.embeddingDim),
      d.embeddingDim,
    )
    .option(
      '--eval-every <n>',
      'also validate every n batches (0: end of each epoch only)',
      integerIn(0, LIMITS.steps),
      d.evalEvery,
    )
    .option('--checkpoint <dir>', 'save to / resume from this folder')
    .option(
      '--checkpoint-every <n>',
      'also checkpoint every n batches',
      integerIn(0, LIMITS.steps),
      d.checkpointEvery,
    )
    .option(
      '--max-steps <n>',
      'stop (and checkpoint) after n steps in total, as if interrupted',
      integerIn(0, LIMITS.steps),
    )
    .option(
      '--progress-every <n>',
      'without a terminal: a progress line every n batches',
      integerIn(1, LIMITS.steps),
      d.progressEvery,
    )
    .option('--quiet', 'no progress bar or progress lines', false);
}

interface RunFlags {
  data?: string;
  maxIndRange: number;
  precision: Precision;
  backend: string;
  optimizer: OptimizerName;
  lr: number;
  batchSize: number;
  trainExamples?: number;
  validationExamples: number;
  cap: number;
  dataSeed: number;
  epochs: number;
  seed: number;
  bottomMlp: number[];
  topMlp: number[];
  embeddingDim: number;
  evalEvery: number;
  checkpoint?: string;
  checkpointEvery: number;
  maxSteps?: number;
  progressEvery: number;
  quiet: boolean;
}

function settingsOf(flags: RunFlags): RunSettings {
  return {
    ...(flags.data === undefined ? {} : { data: resolve(flags.data) }),
    maxIndRange: flags.maxIndRange,
    cap: flags.cap,
    dataSeed: flags.dataSeed,
    ...(flags.trainExamples === undefined ? {} : { trainExamples: flags.trainExamples }),
    validationExamples: flags.validationExamples,
    precision: flags.precision,
    backend: flags.backend,
    optimizer: flags.optimizer,
    lr: flags.lr,
    batchSize: flags.batchSize,
    epochs: flags.epochs,
    seed: flags.seed,
    bottom: flags.bottomMlp,
    top: flags.topMlp,
    embeddingDim: flags.embeddingDim,
    evalEvery: flags.evalEvery,
    ...(flags.checkpoint === undefined ? {} : { checkpoint: resolve(flags.checkpoint) }),
    checkpointEvery: flags.checkpointEvery,
    ...(flags.maxSteps === undefined ? {} : { maxSteps: flags.maxSteps }),
    progressEvery: flags.progressEvery,
    quiet: flags.quiet,
  };
}

/** The data-parallel flags of `train`. */
interface ScaleFlags {
  store: StoreLocation;
  workers: number;
  syncEvery: number;
  rank?: number;
  runId?: string;
  compare?: Precision[];
  keepTables?: boolean;
}

/** The environment variable `--store` is read from when the flag is not given. */
export const STORE_ENV = 'HALFSTEP_STORE';

/** `--store`, also read from {@link STORE_ENV} (keeps a password off the command line). */
function storeOption(description: string): Option {
  return new Option('--store <url>', description).env(STORE_ENV).argParser(storeLocation);
}

/** `args` without `--store <url>` / `--store=<url>`. */
function withoutStore(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--store') i++;
    else if (!args[i]!.startsWith('--store=')) out.push(args[i]!);
  }
  return out;
}

/** The default of `--sync-every`. */
export const DEFAULT_SYNC_EVERY = 16;

/**
 * What `train` runs for the data-parallel flags: `null` for today's single-process in-memory
 * training, `launch` to start the workers on this machine, or `worker` to be one of them.
 * @throws Error naming the flags of a combination that cannot run.
 */
export function planScale(
  flags: ScaleFlags & Partial<RunFlags>,
):
  | null
  | { readonly mode: 'launch'; readonly workers: number }
  | { readonly mode: 'worker'; readonly scale: WorkerProcessSettings } {
  const { store, workers, rank } = flags;
  if (store.kind === 'memory') {
    if (workers > 1) {
      throw new Error(
        `--workers ${workers} needs --store redis://host:port[,...]: workers share the embedding rows through Redis, and the memory store lives in one process`,
      );
    }
    if (rank !== undefined) throw new Error('--rank needs --store redis://host:port[,...]');
    return null;
  }
  const unsupported: [boolean, string][] = [
    [flags.compare !== undefined, '--compare'],
    [flags.checkpoint !== undefined, '--checkpoint'],
    [(flags.checkpointEvery ?? 0) > 0, '--checkpoint-every'],
    [flags.maxSteps !== undefined, '--max-steps'],
  ];
  const bad = unsupported.filter(([yes]) => yes).map(([, flag]) => flag);
  if (bad.length > 0) {
    throw new Error(
      `${bad.join(', ')} cannot be used with --store redis://...: a run on a store keeps its tables in the store, and does not checkpoint them (yet)`,
    );
  }
  if (rank !== undefined) {
    if (rank >= workers)
      throw new Error(`--rank ${rank} is not a worker of --workers ${workers} (0..${workers - 1})`);
    if (flags.runId === undefined)
      throw new Error('--rank needs --run-id: every worker of a run must be given the same id');
  }
  if (rank === undefined && workers > 1) return { mode: 'launch', workers };
  return {
    mode: 'worker',
    scale: {
      store,
      workers,
      syncEvery: flags.syncEvery,
      runId: flags.runId ?? newRunId(),
      rank: rank ?? 0,
      keepTables: flags.keepTables ?? false,
    },
  };
}

const log = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** Runs the comparison and prints the markdown table. */
async function compare(
  settings: RunSettings,
  precisions: readonly Precision[],
  outDir: string,
): Promise<void> {
  const comparison = await runComparison(settings, precisions, outDir, log);
  log('');
  log(comparison.table);
  log(`wrote ${comparison.files.markdown}, ${comparison.files.svg}, ${comparison.files.json}`);
}

/** The `halfstep-recsys` program (commander), ready to `parseAsync`. */
export function createProgram(): Command {
  const program = new Command('halfstep-recsys')
    .description(
      'DLRM on Criteo-format data with half-precision embedding tables and stochastic rounding',
    )
    .showHelpAfterError()
    // Commander echoes a refused option's value: never a password in it.
    .configureOutput({ outputError: (text, write) => write(redactCredentials(text)) });

  addRunOptions(
    program.command('train').description('train one model (or compare precisions with --compare)'),
  )
    .option('--metrics-out <file>', 'write the metrics as JSON')
    .option(
      '--compare <precisions>',
      'train once per precision (e.g. fp32,fp16-sr,fp16-nearest) and write a report',
      parsePrecisions,
    )
    .option('--out-dir <dir>', 'where --compare writes its report', 'results')
    .addOption(
      storeOption(
        `where the embedding rows live: memory, or redis://[user:password@]host:port[,host:port...] (a Redis Cluster; rediss:// for TLS)`,
      ).default(MEMORY_STORE, 'memory'),
    )
    .option('--keep-tables', "keep the run's tables in the store after it (default: dropped)")
    .option(
      '--workers <n>',
      'data-parallel worker processes (more than 1 needs --store redis://...)',
      integerIn(1, LIMITS.workers),
      1,
    )
    .option(
      '--sync-every <n>',
      'average the dense parameters over the workers every n steps (0: only at the end)',
      integerIn(0, LIMITS.steps),
      DEFAULT_SYNC_EVERY,
    )
    .option(
      '--rank <r>',
      'run as worker r of --workers (one per machine; needs --store redis://... and --run-id)',
      integerIn(0, LIMITS.workers - 1),
    )
    .option('--run-id <id>', 'names a multi-machine run: its tables and keys in the store', runId)
    .action(
      async (
        flags: RunFlags &
          ScaleFlags & { metricsOut?: string; compare?: Precision[]; outDir: string },
        command: Command,
      ) => {
        const settings = settingsOf(flags);
        const plan = planScale(flags);
        // Output paths are checked before a run, not found unwritable after it.
        if (flags.metricsOut) await checkWritableFile('--metrics-out', resolve(flags.metricsOut));
        if (flags.compare) await checkWritableDir('--out-dir', resolve(flags.outDir));
        if (plan?.mode === 'launch') {
          // Commander keeps the argv it parsed as `rawArgs` (not in its typings).
          const raw = (command.parent as unknown as { rawArgs?: string[] } | null)?.rawArgs;
          // The workers get the store through the environment: no password in their arguments.
          const args = withoutStore((raw ?? process.argv).slice(2));
          await launchWorkers(args, plan.workers, flags.runId ?? newRunId(), log, {
            [STORE_ENV]: formatStoreUrl(flags.store, 'with-password'),
          });
          return;
        }
        if (plan?.mode === 'worker') {
          const result = await runWorkerProcess(settings, plan.scale, log);
          if (result === null) return;
          for (const line of formatDistributed(result)) log(line);
          if (flags.metricsOut) {
            await writeDistributedMetrics(resolve(flags.metricsOut), result, settings, plan.scale);
            log(`metrics written to ${resolve(flags.metricsOut)}`);
          }
          return;
        }
        if (flags.compare) {
          await compare(settings, flags.compare, resolve(flags.outDir));
          return;
        }
        const result = await runTraining(settings, log);
        const v = result.validation;
        log(
          `${result.precision} on ${result.backend}: validation logloss ${v.logloss.toFixed(5)}, AUC ${v.auc.toFixed(5)}, accuracy ${v.accuracy.toFixed(5)}; ${result.examplesPerSecond.toFixed(0)} examples/s; embeddings ${result.embeddingBytes} bytes${result.completed ? '' : ` (stopped at step ${result.steps})`}`,
        );
        if (flags.metricsOut) {
          await writeMetrics(resolve(flags.metricsOut), result, settings);
          log(`metrics written to ${resolve(flags.metricsOut)}`);
        }
      },
    );

  addRunOptions(
    program
      .command('compare')
      .description(
        'train once per precision on the same seed and data; print and write the report',
      ),
  )
    .option('--precisions <list>', 'precisions to compare', parsePrecisions, [...DEFAULT_COMPARE])
    .option('--out-dir <dir>', 'where the report is written', 'results')
    .action(async (flags: RunFlags & { precisions: Precision[]; outDir: string }) => {
      await checkWritableDir('--out-dir', resolve(flags.outDir));
      await compare(settingsOf(flags), flags.precisions, resolve(flags.outDir));
    });

  const tables = program
    .command('tables')
    .description("list or drop the runs' embedding tables in a Redis Cluster store");
  const redisStore = (flags: { store?: StoreLocation }): RedisLocation => {
    if (flags.store?.kind !== 'redis')
      throw new Error(
        `tables needs --store redis://... (or $${STORE_ENV}): the tables of runs live in a Redis Cluster`,
      );
    return flags.store;
  };
  tables
    .command('list')
    .description('list the tables of every run (or of --run-id) with their rows and bytes')
    .addOption(
      storeOption('the Redis Cluster: redis://[user:password@]host:port[,...] or rediss://'),
    )
    .option('--run-id <id>', 'only this run', runId)
    .action(async (flags: { store?: StoreLocation; runId?: string }) => {
      await listStoreTables(redisStore(flags), flags.runId, log);
    });
  tables
    .command('drop')
    .description("delete a run's tables from the store (--run-id), or every run's (--all)")
    .addOption(
      storeOption('the Redis Cluster: redis://[user:password@]host:port[,...] or rediss://'),
    )
    .option('--run-id <id>', 'the run whose tables to delete', runId)
    .option('--all', "delete every run's tables", false)
    .action(async (flags: { store?: StoreLocation; runId?: string; all: boolean }) => {
      const store = redisStore(flags);
      if ((flags.runId === undefined) === !flags.all)
        throw new Error('tables drop needs --run-id <id>, or --all for every run (not both)');
      await dropStoreTables(store, flags.runId, log);
    });

  program
    .command('generate')
    .description('write built-in synthetic data as Criteo TSV (gzipped when FILE ends in .gz)')
    .requiredOption('--out <file>', 'output file')
    .requiredOption('--examples <n>', 'number of examples', integerIn(0, LIMITS.examples))
    .option('--seed <n>', 'data seed', integerIn(0, LIMITS.seed), DEFAULT_SETTINGS.dataSeed)
    .option('--cap <n>', 'cap on table rows', integerIn(2, LIMITS.rows), DEFAULT_SETTINGS.cap)
    .action(async (flags: { out: string; examples: number; seed: number; cap: number }) => {
      const path = resolve(flags.out);
      await checkWritableFile('--out', path);
      const n = await writeSyntheticCriteo(path, {
        examples: flags.examples,
        seed: flags.seed,
        cap: flags.cap,
      });
      log(`wrote ${n} examples to ${path}`);
    });
  return program;
}

/** Runs the CLI on `argv` (process.argv form); prints errors as `error: ...` and sets exit code 1. */
export async function main(argv: readonly string[]): Promise<void> {
  try {
    await createProgram().parseAsync([...argv]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`error: ${redactCredentials(message)}\n`);
    process.exitCode = 1;
  }
}
