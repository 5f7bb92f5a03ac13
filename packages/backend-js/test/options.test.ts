import { createBackend, registerBackend } from '@halfstep/backend';
import { describe, expect, it } from 'vitest';
import { createJsBackend, jsBackend } from '../src/index.js';

describe('createJsBackend options', () => {
  it('takes none: any key is a TypeError naming it, rather than ignored', async () => {
    await expect(createJsBackend({ build: 'simd' })).rejects.toThrow(
      /^createJsBackend: unknown option "build" \(did you mean the wasm backend's option/,
    );
    registerBackend(jsBackend);
    await expect(createBackend('js', { threads: 2 })).rejects.toThrow(
      /createJsBackend: unknown option "threads"/,
    );
    await expect(createJsBackend('x' as never)).rejects.toThrow(TypeError);
    expect((await createJsBackend()).name).toBe('js');
    expect((await createJsBackend({})).name).toBe('js');
  });
});
