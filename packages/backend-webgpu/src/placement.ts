import type { TableHandle } from '@halfstep/backend';
import { roundNearestEven } from '@halfstep/codecs';
import { sgd } from '@halfstep/optim';
import type { WebGpuBackend } from './backend.js';

/**
 * The kernels whose small calls the WebGPU backend can keep on its CPU copy, and the work of one
 * call that their thresholds compare against:
 *
 * - `'encode'`: elements (`src.length`) of `encodeAsync` and `encodeCounterStochasticAsync`.
 * - `'decode'`: elements (`codes.length`) of `decodeAsync`.
 * - `'forward'`: lookups x dim (`indices.length * table.dim`) of `embeddingBagForwardAsync`.
 * - `'readRows'`: rows x dim of `readRowsAsync` (every row of the table when `rows` is omitted).
 * - `'matmul'`: m x n x k of `matmulAsync`.
 * - `'elementwise'`: elements of `addBiasAsync` (rows x cols), `reluAsync` (`x.length`),
 *   `reluBackwardAsync` (`grad.length`) and `sumRowsAsync` (rows x cols).
 */
export type SmallWorkKernel =
  | 'encode'
  | 'decode'
  | 'forward'
  | 'readRows'
  | 'matmul'
  | 'elementwise';

/** Every `SmallWorkKernel`, in the order `measureSmallWork` measures them. */
export const SMALL_WORK_KERNELS: readonly SmallWorkKernel[] = Object.freeze([
  'encode',
  'decode',
  'forward',
  'readRows',
  'matmul',
  'elementwise',
]);

/**
 * A work threshold per kernel: a call whose work (see `SmallWorkKernel`) is strictly below its
 * kernel's threshold runs on the CPU copy instead of the GPU. 0 sends every call to the GPU (the
 * default); `Infinity` keeps every call on the CPU.
 */
export type CpuThresholds = Readonly<Record<SmallWorkKernel, number>>;

/** Thresholds that send every call to the GPU (0 for every kernel). */
export const ALL_ON_GPU: CpuThresholds = Object.freeze({
  encode: 0,
  decode: 0,
  forward: 0,
  readRows: 0,
  matmul: 0,
  elementwise: 0,
});

/**
 * The thresholds of the `smallWorkOnCpu` option of `createWebGpuBackend`: its numbers, with 0
 * for the kernels it leaves out; every threshold 0 for `undefined` and for `'measure'` (until
 * `measureCpuThresholds` runs).
 * @throws RangeError naming the key and the value for an unknown kernel name or a threshold that
 *   is not a non-negative number (negative, NaN, not a number), and for a value that is neither
 *   `'measure'` nor an object.
 */
export function cpuThresholdsOf(
  value: 'measure' | Partial<Record<SmallWorkKernel, number>> | undefined,
): CpuThresholds {
  if (value === undefined || value === 'measure') return ALL_ON_GPU;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RangeError(
      `smallWorkOnCpu: expected 'measure' or an object of thresholds, got ${String(value)}`,
    );
  }
  const thresholds: Record<SmallWorkKernel, number> = { ...ALL_ON_GPU };
  for (const [key, threshold] of Object.entries(value)) {
    if (!(SMALL_WORK_KERNELS as readonly string[]).includes(key)) {
      throw new RangeError(
        `smallWorkOnCpu.${key}: unknown kernel (expected one of ${SMALL_WORK_KERNELS.join(', ')}), got ${String(threshold)}`,
      );
    }
    if (typeof threshold !== 'number' || !(threshold >= 0)) {
      throw new RangeError(
        `smallWorkOnCpu.${key}: expected a non-negative number, got ${String(threshold)}`,
      );
    }
    thresholds[key as SmallWorkKernel] = threshold;
  }
  return Object.freeze(thresholds);
}

/** The fastest of 3 timed calls of the CPU and of the GPU path of a kernel at one size. */
export interface SmallWorkSample {
  readonly kernel: SmallWorkKernel;
  /** The work of the timed calls (for matmul the cube of the side nearest the size measured). */
  readonly work: number;
  /** Milliseconds of the fastest of 3 calls of the CPU path. */
  readonly cpuMs: number;
  /** Milliseconds of the fastest of 3 calls of the GPU path (readback included). */
  readonly gpuMs: number;
}

/** What `measureSmallWork` (and `WebGpuBackend.measureCpuThresholds`) found. */
export interface SmallWorkReport {
  /**
   * Per kernel, the work of the first measured size at which the GPU was faster (from which on
   * it stayed faster over the following size), or the largest size measured when it never won.
   */
  readonly thresholds: CpuThresholds;
  /** Every timed size, kernel by kernel, sizes ascending. */
  readonly samples: readonly SmallWorkSample[];
  /**
   * The kernels whose GPU path was not faster at the largest size measured (the cap,
   * `SmallWorkMeasureOptions.maxWork`): the CPU won everywhere up to the cap (or won again at the end), and their
   * threshold is the cap's work, so every call below it stays on the CPU.
   */
  readonly cpuWonUpToCap: readonly SmallWorkKernel[];
}

/** The first size `measureSmallWork` times, in work units. */
export const SMALL_WORK_START = 2 ** 6;
/** The largest size `measureSmallWork` times by default, in work units (sizes grow by 4x). */
export const SMALL_WORK_MAX = 2 ** 20;

/** Options of `measureSmallWork` and `WebGpuBackend.measureCpuThresholds`. */
export interface SmallWorkMeasureOptions {
  /**
   * The cap: the largest size timed, in work units (default `SMALL_WORK_MAX`, 2^20; at least
   * `SMALL_WORK_START`, 64). A smaller cap measures faster and caps the thresholds lower.
   */
  readonly maxWork?: number;
}

/**
 * `options.maxWork`, default `SMALL_WORK_MAX`.
 * @throws RangeError unless a number of at least `SMALL_WORK_START` (Infinity excluded).
 */
export function maxWorkOf(options: SmallWorkMeasureOptions): number {
  const max = options.maxWork ?? SMALL_WORK_MAX;
  if (typeof max !== 'number' || !(max >= SMALL_WORK_START) || max === Number.POSITIVE_INFINITY) {
    throw new RangeError(
      `maxWork: expected a finite number of at least ${SMALL_WORK_START}, got ${String(max)}`,
    );
  }
  return max;
}

/** A deterministic LCG in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** One size of one kernel: the work and the CPU and GPU calls that do it. */
interface Case {
  readonly work: number;
  cpu(): void;
  gpu(): Promise<void>;
}

/** Rows and columns of the table that `forward` and `readRows` are timed on. */
const TABLE_ROWS = 1024;
const TABLE_DIM = 16;

/** The calls of each kernel at a size of `work` units (float16 codecs, square matmuls). */
function cases(
  backend: WebGpuBackend,
  table: TableHandle,
): Record<SmallWorkKernel, (work: number) => Case> {
  const random = lcg(12345);
  const floats = (n: number) => Float32Array.from({ length: n }, () => random() * 2 - 1);
  const indices = (n: number) =>
    Int32Array.from({ length: n }, () => Math.floor(random() * TABLE_ROWS));
  return {
    encode: (work) => {
      const src = floats(work);
      const out = new Uint16Array(work);
      return {
        work,
        cpu: () => backend.encode('float16', src, out, roundNearestEven),
        gpu: () => backend.encodeAsync('float16', src, out, roundNearestEven),
      };
    },
    decode: (work) => {
      const codes = Uint16Array.from({ length: work }, () => Math.floor(random() * 0x7c00));
      const out = new Float32Array(work);
      return {
        work,
        cpu: () => backend.decode('float16', codes, out),
        gpu: () => backend.decodeAsync('float16', codes, out),
      };
    },
    forward: (work) => {
      const lookups = Math.max(1, Math.round(work / TABLE_DIM));
      const bags = Math.ceil(lookups / 4);
      const input = {
        indices: indices(lookups),
        offsets: Int32Array.from({ length: bags }, (_, b) => 4 * b),
      };
      return {
        work: lookups * TABLE_DIM,
        cpu: () => void backend.embeddingBagForward(table, input, 'sum'),
        gpu: async () => void (await backend.embeddingBagForwardAsync(table, input, 'sum')),
      };
    },
    readRows: (work) => {
      const count = Math.max(1, Math.round(work / TABLE_DIM));
      const rows = indices(count);
      const out = new Float32Array(count * TABLE_DIM);
      return {
        work: count * TABLE_DIM,
        cpu: () => void backend.readRows(table, rows, out),
        gpu: async () => void (await backend.readRowsAsync(table, rows, out)),
      };
    },
    matmul: (work) => {
      const side = Math.max(1, Math.round(Math.cbrt(work)));
      const a = floats(side * side);
      const b = floats(side * side);
      const c = new Float32Array(side * side);
      const args = { m: side, n: side, k: side, a, b, c };
      return {
        work: side ** 3,
        cpu: () => backend.matmul(args),
        gpu: () => backend.matmulAsync(args),
      };
    },
    elementwise: (work) => {
      const x = floats(work);
      const out = new Float32Array(work);
      return {
        work,
        cpu: () => backend.relu(x, out),
        gpu: () => backend.reluAsync(x, out),
      };
    },
  };
}

/** Milliseconds of the fastest of 3 calls, after one warm-up call. */
async function fastest(call: () => void | Promise<void>): Promise<number> {
  await call();
  let best = Number.POSITIVE_INFINITY;
  for (let run = 0; run < 3; run++) {
    const start = performance.now();
    await call();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/**
 * Times the CPU path (the backend's synchronous method, which runs on the CPU copy) and the GPU
 * path (its `...Async` method, readback included) of every `SmallWorkKernel` with
 * `performance.now()`, at sizes from `SMALL_WORK_START` work units growing by 4x: the fastest
 * of 3 calls per side and size, after one warm-up call. A kernel stops once the GPU was faster
 * at two consecutive sizes, or at the cap (`options.maxWork`, default `SMALL_WORK_MAX`). Its threshold is the work of the first size
 * of the first two consecutive GPU wins (or of a GPU win at the last size), else the last size's
 * (see `SmallWorkReport.cpuWonUpToCap`). Encode and decode time float16 (nearest-even),
 * forward (bags of 4 lookups, sum pooling) and readRows a 1024 x 16 float16 table, matmul
 * square matrices, elementwise `relu`; the data are deterministic. Takes about 5 s on
 * SwiftShader (2 cores), much less on a GPU.
 * @throws RangeError for a bad `options.maxWork`; Error for a GPU error.
 *
 * The caller makes sure that the `...Async` methods run on the GPU while it measures:
 * `WebGpuBackend.measureCpuThresholds` sets every threshold to 0 first.
 */
export async function measureSmallWork(
  backend: WebGpuBackend,
  options: SmallWorkMeasureOptions = {},
): Promise<SmallWorkReport> {
  const maxWork = maxWorkOf(options);
  const table = backend.createTable({
    name: 'small-work measurement',
    index: 0,
    rows: TABLE_ROWS,
    dim: TABLE_DIM,
    storage: 'float16',
    rounding: 'nearest-even',
    optimizer: sgd({ lr: 0.01 }),
    seed: 1n,
  });
  try {
    const make = cases(backend, table);
    const thresholds: Record<SmallWorkKernel, number> = { ...ALL_ON_GPU };
    const samples: SmallWorkSample[] = [];
    const cpuWonUpToCap: SmallWorkKernel[] = [];
    for (const kernel of SMALL_WORK_KERNELS) {
      let firstWin: number | null = null;
      let lastWork = 0;
      let confirmed = false;
      for (let size = SMALL_WORK_START; size <= maxWork && !confirmed; size *= 4) {
        const c = make[kernel](size);
        const cpuMs = await fastest(c.cpu);
        const gpuMs = await fastest(c.gpu);
        samples.push({ kernel, work: c.work, cpuMs, gpuMs });
        lastWork = c.work;
        if (gpuMs < cpuMs) {
          if (firstWin !== null) confirmed = true;
          else firstWin = c.work;
        } else {
          firstWin = null;
        }
      }
      if (firstWin === null) cpuWonUpToCap.push(kernel);
      thresholds[kernel] = firstWin ?? lastWork;
    }
    return { thresholds: Object.freeze(thresholds), samples, cpuWonUpToCap };
  } finally {
    backend.disposeTable(table);
  }
}
