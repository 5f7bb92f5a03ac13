import type { BenchGroup } from '../harness.js';
import { codecsGroup } from './codecs.js';
import { rngGroup } from './rng.js';
import { roundingGroup } from './rounding.js';

/** Every benchmark group, in the order `pnpm bench` runs them. */
export const groups: readonly BenchGroup[] = [codecsGroup, rngGroup, roundingGroup];
