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
 * Creates and initialises backend `name`.
 * @throws Error naming the registered backends when `name` is not one of them; whatever the
 *   factory throws when it cannot initialise.
 */
export async function createBackend(name: string, options?: BackendOptions): Promise<Backend> {
  const registration = registry.get(name);
  if (!registration) {
    const known = registeredBackends();
    throw new Error(
      `backend "${name}" is not registered (registered: ${known.length ? known.join(', ') : 'none'})`,
    );
  }
  return registration.create(options);
}

/**
 * Tries backends in order (`preferred`, or every registered backend by descending priority) and
 * returns the first that initialises, with the reason each earlier one was rejected (not
 * registered, or the message its factory threw).
 * @throws Error listing every rejection when none initialises.
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
