import { createBackend, registerBackend } from '@halfstep/backend';
import { describe, expect, it } from 'vitest';
import { createWasmBackend, wasmBackend } from '../src/index.js';

describe('createWasmBackend options', () => {
  it("{ build: 'simd2' }: a RangeError naming build and the builds, before anything is compiled", async () => {
    await expect(createWasmBackend({ build: 'simd2' as never })).rejects.toThrow(
      new RangeError(
        'createWasmBackend: build: expected one of "simd", "scalar", got string "simd2"',
      ),
    );
    await expect(createWasmBackend({ build: 1 as never })).rejects.toThrow(TypeError);
  });

  it('unknown keys and options that are not an object: a TypeError naming the key', async () => {
    await expect(createWasmBackend({ thread: 2 } as never)).rejects.toThrow(
      /^createWasmBackend: unknown option "thread" \(did you mean threads\?\); expected build, shared, threads, mode, minRowsPerThread$/,
    );
    await expect(createWasmBackend({ workers: 2 } as never)).rejects.toThrow(
      /unknown option "workers" \(did you mean threads\?\)/,
    );
    await expect(createWasmBackend('scalar' as never)).rejects.toThrow(
      /createWasmBackend: options: expected an options object .*, got string "scalar"/,
    );
    await expect(createWasmBackend(null as never)).rejects.toThrow(TypeError);
  });

  it('values of the wrong type are TypeErrors; out of range, RangeErrors', async () => {
    await expect(createWasmBackend({ threads: '2' as never })).rejects.toThrow(
      new TypeError('createWasmBackend: threads: expected an integer in 1..64, got string "2"'),
    );
    await expect(createWasmBackend({ threads: 65 })).rejects.toThrow(RangeError);
    await expect(createWasmBackend({ mode: 'fast' as never })).rejects.toThrow(
      /createWasmBackend: mode: expected one of "reproducible", "hogwild"/,
    );
    await expect(createWasmBackend({ minRowsPerThread: 0 })).rejects.toThrow(RangeError);
    await expect(createWasmBackend({ shared: 'yes' as never })).rejects.toThrow(TypeError);
  });

  it('createBackend("wasm", options) checks them the same way; valid options still work', async () => {
    registerBackend(wasmBackend);
    await expect(createBackend('wasm', { build: 'simd2' })).rejects.toThrow(/build/);
    const backend = await createWasmBackend({ build: 'scalar', mode: undefined });
    expect(backend.build).toBe('scalar');
    backend.dispose();
  });
});
