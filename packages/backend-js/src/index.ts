/**
 * The reference halfstep backend in plain TypeScript on typed arrays: the oracle every other
 * backend is tested against.
 *
 * @packageDocumentation
 */

export { type Aggregated, AggregateScratch, aggregate, type HostBagUpdate } from './aggregate.js';
export { createJsBackend, JsBackend, jsBackend } from './backend.js';
export {
  type ArrayMatmulArgs,
  addBias,
  bceWithLogits,
  matmul,
  relu,
  reluBackward,
  sigmoid,
  sumRows,
} from './dense.js';
export { poolRows } from './forward.js';
