// The panel's stylesheet is imported for its side effect: esbuild bundles it into hyperparameters.css.
declare module '*.css';
