import { describeBackendConformance } from '@halfstep/backend/testing';
import { createJsBackend } from '@halfstep/backend-js';
import { createWasmBackend } from '../src/index.js';

// The shared contract suite, with bit identity against the js reference, on both builds and on
// worker threads (reproducible mode, every table split: the results must not change). Hogwild
// with threads is left out: it races by design (test/hogwild.test.ts covers it).
describeBackendConformance({
  name: 'wasm (SIMD)',
  create: () => createWasmBackend(),
  reference: createJsBackend,
});
describeBackendConformance({
  name: 'wasm (scalar)',
  create: () => createWasmBackend({ build: 'scalar' }),
  reference: createJsBackend,
});
describeBackendConformance({
  name: 'wasm (3 threads, reproducible)',
  create: () => createWasmBackend({ threads: 3, minRowsPerThread: 1 }),
  reference: createJsBackend,
});
