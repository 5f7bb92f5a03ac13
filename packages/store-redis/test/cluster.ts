import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The local cluster script. */
export const SCRIPT = join(ROOT, 'scripts/redis-cluster.sh');

function found(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return existsSync(`/usr/bin/${name}`);
  }
}

/**
 * Whether the Redis tests can run: redis-server and redis-cli present. In CI (CI=true) their
 * absence is an error, so the tests cannot pass by skipping; elsewhere the tests are skipped
 * with a message.
 */
export function redisAvailable(): boolean {
  const ok = found('redis-server') && found('redis-cli');
  if (ok) return true;
  if (process.env.CI === 'true')
    throw new Error(
      'redis-server/redis-cli are missing: .ci/run installs the redis-server package',
    );
  console.warn(
    '[store-redis] redis-server is not installed: skipping the Redis Cluster tests (apt-get install redis-server)',
  );
  return false;
}

/** Runs the cluster script (start, stop, kill-node, start-node) for a cluster on `base`. */
export function cluster(command: string, base: number, ...rest: number[]): void {
  execFileSync('bash', [SCRIPT, command, String(base), ...rest.map(String)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 60_000,
  });
}

/** Starts a fresh 3+3 cluster on base .. base+5 (stopping a stale one first). */
export function startCluster(base: number): string {
  cluster('stop', base);
  cluster('start', base);
  return `redis://127.0.0.1:${base},127.0.0.1:${base + 1},127.0.0.1:${base + 2}`;
}

/**
 * The rules of the least-privilege ACL that docs/guide/scale-out.md shows for a training user
 * (the `ACL SETUSER trainer ...` line, without `ACL SETUSER trainer`), with `password`: the tests
 * train with exactly what the guide tells operators to grant.
 */
export function guideAclRules(password: string): string {
  const guide = readFileSync(join(ROOT, 'docs/guide/scale-out.md'), 'utf8');
  const line = /^ACL SETUSER trainer (.+)$/m.exec(guide)?.[1];
  if (line === undefined) throw new Error('no "ACL SETUSER trainer" line in the scale-out guide');
  if (!line.includes('>CHANGE-ME'))
    throw new Error('the guide\'s ACL has no ">CHANGE-ME" password');
  return line.replace('>CHANGE-ME', () => `>${password}`);
}
