import { defineConfig, type MarkdownRenderer } from 'vitepress';

/**
 * Site base path: `/` locally, `/<repo>/` on GitHub Pages (the deploy workflow sets
 * `DOCS_BASE`). Always starts and ends with a slash.
 */
const base = `/${(process.env.DOCS_BASE ?? '/').replace(/^\/+|\/+$/g, '')}/`.replace(/\/+/g, '/');

/**
 * Links to the TypeDoc reference (`/api/...`) point outside VitePress' router: TypeDoc writes
 * `site/api` after the VitePress build. Give them the base path and `target="_self"` so the
 * client router lets the browser load them as plain pages.
 */
function apiLinks(md: MarkdownRenderer): void {
  const render = md.renderer.rules.link_open;
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    const token = tokens[idx]!;
    const href = token.attrGet('href');
    if (href?.startsWith('/api/') && token.attrGet('target') === null) {
      token.attrSet('href', `${base}${href.slice(1)}`);
      token.attrSet('target', '_self');
    }
    return render
      ? render(tokens, idx, options, env, self)
      : self.renderToken(tokens, idx, options);
  };
}

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

export default defineConfig({
  title: 'halfstep',
  description:
    'Embedding tables trained in half precision with stochastic rounding, in TypeScript.',
  base,
  head: [['link', { rel: 'icon', type: 'image/svg+xml', href: `${base}favicon.svg` }]],
  outDir: 'site',
  cleanUrls: false,
  lastUpdated: false,
  srcExclude: ['README.md', 'data/**', 'scripts/**', 'test/**', 'site/**', 'node_modules/**'],
  // `/api/` is written by TypeDoc after this build; test/site.test.ts checks those links for real.
  ignoreDeadLinks: [/^\/api\//],
  markdown: {
    config: (md) => {
      apiLinks(md);
      runMarkers(md);
    },
  },
  vite: {
    resolve: { conditions: ['@halfstep/source'] },
    ssr: { resolve: { conditions: ['@halfstep/source'] } },
  },
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/guide/why-stochastic-rounding' },
      { text: 'Benchmarks', link: '/benchmarks' },
      { text: 'Demo', link: '/demo' },
      { text: 'API', link: '/api/index.html', target: '_self' },
    ],
    sidebar: [
      {
        text: 'Concepts',
        items: [
          { text: 'Why stochastic rounding', link: '/guide/why-stochastic-rounding' },
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
          { text: 'Tutorial: the recommender', link: '/guide/tutorial-recsys' },
          { text: 'Scale-out on Redis Cluster', link: '/guide/scale-out' },
          { text: 'Coming from FBGEMM/TorchRec', link: '/guide/migrating-from-fbgemm' },
        ],
      },
      {
        text: 'Reference',
        items: [
          { text: 'API (TypeDoc)', link: '/api/index.html', target: '_self' },
          { text: 'Benchmarks', link: '/benchmarks' },
          { text: 'Live demo', link: '/demo' },
        ],
      },
    ],
    search: { provider: 'local' },
    socialLinks: [{ icon: 'github', link: 'https://github.com/halfstep/halfstep' }],
  },
});
