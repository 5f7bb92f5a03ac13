import { registeredBackends } from '@halfstep/backend';
import { describe, expect, it } from 'vitest';
import { SIMD_THREADS_WASM_BASE64 as fromMain } from '../src/wasm.generated.js';
import { wasmApi } from '../src/wasm-api.js';

describe('the entries', () => {
  it('importing the package registers "wasm" (as ./register does)', async () => {
    const register = await import('../src/register.js');
    const main = await import('../src/index.js');
    expect(registeredBackends()).toContain('wasm');
    expect(register.wasmBackend).toBe(main.wasmBackend);
  });

  it("./threads: the SIMD + threads build (also the main entry's in Node) and the pools", async () => {
    const threads = await import('../src/threads-entry.js');
    const main = await import('../src/index.js');
    expect(threads.SIMD_THREADS_WASM_BASE64.length).toBeGreaterThan(1000);
    expect(fromMain).toBe(threads.SIMD_THREADS_WASM_BASE64); // #threads-build, node condition
    expect(wasmApi()?.validate(Buffer.from(threads.SIMD_THREADS_WASM_BASE64, 'base64'))).toBe(true);
    expect(threads.createWasmBackend).toBe(main.createWasmBackend);
    const backend = await threads.createWasmBackend({ threads: 2, minRowsPerThread: 1 });
    try {
      expect(backend.threads).toBe(2);
    } finally {
      backend.dispose();
    }
  });

  it('the browser stand-in of the threads build is empty', async () => {
    const { SIMD_THREADS_WASM_BASE64 } = await import('../src/no-threads.js');
    expect(SIMD_THREADS_WASM_BASE64).toBe('');
  });
});
