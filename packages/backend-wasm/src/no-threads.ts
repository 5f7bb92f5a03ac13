/**
 * What `#threads-build` resolves to outside Node.js (browsers): no SIMD + threads binary. A
 * browser has no `worker_threads`, so it never runs the threads build, and its bundle leaves the
 * binary out; `createWasmBackend({ threads: n })` with n > 1 says so.
 */
export const SIMD_THREADS_WASM_BASE64: string = '';
