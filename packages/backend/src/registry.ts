import type { Backend } from './types.js';

/** Options passed through to a backend's factory (backend-specific). */
export type BackendOptions = Readonly<Record<string, unknown>>;

/** A backend as the registry knows it: a name, a priority and an async factory. */
export interface BackendRegistration {
  readonly name: string;
  /** Higher is preferred by `selectBackend()` without a list. */
  readonly priority: number;
  /**
   * Initialises the backend. Rejects (with a reason in the error message) when the platform
   * cannot run it: no WebGPU adapter, no WASM SIMD, ...
   */
  create(options?: BackendOptions): Promise<Backend>;
}

/** Why a backend was passed over by `selectBackend`. */
export interface Rejection {
  readonly name: string;
  readonly reason: string;
}

/** The result of `selectBackend`: the backend that initialised, and why each earlier one did not. */
export interface Selection {
  readonly backend: Backend;
  /** The chosen backend's name (also `backend.name`). */
  readonly name: string;
  readonly rejected: readonly Rejection[];
}

/**
 * The backend names that exist, as this interface's keys: `createEmbeddingBag({ backend })` and
 * `createEmbeddingBagCollection(configs, { backend })` accept exactly these. "js" is always
 * there (`@halfstep/embedding` registers it on first use); each backend package adds its own
 * name by declaration merging in the entry that registers it, so that importing the entry makes
 * the name both type-check and work:
 *
 * - `import '@halfstep/backend-wasm/register'` (or the package itself): "wasm";
 * - `import '@halfstep/backend-webgpu/register'`: "webgpu".
 *
 * A backend of your own: call `registerBackend` and declare its name the same way.
 *
 * @example
 * ```ts
 * import { registerBackend } from '@halfstep/backend';
 * import { jsBackend } from '@halfstep/backend-js';
 *
 * declare module '@halfstep/backend' {
 *   interface BackendNames {
 *     'my-backend': true;
 *   }
 * }
 * registerBackend({
 *   name: 'my-backend',
 *   priority: 0,
 *   create: (options) => jsBackend.create(options), // your factory here
 * });
 * // createEmbeddingBag({ ..., backend: 'my-backend' }) now type-checks and runs.
 * ```
 */
export interface BackendNames {
  /** The reference backend in plain TypeScript (`@halfstep/backend-js`). */
  js: true;
}

/** A registered backend's name: a key of {@link BackendNames}. */
export type BackendName = keyof BackendNames & string;

/**
 * The entry that registers each first-party backend, for the error about a name that is not
 * registered.
 */
const REGISTERING_ENTRY: Readonly<Record<string, string>> = {
  js: '@halfstep/backend-js/register',
  wasm: '@halfstep/backend-wasm/register',
  webgpu: '@halfstep/backend-webgpu/register',
};

const registry = new Map<string, BackendRegistration>();

/**
 * Registers a backend under its name; registering the same name again replaces it.
 * @throws TypeError for a registration without a name, a numeric priority or a create function.
 */
export function registerBackend(registration: BackendRegistration): void {
  if (
    typeof registration?.name !== 'string' ||
    registration.name === '' ||
    typeof registration.priority !== 'number' ||
    typeof registration.create !== 'function'
  ) {
    throw new TypeError('registerBackend: expected { name, priority, create }');
  }
  registry.set(registration.name, registration);
}

/** Removes a registered backend; returns whether it was registered. */
export function unregisterBackend(name: string): boolean {
  return registry.delete(name);
}

/** The registered backends' names, highest priority first. */
export function registeredBackends(): string[] {
  return [...registry.values()].sort((a, b) => b.priority - a.priority).map((r) => r.name);
}

/**
 * The error for backend `name` that is not registered: the registered ones, and how to register
 * it (the entry of a first-party backend to import, or `registerBackend`).
 */
function notRegisteredError(name: string): Error {
  const known = registeredBackends();
  const entry = Object.hasOwn(REGISTERING_ENTRY, name) ? REGISTERING_ENTRY[name] : undefined;
  const how =
    entry !== undefined
      ? `import '${entry}' once before using the name, or pass a backend instance`
      : `register it first with registerBackend({ name: ${JSON.stringify(String(name))}, priority, create }) from '@halfstep/backend' (and declare the name in BackendNames), or pass a backend instance`;
  return new Error(
    `backend ${JSON.stringify(String(name))} is not registered (registered: ${known.length ? known.join(', ') : 'none'}); to use it, ${how}`,
  );
}

/**
 * Creates and initialises backend `name`.
 * @throws Error naming the registered backends and how to register `name` when it is not one of
 *   them; whatever the factory throws when it cannot initialise.
 * @example
 * ```ts
 * import { createBackend } from '@halfstep/backend';
 * import '@halfstep/backend-wasm'; // registers "wasm"
 *
 * const backend = await createBackend('wasm'); // throws why, when it cannot start here
 * console.log(backend.name); // wasm
 * backend.dispose();
 * ```
 */
export async function createBackend(name: string, options?: BackendOptions): Promise<Backend> {
  const registration = registry.get(name);
  if (!registration) throw notRegisteredError(name);
  return registration.create(options);
}

/**
 * Tries backends in order (`preferred`, or every registered backend by descending priority) and
 * returns the first that initialises, with the reason each earlier one was rejected (not
 * registered, or the message its factory threw).
 * @throws Error listing every rejection when none initialises.
 * @example
 * ```ts
 * import { selectBackend } from '@halfstep/backend';
 * import '@halfstep/backend-js/register';
 * import '@halfstep/backend-wasm/register';
 *
 * const { backend, name, rejected } = await selectBackend(['webgpu', 'wasm', 'js']);
 * console.log(name, rejected); // wasm [ { name: 'webgpu', reason: 'not registered' } ]
 * ```
 */
export async function selectBackend(
  preferred?: readonly string[],
  options?: BackendOptions,
): Promise<Selection> {
  const names = preferred ?? registeredBackends();
  const rejected: Rejection[] = [];
  for (const name of names) {
    const registration = registry.get(name);
    if (!registration) {
      rejected.push({ name, reason: 'not registered' });
      continue;
    }
    try {
      const backend = await registration.create(options);
      return { backend, name: backend.name, rejected };
    } catch (error) {
      rejected.push({ name, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  const list = rejected.map((r) => `${r.name}: ${r.reason}`).join('; ');
  throw new Error(`no backend could be initialised (${list || 'none registered'})`);
}
