import { existsSync, readFileSync } from 'node:fs';
import { type DefaultTheme, defineConfig, type MarkdownRenderer } from 'vitepress';

/**
 * Site base path: `/` locally, `/<repo>/` on GitHub Pages (the deploy workflow sets
 * `DOCS_BASE`). Always starts and ends with a slash.
 */
const base = `/${(process.env.DOCS_BASE ?? '/').replace(/^\/+|\/+$/g, '')}/`.replace(/\/+/g, '/');

/**
 * The API reference's sidebar, written by TypeDoc (typedoc-vitepress-theme) next to its markdown
 * in `api/`. The `docs` script runs TypeDoc before VitePress; without it the reference is empty.
 */
const apiSidebarFile = new URL('../api/typedoc-sidebar.json', import.meta.url);
const apiSidebar: DefaultTheme.SidebarItem[] = existsSync(apiSidebarFile)
  ? JSON.parse(readFileSync(apiSidebarFile, 'utf8'))
  : [];

/**
 * Hides the `// @run` (`# @run`) marker line of runnable samples from readers; test/samples.test.ts
 * reads the markdown source, where the marker stays.
 */
function runMarkers(md: MarkdownRenderer): void {
  const fence = md.renderer.rules.fence!;
  md.renderer.rules.fence = (tokens, idx, options, env, self) => {
    const token = tokens[idx]!;
    token.content = token.content.replace(/^(\/\/|#) @run\n/, '');
    return fence(tokens, idx, options, env, self);
  };
}

const guides: DefaultTheme.SidebarItem[] = [
  {
    text: 'Start here',
    items: [
      { text: 'Getting started', link: '/guide/getting-started' },
      { text: 'Why stochastic rounding', link: '/guide/why-stochastic-rounding' },
      { text: 'Tutorial: the recommender', link: '/guide/tutorial-recsys' },
    ],
  },
  {
    text: 'Concepts',
    items: [
      { text: 'Formats', link: '/guide/formats' },
      { text: 'Rounding strategies', link: '/guide/rounding' },
      { text: 'Random engines', link: '/guide/random-engines' },
    ],
  },
  {
    text: 'Using halfstep',
    items: [
      { text: 'Backends', link: '/guide/backends' },
      { text: 'Reproducibility', link: '/guide/reproducibility' },
      { text: 'Checkpoints and Python', link: '/guide/checkpoints' },
      { text: 'Scale-out on Redis Cluster', link: '/guide/scale-out' },
      { text: 'Coming from FBGEMM/TorchRec', link: '/guide/migrating-from-fbgemm' },
    ],
  },
  {
    text: 'Reference',
    items: [
      { text: 'API reference', link: '/api/' },
      { text: 'Benchmarks', link: '/benchmarks' },
      { text: 'Live demo', link: '/demo' },
    ],
  },
];

export default defineConfig({
  title: 'halfstep',
  description:
    'Embedding tables trained in half precision with stochastic rounding, in TypeScript.',
  base,
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: `${base}favicon.svg` }]],
  outDir: 'site',
  cleanUrls: false,
  lastUpdated: false,
  srcExclude: [
    'README.md',
    'api-readme.md',
    'data/**',
    'scripts/**',
    'test/**',
    'site/**',
    'node_modules/**',
  ],
  markdown: {
    config: (md) => {
      // Only links written with a scheme or `www.`: "QUALITY.md" is a file name, not a domain.
      md.linkify.set({ fuzzyLink: false });
      runMarkers(md);
    },
  },
  vite: {
    resolve: { conditions: ['@halfstep/source'] },
    ssr: { resolve: { conditions: ['@halfstep/source'] } },
  },
  themeConfig: {
    logo: '/favicon.svg',
    nav: [
      { text: 'Guide', link: '/guide/getting-started', activeMatch: '^/guide/' },
      { text: 'API', link: '/api/', activeMatch: '^/api/' },
      { text: 'Benchmarks', link: '/benchmarks' },
      { text: 'Demo', link: '/demo' },
    ],
    sidebar: {
      // The reference: the guides one click away, then TypeDoc's tree of packages.
      '/api/': [
        {
          text: 'Guides',
          collapsed: true,
          items: guides.flatMap((group) => group.items ?? []),
        },
        { text: 'API reference', link: '/api/', items: apiSidebar },
      ],
      '/': guides,
    },
    outline: { level: [2, 3] },
    search: { provider: 'local' },
    socialLinks: [{ icon: 'github', link: 'https://github.com/halfstep/halfstep' }],
  },
});
