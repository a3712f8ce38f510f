// One build for every side: the extension host client, the language server and the CLI are bundled
// to CommonJS for Node; `vscode` stays external because VS Code provides it at run time.
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

async function main() {
  const ctx = await esbuild.context({
    entryPoints: entries.filter((e) => require('fs').existsSync(e.in)),
    outdir: 'dist',
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: !production,
    minify: production,
    external: ['vscode'],
    logLevel: 'warning',
    loader: { '.json': 'json' },
    // jsonc-parser's UMD entry hides its requires from bundlers; its ESM build bundles cleanly.
    mainFields: ['module', 'main'],
  });
  if (watch) {
    await ctx.watch();
  } else {
    await ctx.rebuild();
    await ctx.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
