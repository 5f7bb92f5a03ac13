#!/usr/bin/env node
// Runs the TypeScript sources with no build step: a child Node process with the
// `@halfstep/source` export condition (workspace packages resolve to their src/) and tsx's
// loader. Conditions must be set when a process starts, hence the re-spawn.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
const child = spawn(
  process.execPath,
  ['--conditions=@halfstep/source', '--import', tsx, cli, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
