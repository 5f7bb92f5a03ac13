import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The local-cluster script of the repository (3 masters + 3 replicas on 127.0.0.1). */
export const CLUSTER_SCRIPT = fileURLToPath(
  new URL('../../../../scripts/redis-cluster.sh', import.meta.url),
);

/** Why a local cluster cannot be started here, or null when it can. */
export function clusterUnavailable(): string | null {
  if (spawnSync('redis-server', ['--version']).status !== 0)
    return 'redis-server is not installed (Debian: apt-get install redis-server)';
  if (spawnSync('redis-cli', ['--version']).status !== 0)
    return 'redis-cli is not installed (Debian: apt-get install redis-tools)';
  if (!existsSync(CLUSTER_SCRIPT)) return `the cluster script ${CLUSTER_SCRIPT} is missing`;
  return null;
}

/**
 * Starts a cluster on `base` .. `base + 5`; returns its `--store` URL. `aclFile`: every node
 * loads its users from it (and keeps them when restarted).
 */
export async function startCluster(base: number, aclFile?: string): Promise<string> {
  const env = {
    ...process.env,
    ...(aclFile === undefined ? {} : { REDIS_EXTRA_ARGS: `--aclfile ${aclFile}` }),
  };
  await run('bash', [CLUSTER_SCRIPT, 'stop', String(base)], { env }).catch(() => {});
  await run('bash', [CLUSTER_SCRIPT, 'start', String(base)], { timeout: 60_000, env });
  return `redis://127.0.0.1:${base},127.0.0.1:${base + 1},127.0.0.1:${base + 2}`;
}

/**
 * The rules of the least-privilege ACL that docs/guide/scale-out.md shows for a training user
 * (its `ACL SETUSER trainer ...` line without `ACL SETUSER trainer`), with `password`.
 */
export function guideAclRules(password: string): string {
  const guide = readFileSync(
    new URL('../../../../docs/guide/scale-out.md', import.meta.url),
    'utf8',
  );
  const line = /^ACL SETUSER trainer (.+)$/m.exec(guide)?.[1];
  if (line === undefined) throw new Error('no "ACL SETUSER trainer" line in the scale-out guide');
  return line.replace('>CHANGE-ME', () => `>${password}`);
}

/**
 * Stops the cluster on `base` .. `base + 5` and deletes its files.
 * @throws Error when a node still answers afterwards.
 */
export async function stopCluster(base: number): Promise<void> {
  // The script may report a node that exits (and removes its pid file) while it looks; what
  // counts is that no node answers afterwards.
  await run('bash', [CLUSTER_SCRIPT, 'stop', String(base)], { timeout: 60_000 }).catch(() => {});
  for (let port = base; port < base + 6; port++) {
    const ping = spawnSync('redis-cli', ['-p', String(port), 'ping'], { encoding: 'utf8' });
    if (ping.stdout?.trim() === 'PONG') throw new Error(`redis node ${port} is still running`);
  }
}

/**
 * Restarts the killed node `port` of the cluster on `base` once its replica has taken over; it
 * rejoins as a replica (the script waits until it is in sync).
 */
export async function startNode(base: number, port: number, aclFile?: string): Promise<void> {
  const env = {
    ...process.env,
    ...(aclFile === undefined ? {} : { REDIS_EXTRA_ARGS: `--aclfile ${aclFile}` }),
  };
  await run('bash', [CLUSTER_SCRIPT, 'start-node', String(base), String(port)], {
    timeout: 60_000,
    env,
  });
}

/** SIGKILLs node `port` of the cluster on `base` (its replica takes over within seconds). */
export async function killNode(base: number, port: number): Promise<void> {
  await run('bash', [CLUSTER_SCRIPT, 'kill-node', String(base), String(port)], { timeout: 30_000 });
}

/** The ports of the cluster's masters, as the nodes report their role. */
export function masters(base: number): number[] {
  const ports: number[] = [];
  for (let port = base; port < base + 6; port++) {
    const role = spawnSync('redis-cli', ['-p', String(port), 'role'], { encoding: 'utf8' });
    if (role.stdout?.startsWith('master')) ports.push(port);
  }
  return ports;
}

/** The master that serves `key` (the others answer MOVED). */
export function masterOf(base: number, key: string): number | undefined {
  return masters(base).find((port) => {
    const r = spawnSync('redis-cli', ['-p', String(port), 'exists', key], { encoding: 'utf8' });
    return !`${r.stdout}${r.stderr}`.includes('MOVED');
  });
}
