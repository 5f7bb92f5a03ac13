/** The type of one 32-bit word of a kernel's parameter block. */
export type ParamType = 'u32' | 'i32' | 'f32';

/**
 * A kernel's parameter block, declared once: named 32-bit words in order. The TypeScript side
 * writes blocks through `write`; the kernel's other languages take their word numbers from the
 * constants this generates (`wgsl`, `assemblyScript`, `lua`), so a word cannot mean one thing on
 * the host and another in the kernel. A test per kernel compares the generated text with what the
 * kernel source holds.
 */
export interface ParamLayout<Name extends string> {
  /** The kernel's name, for messages and generated comments. */
  readonly kernel: string;
  /** The word number of each parameter. */
  readonly slots: Readonly<Record<Name, number>>;
  /** The type of each parameter. */
  readonly types: Readonly<Record<Name, ParamType>>;
  /** The parameter names in word order. */
  readonly names: readonly Name[];
  /** Words in a block: the declared ones, or more when the layout reserves room. */
  readonly words: number;
  /**
   * Writes `values` into the block that starts at word `base` of `words` (a Uint32Array over
   * the block's memory): u32/i32 as integers (`>>> 0` / `| 0`), f32 rounded to float32.
   * @throws RangeError naming the parameter when a value is missing or not a number, or an
   *   integer parameter is not an integer.
   */
  write(words: Uint32Array, base: number, values: Readonly<Record<Name, number>>): void;
  /** A new block of `words` words holding `values` (`write` at 0). */
  block(values: Readonly<Record<Name, number>>): Uint32Array;
  /** WGSL `const` declarations, `const <PREFIX>_<NAME>: u32 = <slot>u;` one per line. */
  wgsl(prefix: string): string;
  /** AssemblyScript `export const <PREFIX>_<NAME>: i32 = <slot>;`, one per line. */
  assemblyScript(prefix: string): string;
  /** Lua `local <PREFIX>_<NAME> = <slot + 1>` (1-based, for `words[...]`), one per line. */
  lua(prefix: string): string;
}

/** `camelCase` to `CAMEL_CASE`. */
function constantName(prefix: string, name: string): string {
  return `${prefix}_${name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/**
 * Declares a parameter block: `fields` in word order (word 0 first), optionally padded to
 * `options.words` words.
 * @throws RangeError for a repeated name or a block smaller than its fields.
 *
 * @example
 * ```ts
 * import { defineParamLayout } from '@halfstep/backend';
 *
 * const FORWARD = defineParamLayout('forward', [['bags', 'u32'], ['dim', 'u32'], ['scale', 'f32']]);
 * const block = FORWARD.block({ bags: 4, dim: 16, scale: 0.5 });
 * console.log(FORWARD.slots.dim, FORWARD.wgsl('P'));
 * // 1 'const P_BAGS: u32 = 0u;\nconst P_DIM: u32 = 1u;\nconst P_SCALE: u32 = 2u;'
 * ```
 */
export function defineParamLayout<const Name extends string>(
  kernel: string,
  fields: ReadonlyArray<readonly [Name, ParamType]>,
  options: { readonly words?: number } = {},
): ParamLayout<Name> {
  const slots = {} as Record<Name, number>;
  const types = {} as Record<Name, ParamType>;
  fields.forEach(([name, type], slot) => {
    if (name in slots) throw new RangeError(`${kernel}: parameter "${name}" is declared twice`);
    slots[name] = slot;
    types[name] = type;
  });
  const words = options.words ?? fields.length;
  if (words < fields.length)
    throw new RangeError(`${kernel}: ${fields.length} parameters do not fit ${words} words`);
  const names = fields.map(([name]) => name);
  const float = new Float32Array(1);
  const floatBits = new Uint32Array(float.buffer);
  const lines = (render: (name: Name, slot: number) => string) =>
    names.map((name) => render(name, slots[name])).join('\n');
  const write = (
    block: Uint32Array,
    base: number,
    values: Readonly<Record<Name, number>>,
  ): void => {
    for (const name of names) {
      const v = values[name];
      if (typeof v !== 'number' || (Number.isNaN(v) && types[name] !== 'f32'))
        throw new RangeError(`${kernel}: parameter "${name}" must be a number, got ${String(v)}`);
      if (types[name] === 'f32') {
        float[0] = v;
        block[base + slots[name]] = floatBits[0] as number;
      } else {
        if (!Number.isInteger(v))
          throw new RangeError(`${kernel}: parameter "${name}" must be an integer, got ${v}`);
        block[base + slots[name]] = types[name] === 'u32' ? v >>> 0 : v | 0;
      }
    }
  };
  return Object.freeze({
    kernel,
    slots: Object.freeze(slots),
    types: Object.freeze(types),
    names: Object.freeze(names),
    words,
    write,
    block(values: Readonly<Record<Name, number>>): Uint32Array {
      const block = new Uint32Array(words);
      write(block, 0, values);
      return block;
    },
    wgsl: (prefix: string) =>
      lines((name, slot) => `const ${constantName(prefix, name)}: u32 = ${slot}u;`),
    assemblyScript: (prefix: string) =>
      lines((name, slot) => `export const ${constantName(prefix, name)}: i32 = ${slot};`),
    lua: (prefix: string) =>
      lines((name, slot) => `local ${constantName(prefix, name)} = ${slot + 1}`),
  });
}
