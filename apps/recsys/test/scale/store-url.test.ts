import { describe, expect, it } from 'vitest';
import { planScale } from '../../src/program.js';
import {
  formatStoreUrl,
  MEMORY_STORE,
  parseStoreUrl,
  redactCredentials,
  StoreUrlError,
} from '../../src/scale/store-url.js';

describe('parseStoreUrl', () => {
  it('reads users and passwords, and never echoes a password', () => {
    const location = parseStoreUrl('rediss://trainer:s3%40cret@h:1,g:2');
    expect(location).toEqual({
      kind: 'redis',
      nodes: [
        { host: 'h', port: 1 },
        { host: 'g', port: 2 },
      ],
      tls: true,
      username: 'trainer',
      password: 's3@cret',
    });
    expect(formatStoreUrl(location)).toBe('rediss://trainer:***@h:1,g:2');
    expect(formatStoreUrl(location, 'with-password')).toBe('rediss://trainer:s3%40cret@h:1,g:2');
    expect(parseStoreUrl(formatStoreUrl(location, 'with-password'))).toEqual(location);
    expect(parseStoreUrl('redis://:pw@h:1')).toEqual({
      kind: 'redis',
      nodes: [{ host: 'h', port: 1 }],
      tls: false,
      password: 'pw',
    });
    let message = '';
    try {
      parseStoreUrl('redis://trainer:s3cret@h');
    } catch (error) {
      message = String(error);
    }
    expect(message).toContain('node "h" has no port');
    expect(message).toContain('redis://trainer:***@h');
    expect(message).not.toContain('s3cret');
    // Up to the last '@': a password may hold ',' or '@'.
    expect(redactCredentials('redis://u:p,w@d@a:1,b:2')).toBe('redis://u:***@a:1,b:2');
  });

  it('reads memory and redis://host:port lists', () => {
    expect(parseStoreUrl('memory')).toEqual(MEMORY_STORE);
    expect(parseStoreUrl('redis://127.0.0.1:7000,redis-b.local:7001,[::1]:7002/')).toEqual({
      kind: 'redis',
      nodes: [
        { host: '127.0.0.1', port: 7000 },
        { host: 'redis-b.local', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
    });
    expect(formatStoreUrl(parseStoreUrl('redis://h:1,[::1]:2'))).toBe('redis://h:1,[::1]:2');
  });

  it.each([
    ['', /expected "memory" or redis:\/\/host:port/],
    ['127.0.0.1:7000', /expected "memory" or redis:\/\/host:port/],
    ['http://h:1', /unsupported scheme "http:\/\/"/],
    ['redis://', /no node after redis:\/\//],
    ['redis://h', /node "h" has no port/],
    ['redis://h:0', /bad port "0" of node "h:0"; expected 1..65535/],
    ['redis://h:70000', /bad port "70000"/],
    ['redis://h:12x', /bad port "12x"/],
    ['redis://h:1,,g:2', /empty node/],
    ['redis://user@h:1', /a user needs a password/],
    ['redis://h:1/0', /only host:port nodes are accepted \(no path or query\)/],
    ['redis://u:%zz@h:1', /the password is not valid percent-encoding/],
    ['redis://bad_host!:1', /bad host "bad_host!"/],
  ])('rejects %j naming the flag and the value', (value, reason) => {
    let error: unknown;
    try {
      parseStoreUrl(value);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StoreUrlError);
    expect((error as Error).message).toContain(`--store "${redactCredentials(value)}"`);
    expect((error as Error).message).toMatch(reason);
  });
});

describe('planScale', () => {
  const redis = parseStoreUrl('redis://127.0.0.1:7000');
  const base = { syncEvery: 16 };

  it('keeps the single-process in-memory run for the memory store and one worker', () => {
    expect(planScale({ ...base, store: MEMORY_STORE, workers: 1 })).toBeNull();
  });

  it('launches local workers, or runs one worker of a named run', () => {
    expect(planScale({ ...base, store: redis, workers: 3 })).toEqual({
      mode: 'launch',
      workers: 3,
    });
    const plan = planScale({ ...base, store: redis, workers: 3, rank: 2, runId: 'run-7' });
    expect(plan).toEqual({
      mode: 'worker',
      scale: {
        store: redis,
        workers: 3,
        syncEvery: 16,
        runId: 'run-7',
        rank: 2,
        keepTables: false,
      },
    });
    const single = planScale({ ...base, store: redis, workers: 1 });
    expect(single?.mode).toBe('worker');
  });

  it('validates every --eval-every steps and keeps the tables with --keep-tables', () => {
    const plan = planScale({ ...base, store: redis, workers: 1, evalEvery: 8, keepTables: true });
    expect(plan?.mode === 'worker' && plan.scale.keepTables).toBe(true);
  });

  it.each([
    [{ store: MEMORY_STORE, workers: 2 }, /--workers 2 needs --store redis:\/\//],
    [{ store: MEMORY_STORE, workers: 1, rank: 0 }, /--rank needs --store redis:\/\//],
    [{ store: redis, workers: 2, rank: 2, runId: 'x' }, /--rank 2 is not a worker of --workers 2/],
    [{ store: redis, workers: 2, rank: 1 }, /--rank needs --run-id/],
    [
      { store: redis, workers: 2, checkpoint: '/tmp/x' },
      /--checkpoint cannot be used with --store/,
    ],
    [{ store: redis, workers: 2, evalEvery: 5, maxSteps: 3 }, /^--max-steps cannot be used/],
  ])('rejects %j naming the flags', (flags, message) => {
    expect(() => planScale({ ...base, ...flags })).toThrow(message);
  });
});
