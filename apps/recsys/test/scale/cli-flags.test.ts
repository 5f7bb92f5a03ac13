import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/halfstep-recsys.js', import.meta.url));

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('train --store / --workers on the command line', () => {
  it('lists the flags in --help', async () => {
    const r = await cli(['train', '--help']);
    expect(r.code).toBe(0);
    for (const flag of [
      '--store <url>',
      '--workers <n>',
      '--sync-every <n>',
      '--rank <r>',
      '--run-id <id>',
    ])
      expect(r.stdout).toContain(flag);
  }, 60_000);

  it.each([
    [
      ['--store', 'redis://h'],
      /option '--store <url>' argument 'redis:\/\/h' is invalid\. node "h" has no port/,
    ],
    [
      ['--store', 'http://h:1'],
      /argument 'http:\/\/h:1' is invalid\. unsupported scheme "http:\/\/"/,
    ],
    [['--store', 'redis://h:99999'], /bad port "99999" of node "h:99999"; expected 1\.\.65535/],
    [
      ['--workers', '0'],
      /option '--workers <n>' argument '0' is invalid\. expected a decimal integer from 1 to 256, got "0"/,
    ],
    [['--workers', 'two'], /option '--workers <n>' argument 'two' is invalid/],
    [['--sync-every', '-1'], /option '--sync-every <n>' argument '-1' is invalid/],
    [['--workers', '2'], /error: --workers 2 needs --store redis:\/\/host:port/],
    [
      ['--store', 'redis://127.0.0.1:1', '--workers', '2', '--rank', '5', '--run-id', 'x'],
      /--rank 5 is not a worker of --workers 2/,
    ],
    [
      ['--store', 'redis://127.0.0.1:1', '--checkpoint', 'ckpt'],
      /--checkpoint cannot be used with --store redis/,
    ],
    [['--run-id', 'a b'], /option '--run-id <id>' argument 'a b' is invalid/],
    // Commander echoes the refused value: with the password as ***.
    [
      ['--store', 'rediss://trainer:s3cret@h'],
      /argument 'rediss:\/\/trainer:\*\*\*@h' is invalid\. node "h" has no port/,
    ],
  ])(
    'refuses %j before training, naming the flag and the value',
    async (args, message) => {
      const r = await cli(['train', '--quiet', ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).not.toMatch(/validation/);
      expect(`${r.stdout}${r.stderr}`).not.toContain('s3cret');
    },
    60_000,
  );
});

describe('a Redis store that cannot be used', () => {
  it('says why, and shows the password as *** only', async () => {
    const r = await cli(['train', '--quiet', '--store', 'redis://trainer:s3cret@127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('store: redis://trainer:***@127.0.0.1:1');
    expect(r.stderr).toMatch(/127\.0\.0\.1:1: nothing is listening there \(ECONNREFUSED\)/);
    expect(`${r.stdout}${r.stderr}`).not.toContain('s3cret');
  }, 60_000);
});

describe('tables list|drop on the command line', () => {
  it.each([
    [['tables', 'list'], /tables needs --store redis:\/\/\.\.\. \(or \$HALFSTEP_STORE\)/],
    [
      ['tables', 'drop', '--store', 'redis://127.0.0.1:1'],
      /tables drop needs --run-id <id>, or --all/,
    ],
    [
      ['tables', 'list', '--store', 'redis://u:s3cret@127.0.0.1:1', '--run-id', 'r1'],
      /error: table "\*": Redis Cluster at 127\.0\.0\.1:1 could not be used: 127\.0\.0\.1:1: nothing is listening there \(ECONNREFUSED\)/,
    ],
  ])(
    '%j says what is wrong',
    async (args, message) => {
      const r = await cli(args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(`${r.stdout}${r.stderr}`).not.toContain('s3cret');
    },
    60_000,
  );
});
