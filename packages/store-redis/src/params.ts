// What the TypeScript side passes to the Lua functions of src/lua.ts, declared once: the binary
// parameter blocks (the update and read headers, `defineParamLayout`), the order of each
// function's arguments, and the code tables the Lua shares with TypeScript (optimizer kinds,
// rounding rules). The library's Lua takes every word number, argument number and code from the
// declarations `luaDeclarations()` generates from this module, and reads the headers by name
// (`h[H_LR]`); test/params.test.ts fails when the Lua reads a word by position or misses one.
import { defineParamLayout, type ParamLayout, randomBitsFor } from '@halfstep/backend';
import { type FloatFormat, RULE_CODES } from '@halfstep/codecs';
import { kernelConstants, OPTIMIZER_CODES } from '@halfstep/optim';
import type { OpenTable } from './table.js';

/**
 * The update function's header (Lua prefix `H`), one little-endian block of 32-bit words: the
 * optimizer's `OPTIMIZER_CODES` number and the row shapes; the weights' and the state's code
 * formats (`w*`, `s*`: `@halfstep/codecs`' format fields, all 0 for float32), each with its
 * rounding rule (`RULE_CODES`) and the stochastic rounding's random-word shape (random bits per
 * element, elements per word, words per row sent; 0 words when the store is not stochastic);
 * then the optimizer's float32 constants at the step, as `@halfstep/optim`'s `kernelConstants`
 * derives them. `blockBytes` differs per block; the rest per table and step.
 */
export const UPDATE_HEADER = defineParamLayout('halfstep_update', [
  ['kind', 'u32'],
  ['dim', 'u32'],
  ['stateSize', 'u32'],
  ['recordBytes', 'u32'],
  /** The expected length of the block's key (its rows x record bytes). */
  ['blockBytes', 'u32'],
  ['wBits', 'u32'],
  ['wExponentBits', 'u32'],
  ['wMantissaBits', 'u32'],
  ['wBias', 'u32'],
  ['wMaxFiniteCode', 'u32'],
  ['wNanCode', 'u32'],
  ['wSignMask', 'u32'],
  ['wHasInfinity', 'u32'],
  ['wRule', 'u32'],
  ['wRandomBits', 'u32'],
  ['wPerWord', 'u32'],
  ['wRowWords', 'u32'],
  ['sBits', 'u32'],
  ['sExponentBits', 'u32'],
  ['sMantissaBits', 'u32'],
  ['sBias', 'u32'],
  ['sMaxFiniteCode', 'u32'],
  ['sNanCode', 'u32'],
  ['sSignMask', 'u32'],
  ['sHasInfinity', 'u32'],
  ['sRule', 'u32'],
  ['sRandomBits', 'u32'],
  ['sPerWord', 'u32'],
  ['sRowWords', 'u32'],
  ['lr', 'f32'],
  ['l2', 'f32'],
  ['decoupled', 'f32'],
  ['shrink', 'f32'],
  ['maxNorm', 'f32'],
  ['eps', 'f32'],
  ['momentum', 'f32'],
  ['beta1', 'f32'],
  ['beta2', 'f32'],
  ['oneMinusBeta1', 'f32'],
  ['oneMinusBeta2', 'f32'],
  ['biasCorrection1', 'f32'],
  ['biasCorrection2', 'f32'],
]);

/** The values of an update header. */
export type UpdateHeaderValues = Readonly<Record<(typeof UPDATE_HEADER.names)[number], number>>;

/** The read function's header (Lua prefix `R`): the block's expected length and its records. */
export const READ_HEADER = defineParamLayout('halfstep_read', [
  ['blockBytes', 'u32'],
  ['recordBytes', 'u32'],
  /** The bytes of a record's weights: what the function returns per row. */
  ['weightBytes', 'u32'],
]);

/** The values of a read header. */
export type ReadHeaderValues = Readonly<Record<(typeof READ_HEADER.names)[number], number>>;

/** A function's arguments (ARGV) by name, in the order they are sent. */
export interface FunctionArguments<Name extends string> {
  /** The argument names in ARGV order. */
  readonly names: readonly Name[];
  /** `values` in ARGV order. */
  argv<V>(values: Readonly<Record<Name, V>>): V[];
  /** Lua `local <PREFIX>_<NAME> = <index>` (1-based, for `args[...]`), one per line. */
  lua(prefix: string): string;
}

/** `camelCase` / `kebab-case` to `CAMEL_CASE` / `KEBAB_CASE`, as `defineParamLayout`'s constants. */
function constantName(prefix: string, name: string): string {
  return `${prefix}_${name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .toUpperCase()}`;
}

/** Declares a function's arguments, in ARGV order. */
function defineArguments<const Name extends string>(
  names: readonly Name[],
): FunctionArguments<Name> {
  return Object.freeze({
    names: Object.freeze([...names]),
    argv: <V>(values: Readonly<Record<Name, V>>) => names.map((name) => values[name]),
    lua: (prefix: string) =>
      names.map((name, i) => `local ${constantName(prefix, name)} = ${i + 1}`).join('\n'),
  });
}

/**
 * The update function's arguments (Lua prefix `UPDATE_ARG`): the header, the packed uint32 rows
 * (in the block), their float32 gradients, and the rows' random words for the weights and for
 * the state (`wRowWords` / `sRowWords` per row).
 */
export const UPDATE_ARGS = defineArguments([
  'header',
  'rows',
  'gradients',
  'weightWords',
  'stateWords',
]);

/** The read function's arguments (Lua prefix `READ_ARG`): the header and the packed uint32 rows. */
export const READ_ARGS = defineArguments(['header', 'rows']);

/** The Lua `struct` format of a layout's block: little-endian, one code per word. */
export function luaStructFormat<Name extends string>(layout: ParamLayout<Name>): string {
  const code = { u32: 'I4', i32: 'i4', f32: 'f' } as const;
  const words: string[] = new Array(layout.words).fill('I4');
  for (const name of layout.names) words[layout.slots[name]] = code[layout.types[name]];
  return `<${words.join('')}`;
}

/** `local <PREFIX>_<KEY> = <code>` per entry of a code table. */
function luaCodeTable(prefix: string, table: Readonly<Record<string, number>>): string {
  return Object.entries(table)
    .map(([key, code]) => `local ${constantName(prefix, key)} = ${code}`)
    .join('\n');
}

/** A header layout's Lua: its length, its `struct` format and its word numbers. */
function luaHeader<Name extends string>(layout: ParamLayout<Name>, prefix: string): string {
  return `-- ${layout.kernel}: header of ${layout.words} words (${layout.words * 4} bytes).
local ${prefix}_BYTES = ${layout.words * 4}
local ${prefix}_FORMAT = '${luaStructFormat(layout)}'
${layout.lua(prefix)}`;
}

/**
 * The Lua declarations the library's source starts with (after its `#!lua` line): the headers'
 * lengths, `struct` formats and word numbers (`H_*`, `R_*`), the arguments' numbers
 * (`UPDATE_ARG_*`, `READ_ARG_*`), the optimizer kinds (`KIND_*`, `OPTIMIZER_CODES`) and the
 * rounding rules (`RULE_*`, `RULE_CODES`).
 */
export function luaDeclarations(): string {
  return `-- Generated by src/params.ts from its declarations, @halfstep/optim's OPTIMIZER_CODES and
-- @halfstep/codecs' RULE_CODES: read the headers and arguments by these names only.
${luaHeader(UPDATE_HEADER, 'H')}
${luaHeader(READ_HEADER, 'R')}
${UPDATE_ARGS.lua('UPDATE_ARG')}
${READ_ARGS.lua('READ_ARG')}
${luaCodeTable('KIND', OPTIMIZER_CODES)}
${luaCodeTable('RULE', RULE_CODES)}`;
}

/**
 * The stochastic rounding's random-word shape for `count` elements of `format`, as the backend's
 * `fillRowThresholds` reads it: k = `randomBitsFor` bits per element, floor(32 / k) elements
 * per word, and the words of one row (0 when the store is not stochastic).
 */
function randomWords(
  format: FloatFormat,
  stochastic: boolean,
  count: number,
): { randomBits: number; perWord: number; rowWords: number } {
  const randomBits = randomBitsFor(format.mantissaBits);
  const perWord = Math.floor(32 / randomBits);
  return { randomBits, perWord, rowWords: stochastic ? Math.ceil(count / perWord) : 0 };
}

/** The header words of a code format (all 0 for float32) stored with rule `rule`. */
function formatWords(format: FloatFormat | null, rule: keyof typeof RULE_CODES, count: number) {
  if (format === null) {
    return {
      bits: 0,
      exponentBits: 0,
      mantissaBits: 0,
      bias: 0,
      maxFiniteCode: 0,
      nanCode: 0,
      signMask: 0,
      hasInfinity: 0,
      rule: 0,
      randomBits: 0,
      perWord: 0,
      rowWords: 0,
    };
  }
  return {
    bits: format.bits,
    exponentBits: format.exponentBits,
    mantissaBits: format.mantissaBits,
    bias: format.bias,
    maxFiniteCode: format.maxFiniteCode,
    nanCode: format.nanCode,
    signMask: format.signMask,
    hasInfinity: format.hasInfinity ? 1 : 0,
    rule: RULE_CODES[rule],
    ...randomWords(format, rule === 'stochastic', count),
  };
}

/**
 * The update header's values for table `t` at optimizer step `step` (0 for the first update),
 * with `blockBytes` 0 (set per block): the weights rounded with the table's rounding, the 16-bit
 * state always stochastically (as every backend stores it).
 */
export function updateHeaderValues(t: OpenTable, step: number): UpdateHeaderValues {
  const { spec, layout } = t;
  const w = formatWords(t.weightFormat, spec.rounding, spec.dim);
  const s = formatWords(t.stateFormat, 'stochastic', layout.stateSize);
  return {
    ...kernelConstants(spec.optimizer, step),
    kind: OPTIMIZER_CODES[spec.optimizer.kind],
    dim: spec.dim,
    stateSize: layout.stateSize,
    recordBytes: layout.recordBytes,
    blockBytes: 0,
    wBits: w.bits,
    wExponentBits: w.exponentBits,
    wMantissaBits: w.mantissaBits,
    wBias: w.bias,
    wMaxFiniteCode: w.maxFiniteCode,
    wNanCode: w.nanCode,
    wSignMask: w.signMask,
    wHasInfinity: w.hasInfinity,
    wRule: w.rule,
    wRandomBits: w.randomBits,
    wPerWord: w.perWord,
    wRowWords: w.rowWords,
    sBits: s.bits,
    sExponentBits: s.exponentBits,
    sMantissaBits: s.mantissaBits,
    sBias: s.bias,
    sMaxFiniteCode: s.maxFiniteCode,
    sNanCode: s.nanCode,
    sSignMask: s.signMask,
    sHasInfinity: s.hasInfinity,
    sRule: s.rule,
    sRandomBits: s.randomBits,
    sPerWord: s.perWord,
    sRowWords: s.rowWords,
  };
}

/** Whether this machine stores a Uint32Array's words little-endian (the headers' byte order). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** A header block of `layout` holding `values`, as the little-endian bytes the Lua unpacks. */
export function headerBytes<Name extends string>(
  layout: ParamLayout<Name>,
  values: Readonly<Record<Name, number>>,
): Buffer {
  const words = layout.block(values);
  const bytes = Buffer.from(words.buffer, words.byteOffset, words.byteLength);
  return LITTLE_ENDIAN ? bytes : bytes.swap32();
}
