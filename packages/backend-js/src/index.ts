/**
 * The reference halfstep backend in plain TypeScript on typed arrays: the oracle every other
 * backend is tested against.
 *
 * @packageDocumentation
 */

export { type Aggregated, AggregateScratch, aggregate } from './aggregate.js';
export { createJsBackend, JsBackend, jsBackend } from './backend.js';
export { bceWithLogits, sigmoid } from './dense.js';
