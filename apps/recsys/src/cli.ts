/**
 * The `halfstep-recsys` command line (see `program.ts`); run it through `bin/halfstep-recsys.js`.
 * @module
 */
import { Worker } from 'node:worker_threads';
import { main } from './program.js';

exitWithParent();
await main(process.argv);

/**
 * Started by `bin/halfstep-recsys.js` (which passes its pid in `HALFSTEP_RECSYS_PARENT` and opens
 * an IPC channel): ends this process when that parent is gone, so that killing the command (even
 * with SIGKILL) never leaves a training orphaned. Training can keep the main thread's event loop
 * from ever reaching timers and I/O (its awaits resolve at once), so a worker thread checks the
 * parent pid every 250 ms and kills this process when it changed; the IPC channel's `disconnect`
 * does it at once while the main thread is idle.
 */
function exitWithParent(): void {
  const parent = process.env.HALFSTEP_RECSYS_PARENT;
  if (parent === undefined) return;
  // Not passed on to processes this one starts (e.g. the workers of a local cluster).
  delete process.env.HALFSTEP_RECSYS_PARENT;
  const message = 'halfstep-recsys: the parent process is gone; stopping\n';
  if (process.channel) {
    process.on('disconnect', () => {
      process.stderr.write(message);
      process.exit(129);
    });
    // The channel must not keep this process alive once the work is done.
    process.channel.unref();
  }
  const watcher = new Worker(
    `const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const check = () => {
  if (String(process.ppid) === workerData.parent) return;
  try { writeSync(2, workerData.message); } catch {}
  process.kill(process.pid, 'SIGKILL');
};
check();
setInterval(check, 250);`,
    { eval: true, workerData: { parent, message }, stdout: false, stderr: false },
  );
  watcher.unref();
}
