// Types of single-file components for tsc (Vite compiles them; vue-tsc is not used here).
declare module '*.vue' {
  import type { DefineComponent } from 'vue';

  const component: DefineComponent;
  export default component;
}
