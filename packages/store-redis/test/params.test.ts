// The parameters that cross from TypeScript to the library's Lua, without Redis: the Lua takes
// every header word, argument and code from the declarations generated from src/params.ts and
// the shared code tables, and a header the host writes reads back, word by word, as the Lua
// unpacks it.
import type { TableSpec } from '@halfstep/backend';
import { formats, RULE_CODES } from '@halfstep/codecs';
import {
  adagrad,
  adam,
  kernelConstants,
  momentum,
  OPTIMIZER_CODES,
  rowwiseAdagrad,
  type SparseOptimizer,
  sgd,
} from '@halfstep/optim';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BLOCK_BYTES, tableLayout } from '../src/layout.js';
import { LIBRARY_NAME, LIBRARY_SOURCE } from '../src/lua.js';
import {
  headerBytes,
  luaDeclarations,
  luaStructFormat,
  READ_ARGS,
  READ_HEADER,
  UPDATE_ARGS,
  UPDATE_HEADER,
  updateHeaderValues,
} from '../src/params.js';
import { describeOpenTable } from '../src/table.js';

/** `camelCase` / `kebab-case` to `PREFIX_CAMEL_CASE`, as the generated Lua names them. */
function luaName(prefix: string, name: string): string {
  return `${prefix}_${name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase()}`;
}

/** The value of `local <name> = <value>` in the library source (a number or a quoted string). */
function luaLocal(name: string): string {
  const m = LIBRARY_SOURCE.match(new RegExp(`^local ${name} = (.+)$`, 'm'));
  if (!m) throw new Error(`the library source declares no ${name}`);
  return m[1] as string;
}

/** The library's hand-written Lua: the source without its generated declarations. */
const body = LIBRARY_SOURCE.replace(luaDeclarations(), '');

/**
 * What Lua's `{struct.unpack(format, s)}` gives for a little-endian format of `I4` / `i4` / `f`
 * codes: the values in order (the list is 1-based in Lua; `result[i - 1]` here).
 */
function structUnpack(format: string, bytes: Buffer): number[] {
  expect(format.startsWith('<'), format).toBe(true);
  const codes = format.slice(1).match(/I4|i4|f/g) ?? [];
  expect(codes.join(''), 'only I4, i4 and f codes').toBe(format.slice(1));
  expect(bytes.length).toBe(4 * codes.length);
  return codes.map((code, i) =>
    code === 'I4'
      ? bytes.readUInt32LE(4 * i)
      : code === 'i4'
        ? bytes.readInt32LE(4 * i)
        : bytes.readFloatLE(4 * i),
  );
}

/** The header `bytes` as the Lua reads it: the word of each name, by the Lua's own constants. */
function luaReads(
  layout: typeof UPDATE_HEADER | typeof READ_HEADER,
  prefix: string,
  bytes: Buffer,
): Record<string, number> {
  expect(Number(luaLocal(`${prefix}_BYTES`))).toBe(bytes.length);
  const words = structUnpack(luaLocal(`${prefix}_FORMAT`).replace(/^'|'$/g, ''), bytes);
  return Object.fromEntries(
    layout.names.map((name) => [name, words[Number(luaLocal(luaName(prefix, name))) - 1]!]),
  );
}

function openTable(spec: Omit<TableSpec, 'name' | 'index' | 'seed' | 'rows'>) {
  const full: TableSpec = { name: 't', index: 3, seed: 7n, rows: 1000, ...spec };
  return describeOpenTable(full, tableLayout(full, DEFAULT_BLOCK_BYTES));
}

describe('the library source', () => {
  it('starts with the declarations generated from the layouts and code tables', () => {
    expect(LIBRARY_SOURCE.startsWith(`#!lua name=${LIBRARY_NAME}\n${luaDeclarations()}\n`)).toBe(
      true,
    );
    const decl = luaDeclarations();
    expect(decl).toContain(UPDATE_HEADER.lua('H'));
    expect(decl).toContain(READ_HEADER.lua('R'));
    expect(decl).toContain(`local H_FORMAT = '${luaStructFormat(UPDATE_HEADER)}'`);
    expect(decl).toContain(`local H_BYTES = ${UPDATE_HEADER.words * 4}`);
    expect(decl).toContain(`local R_FORMAT = '${luaStructFormat(READ_HEADER)}'`);
    expect(decl).toContain(UPDATE_ARGS.lua('UPDATE_ARG'));
    expect(decl).toContain(READ_ARGS.lua('READ_ARG'));
    expect(decl).toContain('local H_LR = ');
    expect(decl).toContain('local UPDATE_ARG_HEADER = 1');
    for (const [kind, code] of Object.entries(OPTIMIZER_CODES))
      expect(decl).toContain(`local ${luaName('KIND', kind)} = ${code}\n`);
    expect(decl).toContain('local KIND_ROWWISE_ADAGRAD = 3');
    for (const [rule, code] of Object.entries(RULE_CODES))
      expect(decl).toContain(`local ${luaName('RULE', rule)} = ${code}`);
  });

  it('reads every header word and argument by name, none by position', () => {
    for (const name of UPDATE_HEADER.names) expect(body).toContain(`h[${luaName('H', name)}]`);
    for (const name of READ_HEADER.names) expect(body).toContain(`h[${luaName('R', name)}]`);
    for (const name of UPDATE_ARGS.names)
      expect(body).toContain(`args[${luaName('UPDATE_ARG', name)}]`);
    for (const name of READ_ARGS.names)
      expect(body).toContain(`args[${luaName('READ_ARG', name)}]`);
    // No word, argument or constant table by number; no header unpacked by a hand-written format.
    expect(body).not.toMatch(/\b[hk]\[\s*\d+\s*\]/);
    expect(body).not.toMatch(/\bargs\[\s*\d+\s*\]/);
    expect(body).not.toMatch(/for i = 1, \d+ do/);
    expect(body).not.toMatch(/sunpack\('<(I4|f)',\s*s\b/);
    // Kinds and rules by their generated names only.
    expect(body).not.toMatch(/\bkind\s*[=~]=\s*\d/);
    expect(body).not.toMatch(/\brule\s*[=~]=\s*\d/);
    expect(body).not.toMatch(/\bth\s*<\s*0/);
    // Nothing of the optimizer is derived in Lua: the host's kernelConstants give every scalar.
    expect(body).not.toMatch(/f\(\s*lr\s*\*\s*dec\s*\)/);
    expect(body).not.toMatch(/1\s*-\s*(H\.)?b[12]\b/);
    // The random words' shape comes from the header too.
    expect(body).not.toMatch(/math\.ceil\(/);
    expect(body).not.toMatch(/floor\(32 \//);
  });

  it('declares every constant once', () => {
    const names = [...LIBRARY_SOURCE.matchAll(/^local ([A-Z][A-Z0-9_]*) = /gm)].map((m) => m[1]);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('the update header', () => {
  const cases: [string, Omit<TableSpec, 'name' | 'index' | 'seed' | 'rows'>, number][] = [
    [
      'adam, float16 weights (stochastic), bfloat16 state',
      {
        dim: 10,
        storage: 'float16',
        rounding: 'stochastic',
        optimizer: adam({
          lr: 0.01,
          beta1: 0.85,
          beta2: 0.995,
          maxNorm: 2,
          weightDecay: { mode: 'decoupled', rate: 0.1 },
          stateStorage: 'bfloat16',
        }),
      },
      4,
    ],
    [
      'momentum, float32',
      {
        dim: 5,
        storage: 'float32',
        rounding: 'stochastic',
        optimizer: momentum({ lr: 0.1, momentum: 0.8, weightDecay: { mode: 'l2', rate: 0.05 } }),
      },
      0,
    ],
    [
      'sgd, float8e4m3 nearest-even',
      { dim: 7, storage: 'float8e4m3', rounding: 'nearest-even', optimizer: sgd({ lr: 0.7 }) },
      2 ** 32 - 1,
    ],
    [
      'adagrad, float8e5m2 stochastic, float16 state',
      {
        dim: 9,
        storage: 'float8e5m2',
        rounding: 'stochastic',
        optimizer: adagrad({ lr: 0.3, stateStorage: 'float16' }),
      },
      1,
    ],
    [
      'rowwise adagrad, bfloat16 nearest-even',
      {
        dim: 16,
        storage: 'bfloat16',
        rounding: 'nearest-even',
        optimizer: rowwiseAdagrad({ lr: 0.2 }),
      },
      9,
    ],
  ];

  it.each(cases)('%s: reads back as the Lua unpacks it', (_, spec, step) => {
    const t = openTable(spec);
    const values = { ...updateHeaderValues(t, step), blockBytes: 12_345 };
    const read = luaReads(UPDATE_HEADER, 'H', headerBytes(UPDATE_HEADER, values));
    for (const name of UPDATE_HEADER.names) {
      const expected =
        UPDATE_HEADER.types[name] === 'f32' ? Math.fround(values[name]) : values[name];
      expect(read[name], name).toBe(expected);
    }
    // The values are the ones declared elsewhere: the optimizer's code and constants, the
    // formats' fields, the rounding's rule and the random words' shape.
    const optimizer: SparseOptimizer = spec.optimizer;
    expect(read.kind).toBe(OPTIMIZER_CODES[optimizer.kind]);
    const k = kernelConstants(optimizer, step);
    for (const [name, v] of Object.entries(k)) expect(read[name], name).toBe(v);
    expect(read.blockBytes).toBe(12_345);
    const w = spec.storage === 'float32' ? null : formats[spec.storage];
    expect(read.wBits).toBe(w?.bits ?? 0);
    expect(read.wMantissaBits).toBe(w?.mantissaBits ?? 0);
    expect(read.wHasInfinity).toBe(w === null ? 0 : Number(w.hasInfinity));
    expect(read.wRule).toBe(w === null ? 0 : RULE_CODES[spec.rounding]);
    if (w !== null && spec.rounding === 'stochastic') {
      expect(read.wRandomBits).toBe(23 - w.mantissaBits);
      expect(read.wRowWords).toBe(Math.ceil(spec.dim / Math.floor(32 / read.wRandomBits!)));
    } else expect(read.wRowWords).toBe(0);
    const s = optimizer.stateStorage === 'float32' ? null : formats[optimizer.stateStorage];
    expect(read.sBits).toBe(s?.bits ?? 0);
    expect(read.sRule).toBe(s === null ? 0 : RULE_CODES.stochastic);
    expect(read.stateSize).toBe(optimizer.stateSize(spec.dim));
  });

  it('the read header reads back as the Lua unpacks it', () => {
    const values = { blockBytes: 16_320, recordBytes: 48, weightBytes: 32 };
    expect(luaReads(READ_HEADER, 'R', headerBytes(READ_HEADER, values))).toEqual(values);
  });

  it('passes the arguments in their declared order', () => {
    const argv = UPDATE_ARGS.argv({
      header: 'h',
      rows: 'r',
      gradients: 'g',
      weightWords: 'w',
      stateWords: 's',
    });
    UPDATE_ARGS.names.forEach((name, i) => {
      expect(Number(luaLocal(luaName('UPDATE_ARG', name)))).toBe(i + 1);
    });
    expect(argv).toEqual(['h', 'r', 'g', 'w', 's']);
    expect(READ_ARGS.argv({ header: 1, rows: 2 })).toEqual([1, 2]);
  });
});
