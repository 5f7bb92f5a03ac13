/**
 * The halfstep Backend interface: kernel contracts for low-precision embedding training, the
 * shared input checks every backend runs, the counter-based random-bit mapping, and the registry.
 *
 * @packageDocumentation
 */
export { BadInputError } from './errors.js';
export { HostBackend } from './host-backend.js';
export { type HostTensor, HostTensors } from './host-tensors.js';
export {
  checkTableInit,
  INIT_PROGRESS_ELEMENTS,
  initializeTable,
  initialRows,
  initProgressRows,
} from './init.js';
export { defineParamLayout, type ParamLayout, type ParamType } from './param-layout.js';
export {
  DOMAIN_INIT,
  DOMAIN_STATE,
  DOMAIN_WEIGHTS,
  fillRowThresholds,
  fillRowWords,
  philoxSchedule,
  randomBitsFor,
  tableDomain,
} from './random-bits.js';
export type {
  BackendName,
  BackendNames,
  BackendOptions,
  BackendRegistration,
  Rejection,
  Selection,
} from './registry.js';
export {
  createBackend,
  registerBackend,
  registeredBackends,
  selectBackend,
  unregisterBackend,
} from './registry.js';
export { StepResult, UnobservedErrors } from './step-result.js';
export { bytesPerElement, type TableBytes, tableBytes, tableHandle } from './storage.js';
export type {
  Backend,
  BackendStats,
  BagInput,
  BagUpdate,
  BagUpdateResult,
  MatmulArgs,
  NonFinitePolicy,
  Pooling,
  RoundingMode,
  StorageName,
  TableData,
  TableHandle,
  TableInit,
  TableSpec,
  Tensor,
  WriteRowsOptions,
} from './types.js';
export {
  checkBagInput,
  checkBagUpdate,
  checkFiniteGradient,
  checkIndexArray,
  checkMatmul,
  checkRowNumbers,
  checkRowsCols,
  checkTableSpec,
  checkTensorSize,
  checkWriteRows,
  firstNonFinite,
  type IndexArray,
  nonFiniteGradient,
  nonFiniteRowGradient,
  nonFiniteRowResult,
  toIndices,
  toOffsets,
} from './validate.js';
