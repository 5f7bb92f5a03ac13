import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidArgumentError } from 'commander';

const DECIMAL_INTEGER = /^[0-9]+$/;
/** A plain decimal number: digits with an optional fraction and exponent; no hex, no Infinity. */
const DECIMAL_NUMBER = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

/**
 * A commander argument parser for an integer option in `[min, max]`: decimal digits only (no
 * sign, hex, exponent, fraction or blanks). Commander names the option and the value in the
 * error; the message says the allowed range.
 */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = DECIMAL_INTEGER.test(value) ? Number(value) : Number.NaN;
    if (!(Number.isSafeInteger(n) && n >= min && n <= max)) {
      throw new InvalidArgumentError(
        `expected a decimal integer from ${min} to ${max}, got "${value}"`,
      );
    }
    return n;
  };
}

/**
 * A commander argument parser for a number option in `(min, max]`: a plain decimal number
 * (`0.1`, `1e-3`), not hex, empty, `Infinity`, `NaN` or with anything trailing.
 */
export function numberAbove(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = DECIMAL_NUMBER.test(value) ? Number(value) : Number.NaN;
    if (!(Number.isFinite(n) && n > min && n <= max)) {
      throw new InvalidArgumentError(
        `expected a decimal number greater than ${min} and at most ${max}, got "${value}"`,
      );
    }
    return n;
  };
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Checks, before a run, that the file `path` (given as `flag`) can be written: its folder exists
 * and is writable, and `path` is not a folder.
 * @throws Error naming the flag and the path.
 */
export async function checkWritableFile(flag: string, path: string): Promise<void> {
  const dir = dirname(path);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new Error(`${flag} ${path}: is a directory, not a file`);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch (error) {
    throw new Error(`${flag} ${path}: the directory ${dir} does not exist`, { cause: error });
  }
  if (!info.isDirectory()) throw new Error(`${flag} ${path}: ${dir} is not a directory`);
  try {
    await access(dir, constants.W_OK);
  } catch (error) {
    throw new Error(`${flag} ${path}: the directory ${dir} is not writable`, { cause: error });
  }
}

/**
 * Checks, before a run, that the folder `path` (given as `flag`) is one the run can create or
 * write into: the nearest existing folder on its way is a writable directory.
 * @throws Error naming the flag and the path.
 */
export async function checkWritableDir(flag: string, path: string): Promise<void> {
  let at = path;
  for (;;) {
    let info: Awaited<ReturnType<typeof stat>> | undefined;
    try {
      info = await stat(at);
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT' && errnoCode(error) !== 'ENOTDIR') throw error;
    }
    if (info !== undefined) {
      if (!info.isDirectory()) throw new Error(`${flag} ${path}: ${at} is not a directory`);
      try {
        await access(at, constants.W_OK);
      } catch (error) {
        throw new Error(`${flag} ${path}: the directory ${at} is not writable`, { cause: error });
      }
      return;
    }
    const up = dirname(at);
    if (up === at) return;
    at = up;
  }
}
