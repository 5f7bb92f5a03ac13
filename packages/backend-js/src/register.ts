/**
 * Registers the JS backend under its name, "js" (unless a backend of that name is registered
 * already), so that `createBackend('js')` and `selectBackend()` of `@halfstep/backend` find it.
 * `@halfstep/embedding` does this itself on first use.
 *
 * @example
 * ```ts
 * import '@halfstep/backend-js/register';
 * import { createBackend } from '@halfstep/backend';
 *
 * const backend = await createBackend('js');
 * console.log(backend.name); // js
 * ```
 *
 * @module
 */
import { registerBackend, registeredBackends } from '@halfstep/backend';
import { jsBackend } from './backend.js';

if (!registeredBackends().includes(jsBackend.name)) registerBackend(jsBackend);

export { jsBackend };
