// The guard that keeps a tier from skipping silently: node's runner with test/noSkips.mjs fails a run in
// which a test skipped, and passes one in which none did or the skip was asked for by name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const REPORTER = resolve(__dirname, '..', 'noSkips.mjs');

function runWithGuard(body: string, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'mf-noskips-'));
  const file = join(dir, 'sample.test.mjs');
  writeFileSync(file, `import { test } from 'node:test';\n${body}\n`);
  const args = ['--test', '--test-reporter=tap', '--test-reporter-destination=stdout'];
  args.push(`--test-reporter=${REPORTER}`, '--test-reporter-destination=stderr', file);
  // A child of a test file inherits NODE_TEST_CONTEXT and would not run its own tests.
  const outer = { ...process.env };
  delete outer['NODE_TEST_CONTEXT'];
  return spawnSync(process.execPath, args, {
    encoding: 'utf8',
    env: { ...outer, MODELFACTORY_SKIP_BROWSER: '', ...env },
  });
}

describe('test/noSkips.mjs', () => {
  it('fails a run with a skipped test and names it', () => {
    const r = runWithGuard("test('runs', () => {});\ntest('a tool is missing', { skip: 'no chromium' }, () => {});");
    assert.equal(r.status, 1);
    assert.match(r.stderr, /a tool is missing \(no chromium\)/);
  });
  it('passes a run in which nothing skipped', () => {
    assert.equal(runWithGuard("test('runs', () => {});").status, 0);
  });
  it('lets the browser tiers skip when asked by name, and says so', () => {
    const body = "test('webview', { skip: 'MODELFACTORY_SKIP_BROWSER=1 (skipped on request)' }, () => {});";
    const r = runWithGuard(body, { MODELFACTORY_SKIP_BROWSER: '1' });
    assert.equal(r.status, 0);
    assert.match(r.stderr, /MODELFACTORY_SKIP_BROWSER=1: 1 browser test\(s\) skipped on request/);
  });
});
