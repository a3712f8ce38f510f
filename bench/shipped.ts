// The benchmarks' measured code as the product ships it. The language server and the CLI run one
// esbuild bundle (esbuild.js); under tsx every source file is a CommonJS module of its own whose exports
// are getters, so each call into another module costs a getter call as well (about 13% of streamed
// full validation on 2026-12-01: 77.9 against 69.1 ms per 10 MB, the same script both ways).
// `loadShipped(entry)` builds `entry` with the product's options for the Node sides into a temporary
// folder, loads it, and removes the folder when the process exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const build = require('../esbuild.js') as {
  nodeBuildOptions: (production: boolean) => Record<string, unknown>;
  copyRe2Wasm: (dirs: string[]) => void;
};

/** `entry` (a path from the repository root) bundled as the VSIX's build bundles the server, then loaded. */
export function loadShipped<T>(entry: string): T {
  const dir = mkdtempSync(join(tmpdir(), 'mf-bench-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const outfile = join(dir, 'entry.js');
  buildSync({
    ...build.nodeBuildOptions(true),
    entryPoints: [join(__dirname, '..', entry)],
    outfile,
    logLevel: 'error',
  });
  build.copyRe2Wasm([dir]);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(outfile) as T;
}
