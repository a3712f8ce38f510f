// Stylesheets imported for their side effect: esbuild bundles them into the panel's <name>.css.
declare module '*.css';
