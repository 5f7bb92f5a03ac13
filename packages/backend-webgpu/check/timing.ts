import type { BackendStats } from '@halfstep/backend';
import type { GpuRunner } from '../src/gpu.js';
import type { Traffic } from './results.js';

/** A timed run: seconds per step, and the backend's traffic per step (when it has `stats()`). */
export interface Timed {
  readonly seconds: number;
  readonly traffic: Traffic | undefined;
  /** Steps the timed rounds ran (the warm-up not counted). */
  readonly steps: number;
}

/** The difference `after - before` divided by `steps`. */
export function trafficPerStep(before: BackendStats, after: BackendStats, steps: number): Traffic {
  return {
    uploadBytes: (after.uploadBytes - before.uploadBytes) / steps,
    downloadBytes: (after.downloadBytes - before.downloadBytes) / steps,
    submissions: (after.submissions - before.submissions) / steps,
  };
}

/**
 * Seconds per step: `run` (which does `steps` steps and resolves when they are done) once to warm
 * up, then 3 rounds each calling it until `ms`/3 have passed; the median round. The traffic is
 * the difference of `source.stats()` around the 3 rounds divided by every step they ran.
 */
export async function timeSteps(
  run: () => Promise<unknown>,
  ms: number,
  options: { readonly steps?: number; readonly source?: { stats(): BackendStats } } = {},
): Promise<Timed> {
  const steps = options.steps ?? 1;
  await run();
  const before = options.source?.stats();
  const per: number[] = [];
  let calls = 0;
  for (let round = 0; round < 3; round++) {
    let roundCalls = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      await run();
      roundCalls++;
      elapsed = performance.now() - start;
    } while (elapsed < ms / 3);
    per.push(elapsed / 1000 / roundCalls / steps);
    calls += roundCalls;
  }
  const after = options.source?.stats();
  const [, median = Number.NaN] = per.sort((a, b) => a - b);
  return {
    seconds: median,
    traffic:
      before === undefined || after === undefined
        ? undefined
        : trafficPerStep(before, after, calls * steps),
    steps: calls * steps,
  };
}

/**
 * Seconds per run of one kernel on GPU-resident buffers: `repeats` dispatches (one compute pass
 * each) in one submission, then waiting for the queue to drain (and for the error scopes);
 * after one warm-up dispatch, repeats grow from 1 (times 4) until a run takes `ms`/2. The runner is the check's own: its traffic is not the
 * backend's.
 */
export async function kernelSeconds(
  runner: GpuRunner,
  key: string,
  source: () => string,
  buffers: GPUBuffer[],
  invocations: number,
  ms: number,
): Promise<number> {
  const once = async (repeats: number) => {
    for (let i = 0; i < repeats; i++) runner.dispatch(key, source, buffers, invocations);
    const submitted = runner.submit();
    await runner.device.queue.onSubmittedWorkDone();
    await submitted;
  };
  await once(1);
  let repeats = 1;
  for (;;) {
    const start = performance.now();
    await once(repeats);
    const elapsed = performance.now() - start;
    if (elapsed > ms / 2 || repeats >= 4096) return elapsed / 1000 / repeats;
    repeats *= 4;
  }
}
