import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { sgd } from '@halfstep/optim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClusterStore, RedisStoreError } from '../src/index.js';
import { guideAclRules, redisAvailable, SCRIPT } from './cluster.js';

/** A TLS cluster on BASE .. BASE + 5; a Redis without cluster support on SOLO. */
const BASE = 21600;
const SOLO = 21610;
const PASSWORD = 'pa$$w0rd-s3cret';
const available = redisAvailable();

const opensslAvailable = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!available || !opensslAvailable)(
  'an ACL user over TLS (rediss://) on a local 3+3 cluster',
  () => {
    let dir = '';
    let env: NodeJS.ProcessEnv = {};
    let ca: Buffer;
    let noTls: string | undefined;
    const url = (password: string) =>
      `rediss://trainer:${encodeURIComponent(password)}@127.0.0.1:${BASE},127.0.0.1:${BASE + 1}`;
    const script = (...args: string[]) =>
      execFileSync('bash', [SCRIPT, ...args], {
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
        timeout: 60_000,
      });

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'halfstep-redis-tls-'));
      // A self-signed certificate for 127.0.0.1, its own authority.
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          join(dir, 'node.key'),
          '-out',
          join(dir, 'node.crt'),
        ],
        { stdio: 'ignore' },
      );
      ca = readFileSync(join(dir, 'node.crt'));
      // Every node gets the guide's ACL for "trainer" (the default user stays for the script).
      writeFileSync(
        join(dir, 'users.acl'),
        `user default on nopass ~* &* +@all\nuser trainer ${guideAclRules(PASSWORD)}\n`,
      );
      env = {
        ...process.env,
        REDIS_TLS_CERT: join(dir, 'node.crt'),
        REDIS_TLS_KEY: join(dir, 'node.key'),
        REDIS_TLS_CA: join(dir, 'node.crt'),
        REDIS_EXTRA_ARGS: `--aclfile ${join(dir, 'users.acl')}`,
        REDIS_CLUSTER_DIR: join(dir, 'cluster'),
      };
      script('stop', String(BASE));
      try {
        script('start', String(BASE));
      } catch (error) {
        // A redis-server built without TLS cannot start the nodes; CI's (Debian's) has it.
        if (process.env.CI === 'true') throw error;
        noTls = `the TLS cluster did not start (redis-server built without TLS?): ${error}`;
        console.warn(`[store-redis] skipping the TLS tests: ${noTls}`);
      }
    }, 90_000);
    afterAll(() => {
      if (dir === '') return;
      script('stop', String(BASE));
      rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    it("trains with the guide's least-privilege ACL through rediss://user:password@", async (ctx) => {
      if (noTls) return ctx.skip();
      const store = await createRedisClusterStore({
        nodes: url(PASSWORD),
        tls: { ca },
        keyPrefix: 'halfstep:recsys:acl-test',
        replicas: 1,
      });
      expect(inspect(store)).not.toContain(PASSWORD);
      await store.openTables([
        {
          name: 'C1',
          index: 0,
          rows: 40,
          dim: 4,
          storage: 'float16',
          rounding: 'stochastic',
          optimizer: sgd({ lr: 1 }),
          seed: 7n,
          init: 'zeros',
        },
      ]);
      const rows = Int32Array.of(0, 5, 39);
      const result = await store.applyGradients('C1', rows, new Float32Array(12).fill(-1), 0);
      expect(result.acknowledgedRows).toBe(3);
      expect(Array.from(await store.readRows('C1', rows))).toEqual(new Array(12).fill(1));
      // Dropping named tables needs no SCAN (listing every table does: an operator's user).
      expect(await store.dropTables(['C1'])).toEqual({ tables: ['C1'], keys: 2 });
      await store.close();
      // The library is loaded now: a user without +function|load may use it.
      const check = await createRedisClusterStore({
        nodes: url(PASSWORD),
        tls: { ca },
        keyPrefix: 'halfstep:recsys:acl-test',
        library: 'check',
      });
      await check.close();
    }, 60_000);

    it('a wrong password: WRONGPASS at once, and the password nowhere', async (ctx) => {
      if (noTls) return ctx.skip();
      const started = Date.now();
      const error = await createRedisClusterStore({
        nodes: url('wrong-s3cret'),
        tls: { ca },
      }).catch((e) => e);
      expect(error).toBeInstanceOf(RedisStoreError);
      expect(error.reason).toBe('auth');
      expect(error.message).toMatch(
        /127\.0\.0\.1:21600: the user name or password was refused \(WRONGPASS/,
      );
      expect(Date.now() - started).toBeLessThan(5000);
      for (const text of [error.message, error.stack, inspect(error, { depth: Infinity })])
        expect(text).not.toContain('wrong-s3cret');
    });

    it('a user without a permission the store needs: NOPERM, naming the guide', async (ctx) => {
      if (noTls) return ctx.skip();
      // Keys outside the user's patterns: the store's first command on them says NOPERM.
      const store = await createRedisClusterStore({
        nodes: url(PASSWORD),
        tls: { ca },
        keyPrefix: 'not-allowed',
      });
      const error = await store
        .openTables([
          {
            name: 'T',
            index: 0,
            rows: 4,
            dim: 2,
            storage: 'float32',
            rounding: 'nearest-even',
            optimizer: sgd({ lr: 1 }),
            seed: 1n,
          },
        ])
        .catch((e) => e);
      expect(error.reason).toBe('auth');
      expect(error.message).toMatch(
        /table "T": opening the table failed: the user lacks a permission the store needs \(NOPERM.*\); see the least-privilege ACL in the scale-out guide/,
      );
      await store.close();
    });

    it('an untrusted certificate, and plain text to a TLS port, say so', async (ctx) => {
      if (noTls) return ctx.skip();
      const untrusted = await createRedisClusterStore({ nodes: url(PASSWORD) }).catch((e) => e);
      expect(untrusted.reason).toBe('unreachable');
      expect(untrusted.message).toMatch(
        /the TLS handshake failed \(self-signed certificate.*\): the certificate is not signed by a trusted authority/,
      );
      const plain = await createRedisClusterStore({
        nodes: `redis://trainer:${PASSWORD}@127.0.0.1:${BASE}`,
        connectTimeoutMs: 3000,
      }).catch((e) => e);
      expect(plain.reason).toBe('unreachable');
      expect(plain.message).toMatch(/if it is a TLS port, use rediss:\/\//);
      expect(inspect(plain, { depth: Infinity })).not.toContain(PASSWORD);
    });
  },
);

describe.skipIf(!available)('a Redis without cluster support', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'halfstep-redis-solo-'));
    execFileSync('redis-server', [
      '--port',
      String(SOLO),
      '--bind',
      '127.0.0.1',
      '--daemonize',
      'yes',
      '--save',
      '',
      '--dir',
      dir,
      '--pidfile',
      join(dir, 'redis.pid'),
      '--logfile',
      join(dir, 'redis.log'),
    ]);
    for (let i = 0; i < 50; i++) {
      try {
        execFileSync('redis-cli', ['-p', String(SOLO), 'ping'], { stdio: 'ignore' });
        break;
      } catch {
        execFileSync('sleep', ['0.1']);
      }
    }
  }, 30_000);
  afterAll(() => {
    try {
      execFileSync('redis-cli', ['-p', String(SOLO), 'shutdown', 'nosave'], { stdio: 'ignore' });
    } catch {
      // gone already
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('says "cluster support disabled" at once', async () => {
    const started = Date.now();
    const error = await createRedisClusterStore({ nodes: `redis://127.0.0.1:${SOLO}` }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error.reason).toBe('not-cluster');
    expect(error.message).toMatch(
      /127\.0\.0\.1:21610: this Redis has cluster support disabled: it is not a Redis Cluster node/,
    );
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
