import type { Theme } from 'vitepress';
import DefaultTheme from 'vitepress/theme';
import BenchTables from './BenchTables.vue';
import BundleSizes from './BundleSizes.vue';
import DeviceBench from './DeviceBench.vue';
import FormatTable from './FormatTable.vue';
import HsFigure from './HsFigure.vue';
import './style.css';

const theme: Theme = {
  extends: DefaultTheme,
  enhanceApp({ app }) {
    app.component('BenchTables', BenchTables);
    app.component('BundleSizes', BundleSizes);
    app.component('DeviceBench', DeviceBench);
    app.component('FormatTable', FormatTable);
    app.component('HsFigure', HsFigure);
  },
};

// VitePress requires the theme as the default export of this file.
export default theme;
