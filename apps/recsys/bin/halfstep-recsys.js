#!/usr/bin/env node
// Runs the TypeScript sources with no build step: a child Node process with the
// `@halfstep/source` export condition (workspace packages resolve to their src/) and tsx's
// loader. Conditions must be set when a process starts, hence the re-spawn.
//
// The child never outlives this process: SIGINT, SIGTERM and SIGHUP are passed on to it, and it
// ends itself when the IPC channel to this process closes (this process killed with SIGKILL) or
// when its parent changes (see `src/cli.ts`). This process exits with the child's code or signal.
import { spawn } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');
const child = spawn(
  process.execPath,
  ['--conditions=@halfstep/source', '--import', tsx, cli, ...process.argv.slice(2)],
  {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, HALFSTEP_RECSYS_PARENT: String(process.pid) },
  },
);
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
for (const signal of signals) {
  process.on(signal, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
}
child.on('error', (error) => {
  process.stderr.write(`halfstep-recsys: could not start ${process.execPath}: ${error.message}\n`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    // Die of the same signal: without our handler, so that it is not just passed on again.
    for (const s of signals) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    // A signal that does not end a process by default: exit as a shell reports it.
    setTimeout(() => process.exit(128 + (os.constants.signals[signal] ?? 0)), 100).unref();
  } else process.exit(code ?? 1);
});
