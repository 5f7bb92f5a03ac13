/// <reference types="@webgpu/types" preserve="true" />
/**
 * Registers the WebGPU backend under its name, "webgpu" (unless a backend of that name is
 * registered already), and adds "webgpu" to `BackendNames`, so that
 * `createEmbeddingBag({ backend: 'webgpu' })` type-checks and runs. (The package's main entry
 * only exports the backend: `registerBackend(webgpuBackend)` registers it by hand.)
 *
 * @example
 * ```ts
 * import '@halfstep/backend-webgpu/register';
 * import { createEmbeddingBag } from '@halfstep/embedding';
 * import { sgd } from '@halfstep/optim';
 *
 * const bag = await createEmbeddingBag({ rows: 100, dim: 4, optimizer: sgd({ lr: 0.1 }), backend: 'webgpu' });
 * console.log(bag.backendName); // webgpu
 * ```
 *
 * @module
 */
import { registerBackend, registeredBackends } from '@halfstep/backend';
import { webgpuBackend } from './backend.js';

declare module '@halfstep/backend' {
  interface BackendNames {
    /** The WebGPU backend (`@halfstep/backend-webgpu`). */
    webgpu: true;
  }
}

if (!registeredBackends().includes(webgpuBackend.name)) registerBackend(webgpuBackend);

export { webgpuBackend };
