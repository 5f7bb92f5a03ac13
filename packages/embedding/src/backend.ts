import {
  type Backend,
  createBackend,
  registerBackend,
  registeredBackends,
} from '@halfstep/backend';
import { jsBackend } from '@halfstep/backend-js';

/**
 * The backend to use: the instance given, or the registered backend of that name (default "js";
 * the JS backend is registered on first use). A name that is not registered is refused with the
 * registered names and how to register it. (Public signatures type names as `BackendName`.)
 */
export async function resolveBackend(backend: Backend | string | undefined): Promise<Backend> {
  if (typeof backend === 'object' && backend !== null) return backend;
  if (!registeredBackends().includes('js')) registerBackend(jsBackend);
  return createBackend(backend ?? 'js');
}
