import type { BackendRegistration } from '@halfstep/backend';
import { WasmBackend } from './backend.js';
import { type LoadOptions, loadKernels } from './kernels.js';
import { HogwildPool, type ThreadMode, UpdatePool } from './threads.js';

/** Options of {@link createWasmBackend}. */
export interface WasmBackendOptions extends LoadOptions {
  /**
   * Threads of the fused embedding update (Node.js worker_threads on shared WASM memory): 1
   * (default) runs on the calling thread. With more, `mode` says how they share the work. Needs
   * WASM SIMD + threads and `SharedArrayBuffer`.
   */
  readonly threads?: number;
  /**
   * 'reproducible' (default): each table's distinct rows are split across the threads; the
   * results are bit-identical for every thread count. 'hogwild': each backward call's update
   * runs on an idle worker thread while the caller goes on, so that updates overlap each other
   * and the next forward passes, racing on shared rows (faster; results depend on timing; see
   * the README). With `threads: 1` both modes are the same code path, bit for bit.
   */
  readonly mode?: ThreadMode;
  /** Rows per thread below which an update stays on one thread (reproducible mode). Default 64. */
  readonly minRowsPerThread?: number;
}

/**
 * Creates the WASM backend: compiles and instantiates the kernels (the SIMD build when
 * `WebAssembly.validate` accepts it, else the scalar one; `backend.build` says which), and with
 * `threads > 1` starts the worker threads of the chosen `mode`.
 * @throws Error when WebAssembly is unavailable, or threads were asked for where they cannot run;
 *   RangeError for a bad `threads` or `mode`.
 */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new RangeError(`threads: expected an integer in 1..64, got ${String(threads)}`);
  }
  const mode = options.mode ?? 'reproducible';
  if (mode !== 'reproducible' && mode !== 'hogwild') {
    throw new RangeError(`mode: expected 'reproducible' or 'hogwild', got ${String(mode)}`);
  }
  const minRows = options.minRowsPerThread ?? 64;
  if (threads === 1) return new WasmBackend(await loadKernels(options), undefined, minRows, mode);
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
