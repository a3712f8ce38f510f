// `modelfactory lint --jobs`: a file above the parallel threshold linted with worker threads prints
// exactly what --jobs 1 prints (the built CLI, as a user runs it; npm run build first).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { PARALLEL_MIN_BYTES } from '../../server/src/parallel/lintFile';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'modelfactory.js');

function lint(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'lint', ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Just over the threshold: varied records with a defect every so often, CRLF on a few lines. */
function writeLargeFile(path: string): void {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size < PARALLEL_MIN_BYTES + 1024 * 1024; i++) {
    let line: string;
    if (i % 997 === 13) line = '{"messages": [}';
    else if (i % 1499 === 7) line = lines[i - 5] ?? '';
    else {
      const extra = i % 701 === 3 ? ' Mail me at someone@acme-corp.org.' : '';
      line = JSON.stringify({
        messages: [
          { role: 'user', content: `Question ${i}: how does step ${(i * 7919) % 10007} of the pipeline work?` },
          {
            role: 'assistant',
            content: `Step ${i} ${'reads, checks and writes records. '.repeat(1 + (i % 5))}${extra}`,
          },
        ],
      });
    }
    lines.push(line);
    size += line.length + 1;
  }
  writeFileSync(path, lines.map((l, i) => l + (i % 5003 === 11 ? '\r\n' : '\n')).join(''));
}

describe('modelfactory lint --jobs', () => {
  it('prints the same diagnostics and summary with worker threads as with --jobs 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-jobs-'));
    const path = join(dir, 'large.jsonl');
    writeLargeFile(path);
    const one = lint([path, '--format', 'json', '--jobs', '1']);
    const three = lint([path, '--format', 'json', '--jobs=3']);
    assert.equal(one.code, 1, one.stderr);
    assert.equal(three.code, 1, three.stderr);
    const parse = (out: string) => {
      const json = JSON.parse(out) as { diagnostics: unknown[]; summary: Record<string, unknown> };
      delete json.summary['seconds'];
      return json;
    };
    const a = parse(one.stdout);
    assert.ok(a.diagnostics.length > 10);
    assert.deepEqual(parse(three.stdout), a);
  });

  it('refuses a job count that is not a whole number of at least 1', () => {
    for (const bad of ['0', '-2', 'two', '1.5']) {
      const r = lint(['samples', '--jobs', bad]);
      assert.equal(r.code, 2, bad);
      assert.match(r.stderr, /--jobs/);
    }
  });
});
