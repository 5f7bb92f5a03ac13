import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The docs project: guide code samples and the built site in headless Chromium.
// Runs alone with `pnpm --filter @halfstep/docs test`, or from the root config as a project.
export default defineConfig({
  resolve: { conditions: ['@halfstep/source'] },
  ssr: { resolve: { conditions: ['@halfstep/source'] } },
  test: {
    name: 'docs',
    root: fileURLToPath(new URL('.', import.meta.url)),
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 300_000,
    // The site test owns a browser and a server; keep files in separate processes, one at a time
    // (the samples train models, and a loaded 2-core machine makes page loads time out).
    pool: 'forks',
    fileParallelism: false,
  },
});
