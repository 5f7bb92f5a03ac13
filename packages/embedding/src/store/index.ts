export { checkApplyArguments, checkTableIdentity, initialRows, tableIdentity } from './checks.js';
export type { StoreBagUpdateResult, StoreCollectionOptions } from './collection.js';
export {
  createStoreEmbeddingBagCollection,
  StoreEmbeddingBagCollection,
} from './collection.js';
export { createMemoryTableStore, MemoryTableStore } from './memory.js';
export type { OpenedTable, StoreTableSpec, StoreUpdateResult, TableStore } from './types.js';
export { TableMismatchError } from './types.js';
