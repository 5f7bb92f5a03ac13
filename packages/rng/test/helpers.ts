import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** Reads a file from test/fixtures as text. */
export function readFixture(name: string): string {
  return readFileSync(join(fixtures, name), 'utf8');
}

/**
 * A small deterministic generator for choosing test inputs (a 32-bit LCG, Numerical Recipes
 * constants, upper bits mixed in): independent of the code under test.
 */
export function testInputs(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const a = state;
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return ((a & 0xffff0000) | (state >>> 16)) >>> 0;
  };
}
