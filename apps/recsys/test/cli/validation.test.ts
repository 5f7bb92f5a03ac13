import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { InvalidArgumentError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { integerIn, numberAbove } from '../../src/cli-values.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/halfstep-recsys.js', import.meta.url));
const SMALL = ['--bottom-mlp', '16-4', '--top-mlp', '8-1', '--embedding-dim', '4', '--quiet'];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'recsys-validate-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd: dir,
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('strict numeric option parsing', () => {
  it.each(['0x10', '1e1', '16.0', ' 16', '16 ', '', '+16', '-1', '16abc', '1_000'])(
    'integers: rejects %j',
    (value) => {
      expect(() => integerIn(1, 100)(value)).toThrow(InvalidArgumentError);
      expect(() => integerIn(1, 100)(value)).toThrow(`got "${value}"`);
    },
  );
  it('integers: accepts decimal digits within the range, names the range otherwise', () => {
    expect(integerIn(1, 100)('16')).toBe(16);
    expect(integerIn(0, 100)('007')).toBe(7);
    expect(() => integerIn(1, 100)('101')).toThrow('from 1 to 100');
  });
  it.each([
    '0x1',
    '',
    ' ',
    'Infinity',
    '-Infinity',
    'NaN',
    '0.1abc',
    '1e',
    '.',
    '0',
    '-0.1',
    '1e400',
  ])('numbers: rejects %j', (value) => {
    expect(() => numberAbove(0, 1e9)(value)).toThrow(InvalidArgumentError);
  });
  it('numbers: accepts plain decimals', () => {
    expect(numberAbove(0, 1e9)('0.1')).toBe(0.1);
    expect(numberAbove(0, 1e9)('1e-3')).toBe(0.001);
    expect(numberAbove(0, 1e9)('.5')).toBe(0.5);
  });
});

describe('CLI checks before training', () => {
  it.each([
    [
      ['--batch-size', '1e9'],
      /option '--batch-size <n>' argument '1e9' is invalid\. expected a decimal integer from 1 to 65536/,
    ],
    [
      ['--batch-size', '1000000'],
      /'--batch-size <n>' argument '1000000' is invalid\. expected a decimal integer from 1 to 65536/,
    ],
    [['--epochs', '0x10'], /option '--epochs <n>' argument '0x10' is invalid/],
    [['--lr', 'Infinity'], /option '--lr <rate>' argument 'Infinity' is invalid/],
    [['--lr', '0x1'], /option '--lr <rate>' argument '0x1' is invalid/],
    [
      ['--embedding-dim', '100000'],
      /'--embedding-dim <n>' argument '100000' is invalid\. expected a decimal integer from 1 to 1024/,
    ],
  ])('%j is refused, naming the option, the value and the range', async (args, message) => {
    const r = await cli(['train', ...SMALL, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/Invalid typed array length|at .*\.js:\d+/);
  });

  it('--metrics-out into a missing directory fails before training', async () => {
    const out = join(dir, 'no', 'such', 'metrics.json');
    const r = await cli(['train', ...SMALL, '--metrics-out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(
      `--metrics-out ${out}: the directory ${join(dir, 'no', 'such')} does not exist`,
    );
    expect(r.stdout).not.toContain('backend:');
  });

  it('--lr 1e6 says training diverged at step N and suggests a smaller learning rate', async () => {
    const r = await cli([
      'train',
      ...SMALL,
      '--lr',
      '1e6',
      '--batch-size',
      '32',
      '--train-examples',
      '2048',
      '--validation-examples',
      '64',
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /error: training diverged at step \d+ \(.*not finite.*\); try a smaller learning rate \(--lr\)/,
    );
  }, 60_000);

  it('an empty data file exits non-zero saying how many examples there were', async () => {
    const empty = join(dir, 'empty.tsv');
    await (await import('node:fs/promises')).writeFile(empty, '');
    const r = await cli(['train', ...SMALL, '--data', empty]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`${empty}: 0 lines give 0 training and 0 validation examples`);
    expect(r.stdout).not.toContain('NaN');
  });
});
