import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RULE_CODES } from '@halfstep/codecs';
import { adam, OPTIMIZER_CODES, sgd } from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import { assemblyScriptLayouts, REGENERATE } from '../scripts/generate-layouts.js';
import { ENCODER_LAYOUT, STORAGE_KINDS, UPDATE_LAYOUT } from '../src/layouts.js';
import { UPDATE_PARAMS_BYTES } from '../src/update-params.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('assembly/layouts.generated.ts', () => {
  it('is what scripts/generate-layouts.ts generates from src/layouts.ts and the code tables', () => {
    const committed = readFileSync(join(root, 'assembly', 'layouts.generated.ts'), 'utf8');
    expect(
      committed === assemblyScriptLayouts(),
      `assembly/layouts.generated.ts is stale: run ${REGENERATE}`,
    ).toBe(true);
  });

  it('holds every word of the update and encoder blocks and every code', () => {
    const text = assemblyScriptLayouts();
    expect(text).toContain(`export const P_ROWS: i32 = ${UPDATE_LAYOUT.slots.rows};`);
    expect(text).toContain(`export const E_REBIAS: i32 = ${ENCODER_LAYOUT.slots.rebias};`);
    expect(text).toContain(`export const RULE_STOCHASTIC: i32 = ${RULE_CODES.stochastic};`);
    expect(text).toContain(
      `export const OPTIMIZER_ROWWISE_ADAGRAD: i32 = ${OPTIMIZER_CODES['rowwise-adagrad']};`,
    );
    expect(text).toContain(`export const STORAGE_BFLOAT16: i32 = ${STORAGE_KINDS.bfloat16};`);
    expect(UPDATE_PARAMS_BYTES).toBe(UPDATE_LAYOUT.words * 4);
  });

  it('is the only place the AssemblyScript sources take word numbers and codes from', () => {
    // The kernels import the constants; none declares its own P_* / E_* word or rule number.
    for (const file of ['embedding.ts', 'codec.ts', 'stochastic-stream.ts']) {
      const source = readFileSync(join(root, 'assembly', file), 'utf8');
      expect(source, file).toContain("from './layouts.generated'");
      expect(source, file).not.toMatch(/^const (P|E|RULE|OPTIMIZER)_[A-Z0-9_]+ = \d+;$/m);
      expect(source, file).not.toMatch(/encodeOne\([^)]*, \d+, /);
    }
  });
});

describe('UPDATE_LAYOUT', () => {
  it('writes the optimizer constants of @halfstep/optim (kernelConstants)', () => {
    const block = new Uint32Array(UPDATE_LAYOUT.words);
    const f32 = new Float32Array(block.buffer);
    const values = Object.fromEntries(UPDATE_LAYOUT.names.map((n) => [n, 0])) as Record<
      (typeof UPDATE_LAYOUT.names)[number],
      number
    >;
    UPDATE_LAYOUT.write(block, 0, {
      ...values,
      step: 2 ** 32 - 1,
      tdWeights: 0xfedcba98,
      bc1: 0.1,
    });
    expect(block[UPDATE_LAYOUT.slots.step]).toBe(0xffffffff);
    expect(block[UPDATE_LAYOUT.slots.tdWeights]).toBe(0xfedcba98);
    expect(f32[UPDATE_LAYOUT.slots.bc1]).toBe(Math.fround(0.1));
    expect(OPTIMIZER_CODES[adam({ lr: 1 }).kind]).toBe(4);
    expect(OPTIMIZER_CODES[sgd({ lr: 1 }).kind]).toBe(0);
  });
});
