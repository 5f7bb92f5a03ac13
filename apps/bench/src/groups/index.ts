import type { BenchGroup } from '../harness.js';
import { codecsGroup } from './codecs.js';
import { embeddingGroup } from './embedding.js';
import { recsysGroup } from './recsys.js';
import { rngGroup } from './rng.js';
import { roundingGroup } from './rounding.js';
import { storeGroup } from './store.js';
import { wasmGroup } from './wasm.js';
import { webgpuGroup } from './webgpu.js';

/** Every benchmark group, in the order `pnpm bench` runs them. */
export const groups: readonly BenchGroup[] = [
  codecsGroup,
  rngGroup,
  roundingGroup,
  embeddingGroup,
  recsysGroup,
  wasmGroup,
  webgpuGroup,
  storeGroup,
];
