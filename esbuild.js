// One build for every side: the extension host client, the language server and the CLI are bundled
// to CommonJS for Node; `vscode` stays external because VS Code provides it at run time.
const fs = require('fs');
const path = require('path');
const esbuild = require('esbuild');

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const entries = [
  { in: 'client/src/extension.ts', out: 'client/extension' },
  { in: 'server/src/server.ts', out: 'server/server' },
  { in: 'cli/main.ts', out: 'cli/main' },
  // Worker threads of large-file validation; the CLI and the server load it from dist/server/.
  { in: 'server/src/parallel/datasetWorker.ts', out: 'server/datasetWorker' },
];

// The webviews' browser bundles, one per panel: webviews/src/<name>/main.ts -> dist/webviews/<name>.js
// (+ <name>.css when the entry imports CSS).
const webviewEntries = ['hyperparameters', 'dashboard', 'playground', 'evaluation']
  .map((name) => ({ in: `webviews/src/${name}/main.ts`, out: name }))
  .filter((e) => fs.existsSync(e.in));

/** The codicon font and stylesheet that @vscode-elements/elements' icons expect, beside the bundles. */
function copyCodicons() {
  const from = path.join(__dirname, 'node_modules', '@vscode', 'codicons', 'dist');
  const to = path.join(__dirname, 'dist', 'webviews', 'codicons');
  fs.mkdirSync(to, { recursive: true });
  for (const file of ['codicon.css', 'codicon.ttf']) fs.copyFileSync(path.join(from, file), path.join(to, file));
}

/**
 * How the Node sides are built (the language server, the CLI, their worker threads): also what
 * bench/shipped.ts builds the benchmarks' measured code with, so that they time what ships.
 */
function nodeBuildOptions(production) {
  return {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: !production,
    minify: production,
    // The hub's storage and HTTP libraries load files of their own (PGlite's WebAssembly): kept as packages.
    external: ['vscode', '@electric-sql/pglite', 'pg', 'fastify'],
    logLevel: 'warning',
    loader: { '.json': 'json' },
    // jsonc-parser's UMD entry hides its requires from bundlers; its ESM build bundles cleanly.
    mainFields: ['module', 'main'],
  };
}

/** re2-wasm (the Datanet record schemas' regular expressions) loads re2.wasm from beside the bundle that runs it. */
function copyRe2Wasm(dirs = [path.join(__dirname, 'dist', 'server'), path.join(__dirname, 'dist', 'cli')]) {
  const from = path.join(__dirname, 'node_modules', 're2-wasm', 'build', 'wasm', 're2.wasm');
  for (const dir of dirs) {
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(from, path.join(dir, 're2.wasm'));
  }
}

async function main() {
  const web = await esbuild.context({
    entryPoints: webviewEntries,
    outdir: 'dist/webviews',
    bundle: true,
    platform: 'browser',
    target: 'es2022',
    format: 'iife',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
  });
  const ctx = await esbuild.context({
    ...nodeBuildOptions(production),
    entryPoints: entries.filter((e) => fs.existsSync(e.in)),
    outdir: 'dist',
  });
  copyCodicons();
  copyRe2Wasm();
  if (watch) {
    await Promise.all([ctx.watch(), web.watch()]);
  } else {
    await Promise.all([ctx.rebuild(), web.rebuild()]);
    await Promise.all([ctx.dispose(), web.dispose()]);
  }
}

module.exports = { nodeBuildOptions, copyRe2Wasm };

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
