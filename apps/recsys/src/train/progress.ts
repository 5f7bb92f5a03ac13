import cliProgress from 'cli-progress';
import type { BatchEvent } from './options.js';

/** Shows training progress: a bar on a terminal, else a plain line every `every` batches. */
export interface Progress {
  batch(event: BatchEvent): void;
  /** Prints a line without breaking the bar. */
  log(line: string): void;
  stop(): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Batches in the whole run. */
  readonly totalSteps: number;
  /** Use the bar (default: whether stdout is a TTY). */
  readonly tty?: boolean;
  /** Without a bar: print a line every this many batches (default 100). */
  readonly every?: number;
  /** A label in front, e.g. the precision. */
  readonly label?: string;
  /** Where lines go (default stdout). */
  readonly write?: (line: string) => void;
  /** No bar and no progress lines (other lines are still written). */
  readonly quiet?: boolean;
}

/**
 * A progress display with examples/s and the running loss (the mean batch loss of the last
 * window the trainer read, see `BatchEvent.loss`), as a cli-progress bar when stdout is a
 * terminal.
 */
export function createProgress(options: ProgressOptions): Progress {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const label = options.label ? `[${options.label}] ` : '';
  if (options.quiet) return { batch() {}, log: write, stop() {} };
  let running = Number.NaN;
  const smooth = (loss: number | undefined) => {
    if (loss !== undefined) running = loss;
    return running;
  };
  if (options.tty ?? process.stdout.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label}{bar} {percentage}% | step {value}/{total} | {rate} ex/s | loss {loss} | ETA {eta_formatted}`,
        hideCursor: true,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      batch(event) {
        const payload = {
          rate: event.examplesPerSecond.toFixed(0),
          loss: smooth(event.loss).toFixed(4),
        };
        if (!started) {
          bar.start(options.totalSteps, event.step, payload);
          started = true;
        } else bar.update(event.step, payload);
      },
      log(line) {
        if (started) bar.stop();
        started = false;
        write(line);
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  const every = options.every ?? 100;
  return {
    batch(event) {
      const loss = smooth(event.loss);
      if (event.step % every === 0 || event.step === options.totalSteps) {
        write(
          `${label}step ${event.step}/${options.totalSteps}  examples ${event.examplesSeen}  ${event.examplesPerSecond.toFixed(0)} ex/s  loss ${loss.toFixed(4)}`,
        );
      }
    },
    log: write,
    stop() {},
  };
}
