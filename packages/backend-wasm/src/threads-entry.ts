/**
 * The WASM backend's worker threads, Node.js only: the SIMD + threads binary (for a shared
 * memory) and the thread pools behind `createWasmBackend({ threads })`. The package's main entry
 * reaches the binary through its `#threads-build` import, which resolves to it under the `node`
 * condition and to an empty string elsewhere: browsers have no `worker_threads`, so their
 * bundles leave the binary (about a third of the package) out. This entry exports the threads'
 * API under its own name, for Node.js programs that use them.
 *
 * @example
 * ```ts
 * import { createWasmBackend } from '@halfstep/backend-wasm/threads';
 *
 * const backend = await createWasmBackend({ threads: 2 }); // reproducible: bit-identical to 1 thread
 * console.log(backend.threads); // 2
 * backend.dispose();
 * ```
 *
 * @module
 */
export {
  createWasmBackend,
  type WasmBackendOptions,
  wasmBackend,
} from './create.js';
export { HogwildPool, type ThreadMode, UpdatePool } from './threads.js';
export { SIMD_THREADS_WASM_BASE64 } from './wasm-threads.generated.js';
