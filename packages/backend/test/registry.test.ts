import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import {
  type Backend,
  type BackendName,
  type BackendNames,
  createBackend,
  registerBackend,
  registeredBackends,
  selectBackend,
  unregisterBackend,
} from '../src/index.js';

const fake = (name: string) => ({ name }) as unknown as Backend;
const added: string[] = [];
function add(name: string, priority: number, create: () => Promise<Backend>) {
  registerBackend({ name, priority, create });
  added.push(name);
}
afterEach(() => {
  for (const name of added.splice(0)) unregisterBackend(name);
});

describe('backend registry', () => {
  it('createBackend initialises a registered backend by name', async () => {
    add('test-a', 1, async () => fake('test-a'));
    expect((await createBackend('test-a')).name).toBe('test-a');
  });
  it('createBackend names the registered backends when the name is unknown', async () => {
    add('test-a', 1, async () => fake('test-a'));
    await expect(createBackend('nope')).rejects.toThrow(
      /"nope" is not registered \(registered: .*test-a/,
    );
  });
  it('the error for an unknown name says how to register it', async () => {
    await expect(createBackend('nope')).rejects.toThrow(
      /to use it, register it first with registerBackend\(\{ name: "nope", priority, create \}\) from '@halfstep\/backend' \(and declare the name in BackendNames\), or pass a backend instance$/,
    );
    for (const name of ['js', 'wasm', 'webgpu']) {
      if (registeredBackends().includes(name)) continue;
      await expect(createBackend(name)).rejects.toThrow(
        `to use it, import '@halfstep/backend-${name}/register' once before using the name, or pass a backend instance`,
      );
    }
  });
  it('BackendName: "js" always; other names by declaration merging', () => {
    expectTypeOf<'js'>().toExtend<BackendName>();
    expectTypeOf<BackendNames>().toHaveProperty('js');
  });
  it('selectBackend returns the first that initialises and why each earlier one was rejected', async () => {
    add('test-gpu', 10, async () => {
      throw new Error('no WebGPU adapter');
    });
    add('test-cpu', 0, async () => fake('test-cpu'));
    const selection = await selectBackend(['test-missing', 'test-gpu', 'test-cpu']);
    expect(selection.name).toBe('test-cpu');
    expect(selection.backend.name).toBe('test-cpu');
    expect(selection.rejected).toEqual([
      { name: 'test-missing', reason: 'not registered' },
      { name: 'test-gpu', reason: 'no WebGPU adapter' },
    ]);
  });
  it('without a list, tries by descending priority', async () => {
    add('test-low', -100, async () => fake('test-low'));
    add('test-high', 100, async () => fake('test-high'));
    expect(registeredBackends()[0]).toBe('test-high');
    expect((await selectBackend()).name).toBe('test-high');
  });
  it('throws with every rejection when none initialises', async () => {
    add('test-bad', 1, async () => {
      throw new Error('no SIMD');
    });
    await expect(selectBackend(['test-bad', 'test-none'])).rejects.toThrow(
      'no backend could be initialised (test-bad: no SIMD; test-none: not registered)',
    );
  });
  it('rejects a malformed registration', () => {
    expect(() => registerBackend({ name: '', priority: 0, create: async () => fake('x') })).toThrow(
      TypeError,
    );
  });
});
