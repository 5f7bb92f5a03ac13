import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
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
      // The WebGPU tests again on Mesa's lavapipe (scripts/lavapipe.sh), whose adapter has
      // shader-f16, with the kernels' float16 conversions on the hardware path.
      {
        extends: true,
        test: {
          name: 'backend-webgpu-lavapipe',
          root: 'packages/backend-webgpu',
          include: ['test/webgpu.test.ts', 'test/conversion.test.ts', 'test/conformance.test.ts'],
          env: {
            VK_ICD_FILENAMES: resolve('.cache/lavapipe/lvp_icd.json'),
            HALFSTEP_HALF_CONVERSION: 'hardware',
            HALFSTEP_EXPECT_SHADER_F16: '1',
          },
        },
      },
      // Every package README's code blocks, type-checked and run (test/readmes.test.ts).
      {
        extends: true,
        test: { name: 'readmes', root: '.', include: ['test/**/*.test.ts'] },
      },
      // The docs site has its own config: it builds the site and drives a browser.
      'docs/vitest.config.ts',
    ],
  },
});
