/**
 * Registers the WASM backend under its name, "wasm" (unless a backend of that name is
 * registered already), and adds "wasm" to `BackendNames`, so that
 * `createEmbeddingBag({ backend: 'wasm' })` type-checks and runs. Importing the package itself
 * (`@halfstep/backend-wasm`) does the same.
 *
 * @example
 * ```ts
 * import '@halfstep/backend-wasm/register';
 * import { createEmbeddingBag } from '@halfstep/embedding';
 * import { sgd } from '@halfstep/optim';
 *
 * const bag = await createEmbeddingBag({ rows: 100, dim: 4, optimizer: sgd({ lr: 0.1 }), backend: 'wasm' });
 * console.log(bag.backendName); // wasm
 * ```
 *
 * @module
 */
import { registerBackend, registeredBackends } from '@halfstep/backend';
import { wasmBackend } from './create.js';

declare module '@halfstep/backend' {
  interface BackendNames {
    /** The WebAssembly backend (`@halfstep/backend-wasm`). */
    wasm: true;
  }
}

if (!registeredBackends().includes(wasmBackend.name)) registerBackend(wasmBackend);

export { wasmBackend };
