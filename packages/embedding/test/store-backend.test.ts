import { describeBackendConformance } from '@halfstep/backend/testing';
import { createJsBackend } from '@halfstep/backend-js';
import { createMemoryTableStore, createStoreBackend } from '../src/index.js';

// A table store as a backend: the memory store on the JS backend behind the store adapter, held
// to the same contract and bit identity as every backend.
describeBackendConformance({
  name: 'store (memory store)',
  create: async () =>
    createStoreBackend({ store: await createMemoryTableStore(), ownsStore: true }),
  reference: createJsBackend,
  exportsTables: false,
  tablesInMemory: false,
  // A store applies each table on its own and skips a non-finite result per row: a step refused
  // for one keeps its finite rows.
  stepsAreAtomic: false,
});
