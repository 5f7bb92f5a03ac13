/**
 * The reference halfstep backend in plain TypeScript on typed arrays: the oracle every other
 * backend is tested against.
 *
 * @packageDocumentation
 */
export { createJsBackend, JsBackend, jsBackend } from './backend.js';
export { bceWithLogits, sigmoid } from './dense.js';
