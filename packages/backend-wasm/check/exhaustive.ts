/**
 * The exhaustive WASM codec check: every one of the 2^32 float32 bit patterns is encoded to
 * float16 and to bfloat16 (round to nearest even, both overflow modes alternating by chunk) by the
 * WASM kernels, SIMD build and scalar build, and compared with `@halfstep/codecs`' JS encoder
 * (itself checked exhaustively against F16C hardware by `pnpm check:exhaustive`). All 65,536
 * float16 and bfloat16 codes are decoded and compared too.
 *
 * Usage (from the repository root):
 *   node --conditions=@halfstep/source --import tsx packages/backend-wasm/check/exhaustive.ts [--chunks N] [--threads T]
 * N of the 256 chunks of 2^24 inputs, evenly spaced (default all); T worker threads (default 2).
 * Prints every mismatch (up to 20 per kind) and exits 1 if there is any.
 */
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { decode, encode } from '@halfstep/codecs';
import { loadKernels, type WasmBuild, WasmCodec } from '../src/index.js';

const CHUNK_BITS = 24;
const CHUNK = 2 ** CHUNK_BITS;
const TOTAL_CHUNKS = 2 ** (32 - CHUNK_BITS);
const MAX_REPORTED = 20;

interface Job {
  readonly chunks: number[];
}

interface Mismatch {
  readonly check: string;
  readonly input: number;
  readonly ours: number;
  readonly expected: number;
}

interface Report {
  readonly checked: number;
  readonly mismatches: number;
  readonly examples: Mismatch[];
}

const hex = (value: number, digits: number) => `0x${value.toString(16).padStart(digits, '0')}`;
const BUILDS: WasmBuild[] = ['simd', 'scalar'];

async function checkChunks(job: Job): Promise<Report> {
  let checked = 0;
  let mismatches = 0;
  const examples: Mismatch[] = [];
  const report = (check: string, input: number, ours: number, expected: number) => {
    mismatches++;
    if (examples.filter((e) => e.check === check).length < MAX_REPORTED) {
      examples.push({ check, input, ours, expected });
    }
  };
  const codecs = await Promise.all(
    BUILDS.map(async (build) => new WasmCodec(await loadKernels({ build }))),
  );
  const bits = new Uint32Array(CHUNK);
  const values = new Float32Array(bits.buffer);
  const expected = new Uint16Array(CHUNK);
  const ours = new Uint16Array(CHUNK);
  for (const chunk of job.chunks) {
    const start = chunk * CHUNK;
    for (let i = 0; i < CHUNK; i++) bits[i] = start + i;
    const overflow = chunk % 2 === 0 ? 'infinity' : 'saturate';
    for (const format of ['float16', 'bfloat16'] as const) {
      encode(format, values, { out: expected, overflow });
      for (let b = 0; b < BUILDS.length; b++) {
        codecs[b]!.encode(format, values, { out: ours, overflow });
        for (let i = 0; i < CHUNK; i++) {
          if (ours[i] !== expected[i]) {
            report(`${format} ${overflow} (${BUILDS[b]} build)`, start + i, ours[i]!, expected[i]!);
          }
        }
      }
    }
    checked += CHUNK;
  }
  return { checked, mismatches, examples };
}

async function checkDecode(): Promise<Report> {
  const codes = new Uint16Array(65536).map((_, i) => i);
  const examples: Mismatch[] = [];
  let mismatches = 0;
  for (const build of BUILDS) {
    const codec = new WasmCodec(await loadKernels({ build }));
    for (const format of ['float16', 'bfloat16'] as const) {
      const expected = new Uint32Array(decode(format, codes).buffer);
      const ours = new Uint32Array(codec.decode(format, codes).buffer);
      for (let i = 0; i < 65536; i++) {
        if (ours[i] !== expected[i]) {
          mismatches++;
          if (examples.length < MAX_REPORTED) {
            examples.push({
              check: `${format} decode (${build} build)`,
              input: i,
              ours: ours[i]!,
              expected: expected[i]!,
            });
          }
        }
      }
    }
  }
  return { checked: 2 * 2 * 65536, mismatches, examples };
}

// Workers do not inherit tsx's loader hooks on Node 20: register them before importing this file.
const workerEntry = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { chunks: { type: 'string' }, threads: { type: 'string' } },
  });
  const chunkCount = values.chunks ? Math.min(TOTAL_CHUNKS, Number(values.chunks)) : TOTAL_CHUNKS;
  const threads = Math.max(1, Math.min(Number(values.threads ?? 2), chunkCount));
  const started = performance.now();
  const selected = Array.from({ length: chunkCount }, (_, i) =>
    Math.floor((i * TOTAL_CHUNKS) / chunkCount),
  );
  const jobs: Job[] = Array.from({ length: threads }, (_, w) => ({
    chunks: selected.filter((_, i) => i % threads === w),
  }));
  const reports = await Promise.all(
    jobs.map(
      (job) =>
        new Promise<Report>((resolve, reject) => {
          const worker = new Worker(workerEntry, { eval: true, workerData: job });
          worker.once('message', resolve);
          worker.once('error', reject);
        }),
    ),
  );
  reports.push(await checkDecode());
  const mismatches = reports.reduce((sum, r) => sum + r.mismatches, 0);
  for (const e of reports.flatMap((r) => r.examples)) {
    console.error(
      `MISMATCH ${e.check}: input ${hex(e.input, 8)} -> wasm ${hex(e.ours, 4)}, js ${hex(e.expected, 4)}`,
    );
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `exhaustive WASM codec check: ${chunkCount * CHUNK} float32 inputs x (float16, bfloat16) x (simd, scalar) ` +
      `vs @halfstep/codecs, + 65536 decodes per format and build; ${mismatches} mismatches; ${seconds} s on ${threads} threads`,
  );
  if (mismatches > 0) process.exitCode = 1;
}

if (isMainThread) {
  await main();
} else {
  parentPort!.postMessage(await checkChunks(workerData as Job));
}
