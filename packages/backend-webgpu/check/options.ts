import { parseArgs } from 'node:util';
import type { HalfConversionMode } from '../src/index.js';

/** The device check's command line, parsed. */
export interface CheckOptions {
  /** Every size shrunk so that a run takes a minute or two on a software adapter. */
  readonly small: boolean;
  /** Where to write every figure as JSON, or undefined. */
  readonly json: string | undefined;
  /** Only the bit-identity checks. */
  readonly skipBench: boolean;
  /** No `@halfstep/backend-js` timings (the slow part of a large shape). */
  readonly skipJs: boolean;
  /** Fail when the adapter is a software one (SwiftShader, lavapipe, llvmpipe). */
  readonly requireGpu: boolean;
  /** The training step's table rows, or undefined for the default of the mode. */
  readonly rows: number | undefined;
  /** The training step's bags (of 26 lookups), or undefined for the default of the mode. */
  readonly bags: number | undefined;
  /** Steps enqueued between two `flush()` calls in the pipelined step timings. */
  readonly flushEvery: number | undefined;
  /** The backend's `halfConversion`. */
  readonly halfConversion: HalfConversionMode;
}

/** The usage line printed with an argument error. */
export const USAGE =
  'usage: device.ts [--small] [--json out.json] [--skip-bench] [--skip-js] [--require-gpu] ' +
  '[--rows N] [--bags N] [--flush-every N] [--half-conversion auto|integer|hardware]';

/** Flags of the v1 check that no longer exist, with what replaced them. */
const REMOVED: Readonly<Record<string, string>> = {
  '--readback-every':
    'the v2 backend keeps no CPU copy, so there is no readback period (see --flush-every)',
};

/** `value` as a positive integer. @throws RangeError naming `flag` otherwise. */
function positive(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new RangeError(`${flag}: expected a positive integer, got ${value}`);
  }
  return n;
}

/**
 * Parses the device check's arguments (strict: an unknown flag is an error).
 * @throws RangeError or TypeError for a bad or unknown flag, with the usage line.
 */
export function parseCheckOptions(args: readonly string[]): CheckOptions {
  for (const arg of args) {
    const [name = ''] = arg.split('=');
    if (REMOVED[name] !== undefined) throw new RangeError(`${name} was removed: ${REMOVED[name]}`);
  }
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      small: { type: 'boolean', default: false },
      json: { type: 'string' },
      'skip-bench': { type: 'boolean', default: false },
      'skip-js': { type: 'boolean', default: false },
      'require-gpu': { type: 'boolean', default: false },
      rows: { type: 'string' },
      bags: { type: 'string' },
      'flush-every': { type: 'string' },
      'half-conversion': { type: 'string', default: 'auto' },
    },
  });
  const halfConversion = values['half-conversion'];
  if (halfConversion !== 'auto' && halfConversion !== 'integer' && halfConversion !== 'hardware') {
    throw new RangeError(
      `--half-conversion: expected auto, integer or hardware, got ${halfConversion}`,
    );
  }
  return {
    small: values.small,
    json: values.json,
    skipBench: values['skip-bench'],
    skipJs: values['skip-js'],
    requireGpu: values['require-gpu'],
    rows: positive('--rows', values.rows),
    bags: positive('--bags', values.bags),
    flushEvery: positive('--flush-every', values['flush-every']),
    halfConversion,
  };
}
