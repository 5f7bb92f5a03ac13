/**
 * Device check of @halfstep/backend-webgpu on whatever adapter Dawn (or the browser) gives:
 * bit-identity of every GPU kernel against @halfstep/backend-js / @halfstep/codecs on random
 * inputs, then throughput (encode/decode, the embedding training step: kernels alone and end to
 * end through the v2 API, with the host <-> device traffic of every timed step from `stats()`,
 * and backend-js on the same shape for a ratio).
 *
 *   node --conditions=@halfstep/source --import tsx packages/backend-webgpu/check/device.ts \
 *     [--small] [--json out.json] [--skip-bench] [--skip-js] [--require-gpu]
 *     [--rows N] [--bags N] [--flush-every N] [--half-conversion auto|integer|hardware]
 *
 * `--small` shrinks every size so that the whole run takes a minute or two on SwiftShader;
 * `--rows` and `--bags` set the training step's table rows and batch bags (of 26 lookups),
 * `--flush-every` the steps enqueued between two `flush()` calls in the pipelined timings
 * (default 16, 4 with `--small`), `--skip-js` leaves out backend-js's training step, `--half-conversion` sets the
 * backend's `halfConversion` (default 'auto'; with 'hardware' every check runs the hardware
 * float16 conversions). Prints plain text; `--json` also writes every figure (with the traffic
 * per step) to a file. Exits 1 when any check fails (or, with `--require-gpu`, when the adapter is
 * a software one such as SwiftShader).
 *
 * Modules: `options.ts` (flags), `results.ts` (what is recorded and printed), `cases.ts` (tables,
 * batches, optimizers), `identity-codecs.ts` and `identity-kernels.ts` (the bit-identity checks),
 * `timing.ts`, `bench-codecs.ts` and `bench-step.ts` (the measurements).
 */
import { writeFileSync } from 'node:fs';
import { JsBackend } from '@halfstep/backend-js';
import { createWebGpuBackend, type WebGpuBackend } from '../src/index.js';
import { benchCodecs } from './bench-codecs.js';
import { benchStep, type StepShape } from './bench-step.js';
import { checkCodecs } from './identity-codecs.js';
import { checkDense, checkEmbedding } from './identity-kernels.js';
import { type CheckOptions, parseCheckOptions, USAGE } from './options.js';
import { bench, checks } from './results.js';

const started = performance.now();

/** Seconds since the check started, for the section headers. */
function since(): string {
  return `at ${((performance.now() - started) / 1000).toFixed(1)} s`;
}

/** The bit-identity checks, at the sizes of the mode. */
async function correctness(gpu: WebGpuBackend, small: boolean): Promise<void> {
  console.log(`\n== bit identity against @halfstep/backend-js / @halfstep/codecs (${since()}) ==`);
  await checkCodecs(gpu, {
    values: small ? 1 << 16 : 1 << 22,
    exactCount: small ? 1 << 21 : 1 << 26,
  });
  const js = new JsBackend();
  try {
    const sizes = {
      forwardRows: small ? 2000 : 100_000,
      forwardBags: small ? 256 : 4096,
      updateRows: small ? 500 : 20_000,
      updateBags: small ? 64 : 2048,
      matmul: small ? ([64, 96, 80] as const) : ([256, 512, 256] as const),
      denseRows: small ? 512 : 4096,
    };
    const seeds = { seed: 1 };
    await checkEmbedding(gpu, js, sizes, seeds);
    await checkDense(gpu, js, sizes, seeds);
  } finally {
    js.dispose();
  }
}

/** The measurements: the codecs, then the training step. */
async function throughput(gpu: WebGpuBackend, options: CheckOptions): Promise<StepShape> {
  const { small } = options;
  console.log(`\n== throughput (${since()}) ==`);
  const ms = small ? 600 : 3000;
  const js = new JsBackend();
  try {
    await benchCodecs(gpu, js, small ? 1 << 20 : 1 << 26, ms);
    return await benchStep(
      gpu,
      options.skipJs ? null : js,
      {
        rows: options.rows ?? (small ? 200_000 : 4_000_000),
        dim: 64,
        bags: options.bags ?? (small ? 256 : 16384),
        perBag: 26,
        flushEvery: options.flushEvery ?? (small ? 4 : 16),
      },
      ms,
    );
  } finally {
    js.dispose();
  }
}

async function main(): Promise<void> {
  let options: CheckOptions;
  try {
    options = parseCheckOptions(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  const { small } = options;
  const gpu = await createWebGpuBackend({
    powerPreference: 'high-performance',
    halfConversion: options.halfConversion,
  });
  console.log(`adapter: ${JSON.stringify(gpu.adapter)}`);
  console.log(`float16 conversions: ${JSON.stringify(gpu.halfConversion)}`);
  console.log(`VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? '(unset)'}`);
  const software = /swiftshader|llvmpipe|lavapipe/i.test(
    `${gpu.adapter.vendor} ${gpu.adapter.architecture} ${gpu.adapter.description}`,
  );
  if (software) {
    console.log('WARNING: a software adapter (CPU): the throughput figures say nothing about GPUs');
    if (options.requireGpu) {
      gpu.dispose();
      console.log('FAIL: --require-gpu and the adapter is a software one');
      process.exitCode = 1;
      return;
    }
  }
  const limits = gpu.device.limits;
  console.log(
    `limits: maxStorageBufferBindingSize=${limits.maxStorageBufferBindingSize} maxBufferSize=${limits.maxBufferSize}`,
  );
  console.log(`mode: ${small ? 'small' : 'full'}  node ${process.version}`);
  let step: StepShape | null = null;
  let total = gpu.stats();
  try {
    await correctness(gpu, small);
    if (!options.skipBench) step = await throughput(gpu, options);
    total = gpu.stats();
  } finally {
    gpu.dispose();
  }
  const failed = checks.filter((c) => c.mismatches > 0);
  for (const c of failed) console.log(`FAILED: ${c.kernel} (${c.mismatches} mismatched)`);
  const compared = checks.reduce((s, c) => s + c.checked, 0);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `\nbackend traffic in all: up ${total.uploadBytes} B, down ${total.downloadBytes} B, ${total.submissions} submissions`,
  );
  console.log(
    `${failed.length === 0 ? 'ALL PASS' : `${failed.length} FAILED`}: ${checks.length} checks, ${compared} values compared, ${seconds.toFixed(1)} s`,
  );
  if (options.json) {
    const result = {
      adapter: gpu.adapter,
      halfConversion: gpu.halfConversion,
      small,
      node: process.version,
      step,
      checks,
      bench,
      stats: total,
      passed: failed.length === 0,
    };
    writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
    console.log(`wrote ${options.json}`);
  }
  process.exitCode = failed.length === 0 ? 0 : 1;
}

await main();
