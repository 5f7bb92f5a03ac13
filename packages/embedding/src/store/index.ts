export {
  createStoreBackend,
  StoreBackend,
  type StoreBackendOptions,
  type StoreBagUpdateResult,
} from './backend.js';
export { checkApplyArguments, checkTableIdentity, tableIdentity } from './checks.js';
export { createMemoryTableStore, MemoryTableStore } from './memory.js';
export type { OpenedTable, StoreUpdateResult, TableStore } from './types.js';
export { TableMismatchError } from './types.js';
