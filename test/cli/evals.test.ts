// `modelfactory lint` on golden-prompt files (*.evals.yaml): the same evals/schema checks as the editor,
// on a file named and in a folder walk, with exit 1 on an error and 0 on a clean file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'modelfactory.js');

function lint(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, 'lint', '--format', 'json', '--no-progress', ...args], {
    encoding: 'utf8',
  });
  return {
    status: r.status,
    report: JSON.parse(r.stdout) as { diagnostics: { file: string; rule: string; line: number; message: string }[] },
  };
}

describe('modelfactory lint: *.evals.yaml', () => {
  it('checks the schema, the config it names and unique names, in a folder walk too', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-evals-'));
    writeFileSync(join(dir, 'tiny.finetune.yaml'), 'base_model: builtin:tiny-llama\ndataset: {path: train.jsonl}\n');
    writeFileSync(
      join(dir, 'good.evals.yaml'),
      'config: tiny.finetune.yaml\nprompts:\n  - name: a\n    prompt: hi\n    expect: {contains: [x]}\n',
    );
    writeFileSync(
      join(dir, 'bad.evals.yaml'),
      'config: gone.finetune.yaml\nprompts:\n  - name: a\n    prompt: hi\n    expect: {contains: [x]}\n  - name: a\n    prompt: again\n    expect: {max_token: 3}\n',
    );
    const good = lint(join(dir, 'good.evals.yaml'));
    assert.equal(good.status, 0, JSON.stringify(good.report));
    assert.deepEqual(good.report.diagnostics, []);
    const bad = lint(join(dir, 'bad.evals.yaml'));
    assert.equal(bad.status, 1);
    assert.deepEqual(
      bad.report.diagnostics.map((d) => [d.rule, d.line]),
      [['evals/schema', 8]],
      'a schema error first; the config and names are checked once the schema holds',
    );
    assert.match(bad.report.diagnostics[0]!.message, /Did you mean "max_tokens"/);
    writeFileSync(
      join(dir, 'bad.evals.yaml'),
      'config: gone.finetune.yaml\nprompts:\n  - name: a\n    prompt: hi\n    expect: {contains: [x]}\n  - name: a\n    prompt: again\n    expect: {max_tokens: 3}\n',
    );
    const walked = lint(dir);
    assert.equal(walked.status, 1);
    assert.deepEqual(
      walked.report.diagnostics
        .filter((d) => d.file.endsWith('.evals.yaml'))
        .map((d) => [d.file.endsWith('bad.evals.yaml'), d.rule, d.line]),
      [
        [true, 'evals/schema', 1],
        [true, 'evals/schema', 6],
      ],
      'the walk finds both evals files; only the bad one has findings',
    );
  });
});
