import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// One project per workspace package: `vitest run --project codecs` runs one of them.
const workspaceDirs = ['packages', 'apps'].flatMap((group) =>
  existsSync(group)
    ? readdirSync(group)
        .map((name) => join(group, name))
        .filter((dir) => existsSync(join(dir, 'package.json')))
    : [],
);

export default defineConfig({
  resolve: { conditions: ['@halfstep/source'] },
  ssr: { resolve: { conditions: ['@halfstep/source'] } },
  test: {
    projects: [
      ...workspaceDirs.map((root) => ({
        extends: true,
        test: {
          name: root.split('/')[1],
          root,
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
        },
      })),
      // The docs site has its own config: it builds the site and drives a browser.
      'docs/vitest.config.ts',
    ],
  },
});
