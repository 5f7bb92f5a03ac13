import '@halfstep/backend-wasm/register';
import { registeredBackends } from '@halfstep/backend';
import { sgd } from '@halfstep/optim';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type BackendName, createEmbeddingBag } from '../src/index.js';

describe('backends by name', () => {
  it('importing @halfstep/backend-wasm/register makes "wasm" a name that type-checks and works', async () => {
    expect(registeredBackends()).toContain('wasm');
    const bag = await createEmbeddingBag({
      rows: 16,
      dim: 4,
      optimizer: sgd({ lr: 0.1 }),
      backend: 'wasm',
    });
    expect(bag.backendName).toBe('wasm');
    bag.dispose();
    expectTypeOf<'js' | 'wasm'>().toExtend<BackendName>();
    // @ts-expect-error: no backend of this name exists
    const unknown: BackendName = 'nope';
    expect(unknown).toBe('nope');
  });

  it('an unknown name is refused with the registered names and how to register one', async () => {
    const make = (backend: string) =>
      createEmbeddingBag({
        rows: 4,
        dim: 2,
        optimizer: sgd({ lr: 0.1 }),
        backend: backend as BackendName,
      });
    await expect(make('nope')).rejects.toThrow(
      /backend "nope" is not registered \(registered: .*js.*\); to use it, register it first with registerBackend\(\{ name: "nope", priority, create \}\) from '@halfstep\/backend'/,
    );
    await expect(make('webgpu')).rejects.toThrow(
      /backend "webgpu" is not registered .*; to use it, import '@halfstep\/backend-webgpu\/register' once before using the name/,
    );
  });
});
