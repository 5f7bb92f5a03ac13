/**
 * Embedding bags whose tables are stored in half precision (or 8-bit floats), trained with
 * sparse optimizers in float32 and stored with stochastic rounding; reproducible across runs and
 * backends; safetensors checkpoints.
 *
 * @packageDocumentation
 */
export type {
  BackendName,
  BackendNames,
  BagUpdateResult,
  NonFinitePolicy,
  Pooling,
  RoundingMode,
  StorageName,
} from '@halfstep/backend';
export { BadInputError } from '@halfstep/backend';
export { createEmbeddingBag, EmbeddingBag } from './bag.js';
export type { BagBatch } from './batches.js';
export type {
  Checkpoint,
  CheckpointErrorOptions,
  CheckpointErrorReason,
  ChecksumReport,
  DecodeOptions,
  DtypeInfo,
  SafetensorsDtype,
  Sha256,
  Tensor,
  TensorData,
  TensorDataConstructor,
} from './checkpoint/index.js';
export {
  addChecksums,
  CHECKSUM_KEY_PREFIX,
  CheckpointError,
  DTYPES,
  decodeSafetensors,
  encodeSafetensors,
  MAX_HEADER_BYTES,
  MAX_WRITE_BYTES,
  readSafetensors,
  sha256Hex,
  verifyChecksums,
  writeSafetensors,
} from './checkpoint/index.js';
export { createEmbeddingBagCollection, EmbeddingBagCollection } from './collection.js';
export type {
  CollectionOptions,
  EmbeddingBagConfig,
  Init,
  ResolvedTableConfig,
  TableConfig,
} from './config.js';
export { type AnyForward, EmbeddingForward } from './forward.js';
export type { LoadOptions } from './persist.js';
export {
  CHECKPOINT_FORMAT,
  CheckpointMismatchError,
  UNVERIFIED_WARNING_CODE,
} from './persist.js';
export type {
  OpenedTable,
  StoreBackendOptions,
  StoreBagUpdateResult,
  StoreUpdateResult,
  TableStore,
} from './store/index.js';
export {
  checkApplyArguments,
  checkTableIdentity,
  createMemoryTableStore,
  createStoreBackend,
  MemoryTableStore,
  StoreBackend,
  TableMismatchError,
  tableIdentity,
} from './store/index.js';
