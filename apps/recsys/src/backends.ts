import {
  type Backend,
  type BackendRegistration,
  createBackend,
  type Rejection,
  registerBackend,
  registeredBackends,
  selectBackend,
} from '@halfstep/backend';
import { jsBackend } from '@halfstep/backend-js';

/** The backend names the CLI accepts, in the order `auto` tries them. */
export const BACKEND_NAMES = ['webgpu', 'wasm', 'js'] as const;

/** The packages that provide the optional backends, and the registration each exports. */
const OPTIONAL: readonly { name: string; module: string; exportName: string }[] = [
  { name: 'wasm', module: '@halfstep/backend-wasm', exportName: 'wasmBackend' },
  { name: 'webgpu', module: '@halfstep/backend-webgpu', exportName: 'webgpuBackend' },
];

/** What {@link chooseBackend} returns: the backend, and why the others were passed over. */
export interface BackendChoice {
  readonly backend: Backend;
  readonly name: string;
  readonly rejected: readonly Rejection[];
}

/**
 * Registers the JS backend and every optional backend package that can be imported here
 * (`@halfstep/backend-wasm`, `@halfstep/backend-webgpu`); returns why each optional one is missing.
 */
export async function registerAvailableBackends(): Promise<Rejection[]> {
  if (!registeredBackends().includes('js')) registerBackend(jsBackend);
  const missing: Rejection[] = [];
  for (const { name, module, exportName } of OPTIONAL) {
    if (registeredBackends().includes(name)) continue;
    try {
      // A variable specifier: the package is optional and may not be installed.
      const specifier: string = module;
      const mod = (await import(specifier)) as Record<string, unknown>;
      const registration = mod[exportName] as BackendRegistration | undefined;
      if (!registration) throw new Error(`${module} does not export ${exportName}`);
      registerBackend(registration);
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      missing.push({ name, reason: `package ${module} not available (${reason})` });
    }
  }
  return missing;
}

/**
 * The backend to run on: `name` exactly (throws with the reason when it cannot initialise), or
 * for `auto` the best one that initialises by the registry's priority, with the reason every
 * better one was rejected.
 */
export async function chooseBackend(name: string): Promise<BackendChoice> {
  const missing = await registerAvailableBackends();
  if (name !== 'auto') {
    const gone = missing.find((m) => m.name === name);
    if (gone) throw new Error(`backend "${name}": ${gone.reason}`);
    const backend = await createBackend(name);
    return { backend, name: backend.name, rejected: [] };
  }
  const selection = await selectBackend();
  return {
    backend: selection.backend,
    name: selection.name,
    rejected: [...missing, ...selection.rejected],
  };
}
