/**
 * The exhaustive codec check: every one of the 2^32 float32 bit patterns is encoded to float16
 * and to bfloat16 (round to nearest even) and compared against independent oracles:
 *
 * - float16: x86 F16C hardware (`vcvtps2ph`, via check/f16c-oracle.c, all inputs, NaNs included)
 *   and `@petamoriken/float16` (all non-NaN inputs);
 * - bfloat16: exact double arithmetic (below), NaNs against the documented payload rule;
 * - decode: all 65,536 float16 codes against F16C `vcvtph2ps`.
 *
 * Usage: `pnpm check:exhaustive [--chunks N]` (N of the 256 chunks of 2^24 inputs, evenly
 * spaced over the bit patterns, for a quick look). Prints every mismatch (up to 20 per kind) with its input and exits 1 if there is any.
 * Without a C compiler or an F16C CPU the hardware oracle is skipped with a message, except when
 * CI=true, where that is an error.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { decode, encode } from '@halfstep/codecs';
import { Float16Array as PetamorikenFloat16Array } from '@petamoriken/float16';

const CHUNK_BITS = 24;
const CHUNK = 2 ** CHUNK_BITS;
const TOTAL_CHUNKS = 2 ** (32 - CHUNK_BITS);
const MAX_REPORTED = 20;

interface Job {
  readonly chunks: number[];
  readonly oracle: string | null;
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

/**
 * bfloat16 nearest-even by exact double arithmetic, independent of the bit-level encoder: divide
 * |x| by its grid step (a power of two, so exactly), round that double to an integer with ties to
 * even, multiply back; the result is a float32 whose low 16 bits are zero, or overflows to
 * infinity. The grid step depends only on x's binade: 2^(e - 127 - 7) for exponent field e, and
 * the subnormal step 2^-133 for e = 0.
 */
const bfloat16Steps = Float64Array.from({ length: 256 }, (_, e) => 2 ** (Math.max(e, 1) - 134));
const oracleValue = new Float32Array(1);
const oracleBits = new Uint32Array(oracleValue.buffer);
function bfloat16Oracle(bits: number, value: number): number {
  const step = bfloat16Steps[(bits >>> 23) & 0xff]!;
  const scaled = Math.abs(value) / step;
  const floor = Math.floor(scaled);
  const rest = scaled - floor;
  const rounded = rest > 0.5 || (rest === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
  oracleValue[0] = rounded * step;
  if ((oracleBits[0]! & 0xffff) !== 0) throw new Error(`oracle bug at ${hex(bits, 8)}`);
  return ((bits >>> 16) & 0x8000) | (oracleBits[0]! >>> 16);
}

function checkChunks(job: Job): Report {
  let checked = 0;
  let mismatches = 0;
  const examples: Mismatch[] = [];
  const report = (check: string, input: number, ours: number, expected: number) => {
    mismatches++;
    if (examples.filter((e) => e.check === check).length < MAX_REPORTED) {
      examples.push({ check, input, ours, expected });
    }
  };
  const bits = new Uint32Array(CHUNK);
  const values = new Float32Array(bits.buffer);
  const half = new Uint16Array(CHUNK);
  const brain = new Uint16Array(CHUNK);
  for (const chunk of job.chunks) {
    const start = chunk * CHUNK;
    for (let i = 0; i < CHUNK; i++) bits[i] = start + i;
    encode('float16', values, { out: half });
    encode('bfloat16', values, { out: brain });

    if (job.oracle) {
      const hardware = execFileSync(job.oracle, ['encode', String(start), String(CHUNK)], {
        maxBuffer: CHUNK * 2 + 1024,
      });
      const expected = new Uint16Array(hardware.buffer, hardware.byteOffset, CHUNK);
      for (let i = 0; i < CHUNK; i++) {
        if (half[i] !== expected[i]) report('float16 vs F16C', start + i, half[i]!, expected[i]!);
      }
    }
    const peer = new Uint16Array(new PetamorikenFloat16Array(values).buffer);
    for (let i = 0; i < CHUNK; i++) {
      const x = bits[i]!;
      const nan = (x & 0x7fffffff) > 0x7f800000;
      if (!nan && half[i] !== peer[i])
        report('float16 vs @petamoriken/float16', x, half[i]!, peer[i]!);
      const expected = nan ? ((x >>> 16) | 0x40) & 0xffff : bfloat16Oracle(x, values[i]!);
      if (brain[i] !== expected) report('bfloat16 vs exact arithmetic', x, brain[i]!, expected);
    }
    checked += CHUNK;
  }
  return { checked, mismatches, examples };
}

/** Compiles the F16C oracle; returns its path, or why it cannot be used. */
function buildOracle(): string | { reason: string } {
  const source = join(dirname(fileURLToPath(import.meta.url)), 'f16c-oracle.c');
  const binary = join(mkdtempSync(join(tmpdir(), 'halfstep-f16c-')), 'f16c-oracle');
  try {
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-mf16c', '-o', binary, source], {
      stdio: 'pipe',
    });
    execFileSync(binary, ['encode', '0', '1']); // SIGILL here means the CPU lacks F16C
    return binary;
  } catch (error) {
    return { reason: (error as Error).message.split('\n')[0]! };
  }
}

function checkDecode(oracle: string): Report {
  const hardware = execFileSync(oracle, ['decode'], { maxBuffer: 65536 * 4 + 1024 });
  const expected = new Uint32Array(
    hardware.buffer.slice(hardware.byteOffset, hardware.byteOffset + 65536 * 4),
  );
  const codes = new Uint16Array(65536).map((_, i) => i);
  const ours = new Uint32Array(decode('float16', codes).buffer);
  const examples: Mismatch[] = [];
  let mismatches = 0;
  for (let i = 0; i < 65536; i++) {
    if (ours[i] !== expected[i]) {
      mismatches++;
      if (examples.length < MAX_REPORTED) {
        examples.push({
          check: 'float16 decode vs F16C',
          input: i,
          ours: ours[i]!,
          expected: expected[i]!,
        });
      }
    }
  }
  return { checked: 65536, mismatches, examples };
}

// Workers do not inherit tsx's loader hooks on Node 20: register them before importing this file.
const workerEntry = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { chunks: { type: 'string' } } });
  const chunkCount = values.chunks ? Math.min(TOTAL_CHUNKS, Number(values.chunks)) : TOTAL_CHUNKS;
  const oracle = buildOracle();
  if (typeof oracle !== 'string') {
    const message = `F16C hardware oracle unavailable (${oracle.reason})`;
    if (process.env.CI === 'true') throw new Error(`${message}; CI requires it`);
    console.warn(`${message}: skipping the hardware comparison, the other oracles still run`);
  }
  const oraclePath = typeof oracle === 'string' ? oracle : null;
  const workers = Math.max(1, Math.min(availableParallelism(), chunkCount));
  const started = performance.now();
  // Spread chunks round-robin so every worker sees small, large and NaN inputs alike.
  const selected = Array.from({ length: chunkCount }, (_, i) =>
    Math.floor((i * TOTAL_CHUNKS) / chunkCount),
  );
  const jobs: Job[] = Array.from({ length: workers }, (_, w) => ({
    chunks: selected.filter((_, i) => i % workers === w),
    oracle: oraclePath,
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
  if (oraclePath) reports.push(checkDecode(oraclePath));
  const checked = reports.reduce((sum, r) => sum + r.checked, 0);
  const mismatches = reports.reduce((sum, r) => sum + r.mismatches, 0);
  for (const example of reports.flatMap((r) => r.examples)) {
    console.error(
      `MISMATCH ${example.check}: input ${hex(example.input, 8)} -> ours ${hex(example.ours, 4)}, expected ${hex(example.expected, 4)}`,
    );
  }
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `exhaustive codec check: ${chunkCount * CHUNK} float32 inputs x (float16, bfloat16)` +
      `${oraclePath ? ' + 65536 float16 decodes' : ''}, oracles: ${oraclePath ? 'F16C hardware, ' : ''}` +
      `@petamoriken/float16, exact arithmetic; ${mismatches} mismatches; ${seconds} s on ${workers} threads`,
  );
  if (checked === 0) throw new Error('nothing was checked');
  process.exitCode = mismatches === 0 ? 0 : 1;
}

if (isMainThread) await main();
else parentPort!.postMessage(checkChunks(workerData as Job));
