export {
  createEngine,
  createPhilox,
  ENGINE_NAMES,
  type PhiloxOptions,
  restoreEngine,
} from './engine.js';
export { createPcgHash } from './engines/pcg-hash.js';
export { createXorshift32, createXorshift128, createXorshift128Plus } from './engines/xorshift.js';
export { createXoshiro128PlusPlus } from './engines/xoshiro.js';
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
