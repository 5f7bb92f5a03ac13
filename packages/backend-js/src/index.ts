/**
 * The reference halfstep backend in plain TypeScript on typed arrays: the oracle every other
 * backend is tested against.
 *
 * @packageDocumentation
 */

export { type Aggregated, AggregateScratch, aggregate, type HostBagUpdate } from './aggregate.js';
export { createJsBackend, JsBackend, jsBackend } from './backend.js';
export { type ArrayMatmulArgs, bceWithLogits, matmul, sigmoid } from './dense.js';
