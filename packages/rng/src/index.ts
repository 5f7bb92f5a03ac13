export {
  createEngine,
  createPhilox,
  ENGINE_NAMES,
  type PhiloxOptions,
  restoreEngine,
} from './engine.js';
export { pcgHash } from './pcg-hash.js';
export { philox4x32 } from './philox.js';
export { splitmix64 } from './splitmix.js';
export type {
  CounterEngine,
  CounterEngineName,
  EngineName,
  EngineSnapshot,
  JumpableEngine,
  JumpableEngineName,
  RandomEngine,
  StreamEngine,
  StreamEngineName,
} from './types.js';
