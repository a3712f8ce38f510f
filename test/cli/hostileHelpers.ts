// Runs the real CLI as a child process with a hang guard and a report of its peak memory.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'modelfactory.js');
/** A run that takes this long is a hang. */
const HANG_MS = 60_000;
/** Peak resident memory a hostile run may reach (the unbounded reads reached 11 GB). */
const MAX_RSS_MB = 400;

// Reports the child's peak resident memory on stderr when it exits.
const PRELOAD = join(mkdtempSync(join(tmpdir(), 'mf-rss-')), 'rss.js');
writeFileSync(
  PRELOAD,
  "process.on('exit', () => { try { require('fs').writeSync(2, '\\nMF_MAXRSS_KB=' + process.resourceUsage().maxRSS + '\\n'); } catch {} });\n",
);

export interface Diagnostic {
  file: string;
  line: number;
  rule: string;
  message: string;
}

export function runCli(args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--require', PRELOAD, BIN, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: HANG_MS,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, ...env },
  });
  assert.notEqual(r.signal, 'SIGTERM', `modelfactory ${args.join(' ')} hung (killed after ${HANG_MS} ms)`);
  const rss = /MF_MAXRSS_KB=(\d+)/.exec(r.stderr);
  assert.ok(rss, `no memory report: ${r.stderr}`);
  const rssMb = Number(rss[1]) / 1024;
  assert.ok(rssMb < MAX_RSS_MB, `peak memory ${rssMb.toFixed(0)} MB, over ${MAX_RSS_MB} MB`);
  assert.doesNotMatch(r.stderr, /\n\s+at .*\(/, `a stack trace on stderr:\n${r.stderr}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
