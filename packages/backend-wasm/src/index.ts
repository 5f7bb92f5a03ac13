/**
 * The halfstep kernels in WebAssembly (AssemblyScript, SIMD and scalar builds): bulk codecs,
 * random engines' bulk fill, and a `Backend` whose results are bit-identical to
 * `@halfstep/backend-js`. Importing it registers the backend as "wasm" (see `./register`), so
 * that `createEmbeddingBag({ backend: 'wasm' })` works; the worker threads' API is also at
 * `@halfstep/backend-wasm/threads` (Node.js).
 *
 * @example
 * ```ts
 * import { createWasmBackend } from '@halfstep/backend-wasm';
 *
 * const backend = await createWasmBackend(); // the SIMD build where WASM SIMD validates
 * console.log(backend.name, backend.build); // wasm simd
 * backend.dispose();
 * ```
 *
 * @packageDocumentation
 */
import './register.js';

export { WasmBackend } from './backend.js';
export { setEncoder, WasmCodec } from './codec.js';
export { createWasmBackend, type WasmBackendOptions, wasmBackend } from './create.js';
export type { KernelExports, Kernels, LoadOptions, WasmBuild } from './kernels.js';
export { chooseBuild, loadKernels } from './kernels.js';
export { Allocator, MAX_PAGES, PAGE_BYTES, WasmMemoryLimitError } from './memory.js';
export type { WasmEngineName } from './random.js';
export { WasmRandom } from './random.js';
export { Scratch } from './scratch.js';
export type {
  StreamEngineLike,
  WasmStreamEngineName,
  WasmStreamStochasticOptions,
} from './stream-stochastic.js';
export { WasmStreamStochastic } from './stream-stochastic.js';
export { STORAGE_KINDS } from './table.js';
export { HogwildPool, type ThreadMode, UpdatePool } from './threads.js';
export type { WasmApi, WasmMemory, WasmModule } from './wasm-api.js';
