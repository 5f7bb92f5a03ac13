import type { FloatFormat } from './formats.js';

/*
 * Argument checks shared by every halfstep package (this is the lowest package they all depend
 * on). Messages read `where: expected X, got Y`, where `where` names the function and the
 * argument (`"adam: options.beta1"`, `"fillUint32: out"`): a wrong type or a missing argument is a
 * TypeError, a value of the right type outside what is allowed a RangeError.
 */

/**
 * How an error message shows a value it did not expect: `undefined`, `null`, `number 4`,
 * `string "0.1"`, `bigint 3n`, `boolean true`, `function`, or the class of an object
 * (`Float32Array`, `Array`; `object` for a plain one).
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'string':
      return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
    case 'number':
      return `number ${String(value)}`;
    case 'bigint':
      return `bigint ${String(value)}n`;
    case 'boolean':
      return `boolean ${String(value)}`;
    case 'object': {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      return typeof name === 'string' && name !== '' && name !== 'Object' ? name : 'object';
    }
    default:
      return typeof value;
  }
}

/**
 * The TypeError `${where}: expected ${expected}, got ${describeValue(value)}`, to throw.
 * @example
 * ```ts
 * if (typeof lr !== 'number') throw argumentError('sgd: options.lr', 'a number', lr);
 * // TypeError: sgd: options.lr: expected a number, got string "0.1"
 * ```
 */
export function argumentError(where: string, expected: string, value: unknown): TypeError {
  return new TypeError(`${where}: expected ${expected}, got ${describeValue(value)}`);
}

/**
 * Returns `value` when it is an instance of `type`.
 * @throws TypeError `${where}: expected a(n) ${type.name}, got ...` (or `expected ${expected}`).
 */
export function checkInstance<T>(
  value: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: any constructor, whatever its parameters.
  type: abstract new (...args: any[]) => T,
  where: string,
  expected = `${/^[aeio]/i.test(type.name) ? 'an' : 'a'} ${type.name}`,
): T {
  if (!(value instanceof type)) throw argumentError(where, expected, value);
  return value;
}

/**
 * Returns `value` when it is one of `allowed` (string options such as `mode`, `storage`).
 * @throws TypeError when it is not a string; RangeError when it is another string. Both name
 *   `where` and list the allowed values.
 */
export function checkOneOf<const T extends string>(
  value: unknown,
  allowed: readonly T[],
  where: string,
): T {
  if ((allowed as readonly unknown[]).includes(value)) return value as T;
  const list = allowed.map((a) => JSON.stringify(a)).join(', ');
  if (typeof value !== 'string') throw argumentError(where, `one of ${list}`, value);
  throw new RangeError(`${where}: expected one of ${list}, got ${describeValue(value)}`);
}

/**
 * Every key of an options type, spelled out once so that the type checker keeps the list
 * complete: `optionKeys<SgdOptions>({ lr: true, weightDecay: true, ... })` fails to compile when
 * a key is missing or unknown.
 */
export function optionKeys<T>(
  keys: { readonly [K in keyof Required<T>]: true },
): readonly string[] {
  return Object.freeze(Object.keys(keys));
}

/** Settings of {@link checkOptions}. */
export interface CheckOptionsSettings {
  /** The argument's name in messages. Default `'options'`. */
  readonly argument?: string | undefined;
  /**
   * What to suggest for a known mistake, by unknown key: `{ betas: 'beta1/beta2' }` gives
   * `(did you mean beta1/beta2?)`. Other unknown keys get the known key they most resemble
   * (same letters ignoring case and `_`, or one or two letters apart), if any.
   */
  readonly hints?: Readonly<Record<string, string>> | undefined;
  /** Whether the argument may be omitted (`undefined` gives `{}`). Default true. */
  readonly optional?: boolean | undefined;
}

const NO_OPTIONS = Object.freeze({});

/**
 * Checks an options argument: an object (or, when optional, `undefined`, read as `{}`) whose own
 * enumerable keys are all in `known`; a key whose value is `undefined` counts as absent.
 * @returns `options`, or `{}` for an omitted one.
 * @throws TypeError `${fn}: options: expected an options object { a, b }, got ...` for a
 *   non-object (an array or a function included), and
 *   `${fn}: unknown option "x" (did you mean y?); expected a, b` for a key not in `known`.
 * @example
 * ```ts
 * checkOptions('adam', { lr: 1, betas: [0.9, 0.99] }, ['lr', 'beta1', 'beta2', 'eps'], {
 *   hints: { betas: 'beta1/beta2' },
 * });
 * // TypeError: adam: unknown option "betas" (did you mean beta1/beta2?); expected lr, beta1, beta2, eps
 * ```
 */
export function checkOptions<T extends object>(
  fn: string,
  options: T | undefined,
  known: readonly string[],
  settings: CheckOptionsSettings = {},
): T {
  const argument = settings.argument ?? 'options';
  if (options === undefined && settings.optional !== false) return NO_OPTIONS as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw argumentError(`${fn}: ${argument}`, `an options object { ${known.join(', ')} }`, options);
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key) || (options as Record<string, unknown>)[key] === undefined) continue;
    const hint = settings.hints?.[key] ?? closest(key, known);
    const where = argument === 'options' ? fn : `${fn}: ${argument}`;
    throw new TypeError(
      `${where}: unknown option ${JSON.stringify(key)}${hint === undefined ? '' : ` (did you mean ${hint}?)`}; expected ${known.join(', ')}`,
    );
  }
  return options;
}

/** The known key `key` most resembles, if any: equal up to case and `_`/`-`, or a near typo. */
function closest(key: string, known: readonly string[]): string | undefined {
  const plain = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const k = plain(key);
  const same = known.find((c) => plain(c) === k);
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDistance = k.length <= 2 ? 0 : k.length <= 5 ? 1 : 2;
  for (const candidate of known) {
    const d = distance(k, plain(candidate));
    if (d <= bestDistance && (best === undefined || d < distance(k, plain(best)))) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance (small strings only). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length]!;
}

/** Throws a TypeError naming `argument` unless `value` is a Float32Array. */
export function checkFloat32Array(value: unknown, argument: string): Float32Array {
  return checkInstance(value, Float32Array, argument);
}

/** Throws unless `value` is the code array type of `format` (Uint16Array or Uint8Array). */
export function checkCodeArray(
  value: unknown,
  format: FloatFormat,
  argument: string,
): Uint16Array | Uint8Array {
  const expected = format.bits === 16 ? Uint16Array : Uint8Array;
  return checkInstance<Uint16Array | Uint8Array>(
    value,
    expected,
    argument,
    `a ${expected.name} of ${format.name} codes`,
  );
}

/** Throws a RangeError naming `argument` unless `array.length === length`. */
export function checkLength(array: ArrayLike<unknown>, length: number, argument: string): void {
  if (array.length !== length) {
    throw new RangeError(`${argument}: expected length ${length}, got ${array.length}`);
  }
}
