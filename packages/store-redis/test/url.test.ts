import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  createRedisClusterStore,
  parseRedisUrl,
  RedisStoreError,
  redactCredentials,
} from '../src/index.js';

/** The message of what `fn` throws. */
function thrown(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return String(error);
  }
  return 'accepted';
}

describe('parseRedisUrl', () => {
  it('reads users, passwords, TLS and node lists', () => {
    expect(parseRedisUrl('redis://a:1,b:2')).toEqual({
      nodes: [
        { host: 'a', port: 1 },
        { host: 'b', port: 2 },
      ],
      tls: false,
    });
    expect(parseRedisUrl('a:1')).toEqual({ nodes: [{ host: 'a', port: 1 }], tls: false });
    expect(parseRedisUrl('rediss://trainer:s3cret@10.0.0.1:7000,10.0.0.2:7000/')).toEqual({
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7000 },
      ],
      username: 'trainer',
      password: 's3cret',
      tls: true,
    });
    // Percent-encoded; a raw '@' or ',' in a password is taken up to the last '@' too.
    expect(parseRedisUrl('redis://u%40x:p%25w%2C@h:1')).toMatchObject({
      username: 'u@x',
      password: 'p%w,',
    });
    expect(parseRedisUrl('redis://u:a@b,c@h:1,redis://g:2')).toEqual({
      nodes: [
        { host: 'h', port: 1 },
        { host: 'g', port: 2 },
      ],
      username: 'u',
      password: 'a@b,c',
      tls: false,
    });
    // Redis 5-style requirepass: a password without a user.
    expect(parseRedisUrl('redis://:pw@[::1]:7000')).toEqual({
      nodes: [{ host: '::1', port: 7000 }],
      password: 'pw',
      tls: false,
    });
  });

  it.each([
    ['redis://a', /Redis node "a": expected host:port/],
    ['redis://a:0', /expected host:port/],
    ['http://a:1', /unsupported scheme "http:\/\/"/],
    ['redis://', /no Redis node/],
    ['rediss://a:1,redis://b:2', /every node of the URL must use the same scheme/],
    ['redis://user@a:1', /a user needs a password/],
    ['redis://u:%zz@a:1', /password in the Redis URL is not valid percent-encoding/],
    ['u:p@a:1', /needs redis:\/\/ or rediss:\/\//],
  ])('refuses %j', (url, message) => {
    expect(thrown(() => parseRedisUrl(url))).toMatch(message);
  });

  it('never echoes a password', () => {
    for (const url of [
      'redis://trainer:s3cret@a',
      'http://trainer:s3cret@a:1',
      'redis://trainer:s3cret@a:1,,b:2',
      'redis://trainer:s3cret%zz@a:1',
    ]) {
      const message = thrown(() => parseRedisUrl(url));
      expect(message).not.toBe('accepted');
      expect(message).not.toContain('s3cret');
    }
    expect(redactCredentials('rediss://trainer:s3cret@h:1,h:2')).toBe(
      'rediss://trainer:***@h:1,h:2',
    );
    expect(redactCredentials('redis://:p@w,d@a:1')).toBe('redis://:***@a:1');
    expect(redactCredentials('redis://u@a:1')).toBe('redis://***@a:1');
    expect(redactCredentials('redis://a:1')).toBe('redis://a:1');
  });
});

describe('connection failures say what happened', () => {
  it('nothing listening: ECONNREFUSED, at once', async () => {
    const started = Date.now();
    const error = await createRedisClusterStore({
      nodes: 'redis://trainer:s3cret@127.0.0.1:1,127.0.0.1:2',
    }).catch((e) => e);
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error.reason).toBe('unreachable');
    expect(error.message).toMatch(
      /Redis Cluster at 127\.0\.0\.1:1,127\.0\.0\.1:2 could not be used: 127\.0\.0\.1:1: nothing is listening there \(ECONNREFUSED\); 127\.0\.0\.1:2: nothing/,
    );
    expect(inspect(error, { depth: Number.POSITIVE_INFINITY })).not.toContain('s3cret');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('an unknown host: a name-resolution failure', async () => {
    const error = await createRedisClusterStore({
      nodes: 'redis://no-such-host.invalid:7000',
      connectTimeoutMs: 3000,
    }).catch((e) => e);
    expect(error.reason).toBe('unreachable');
    expect(error.message).toMatch(
      /no-such-host\.invalid:7000: unknown host: the name could not be resolved \((ENOTFOUND|EAI_AGAIN)/,
    );
  });

  it('TLS is never turned off for a rediss:// URL', async () => {
    await expect(createRedisClusterStore({ nodes: 'rediss://a:1', tls: false })).rejects.toThrow(
      /tls: false contradicts the rediss:\/\/ URL/,
    );
  });
});
