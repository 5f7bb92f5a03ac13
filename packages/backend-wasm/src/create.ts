import type { BackendRegistration } from '@halfstep/backend';
import { argumentError, checkOneOf, checkOptions, optionKeys } from '@halfstep/codecs';
import { WasmBackend } from './backend.js';
import { type LoadOptions, loadKernels } from './kernels.js';
import { HogwildPool, type ThreadMode, UpdatePool } from './threads.js';
import { SIMD_THREADS_WASM_BASE64 } from './wasm.generated.js';

/** Options of {@link createWasmBackend}. */
export interface WasmBackendOptions extends LoadOptions {
  /**
   * Threads of the fused embedding update (Node.js worker_threads on shared WASM memory): 1
   * (default) runs on the calling thread. With more, `mode` says how they share the work. Needs
   * WASM SIMD + threads and `SharedArrayBuffer`.
   */
  readonly threads?: number | undefined;
  /**
   * 'reproducible' (default): each table's distinct rows are split across the threads; the
   * results are bit-identical for every thread count. 'hogwild': each backward call's update
   * runs on an idle worker thread while the caller goes on, so that updates overlap each other
   * and the next forward passes, racing on shared rows (faster; results depend on timing; see
   * the README). With `threads: 1` both modes are the same code path, bit for bit.
   */
  readonly mode?: ThreadMode | undefined;
  /** Rows per thread below which an update stays on one thread (reproducible mode). Default 64. */
  readonly minRowsPerThread?: number | undefined;
}

const KEYS = optionKeys<WasmBackendOptions>({
  build: true,
  shared: true,
  threads: true,
  mode: true,
  minRowsPerThread: true,
});

/** Checks a number option: a TypeError unless a number, a RangeError unless an integer in range. */
function integer(value: unknown, name: string, min: number, max: number): number {
  const where = `createWasmBackend: ${name}`;
  const expected = `an integer in ${min}..${max}`;
  if (typeof value !== 'number') throw argumentError(where, expected, value);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${where}: expected ${expected}, got ${String(value)}`);
  }
  return value;
}

/**
 * Creates the WASM backend: compiles and instantiates the kernels (the SIMD build when
 * `WebAssembly.validate` accepts it, else the scalar one; `backend.build` says which), and with
 * `threads > 1` starts the worker threads of the chosen `mode`.
 * @throws TypeError for options that are not an object, an unknown key (`{ build: 'simd2' }`
 *   names the builds) or a value of the wrong type; RangeError for a bad `threads`, `mode`,
 *   `build` or `minRowsPerThread` (all before anything is compiled); Error when WebAssembly is
 *   unavailable, or threads were asked for where they cannot run.
 * @example
 * ```ts
 * import { createWasmBackend } from '@halfstep/backend-wasm';
 * import { createEmbeddingBag } from '@halfstep/embedding';
 * import { sgd } from '@halfstep/optim';
 *
 * const backend = await createWasmBackend(); // or { threads: 2 }
 * console.log(backend.build); // simd, where WebAssembly SIMD is supported
 * const bag = await createEmbeddingBag({ rows: 1000, dim: 16, optimizer: sgd({ lr: 0.1 }), backend });
 * ```
 */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  checkOptions('createWasmBackend', options, KEYS, {
    hints: { workers: 'threads', numThreads: 'threads', simd: "build: 'simd' | 'scalar'" },
  });
  if (options.build !== undefined)
    checkOneOf(options.build, ['simd', 'scalar'], 'createWasmBackend: build');
  if (options.shared !== undefined && typeof options.shared !== 'boolean')
    throw argumentError('createWasmBackend: shared', 'a boolean', options.shared);
  const threads = integer(options.threads ?? 1, 'threads', 1, 64);
  const mode = checkOneOf(
    options.mode ?? 'reproducible',
    ['reproducible', 'hogwild'],
    'createWasmBackend: mode',
  );
  const minRows = integer(options.minRowsPerThread ?? 64, 'minRowsPerThread', 1, 2 ** 31 - 1);
  if (threads === 1) return new WasmBackend(await loadKernels(options), undefined, minRows, mode);
  if (SIMD_THREADS_WASM_BASE64 === '') {
    throw new Error(
      `threads: ${threads} needs Node.js (worker_threads and the SIMD + threads build, which this platform's build of @halfstep/backend-wasm leaves out: it resolved without the "node" condition); use threads: 1 here`,
    );
  }
  const kernels = await loadKernels({ ...options, shared: true });
  if (mode === 'hogwild') {
    return new WasmBackend(kernels, await HogwildPool.start(kernels, threads), minRows, mode);
  }
  const pool = await UpdatePool.start(kernels, threads);
  return new WasmBackend(kernels, pool, minRows);
}

/**
 * The WASM backend's registry entry: name "wasm", priority 10 (above "js", 0). Its factory takes
 * `{ build: 'scalar' }` to force the scalar build.
 */
export const wasmBackend: BackendRegistration = Object.freeze({
  name: 'wasm',
  priority: 10,
  create: (options?: Readonly<Record<string, unknown>>) =>
    createWasmBackend((options ?? {}) as WasmBackendOptions),
});
