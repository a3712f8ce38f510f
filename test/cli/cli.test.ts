// `modelfactory` as a user runs it: a child process on files it has never seen.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, createWriteStream, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import type { FileReport } from '../../cli/format';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'modelfactory.js');

function run(args: string[], cwd = ROOT) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface JsonOut {
  diagnostics: {
    file: string;
    line: number;
    column: number;
    endLine: number;
    endColumn: number;
    severity: string;
    rule: string;
    message: string;
  }[];
  summary: { files: number; errors: number; warnings: number; records: number; acceptedRecords: number };
  files: FileReport[];
  skipped: { file: string; reason: string }[];
}

const FIXTURES = join(ROOT, 'test', 'fixtures', 'datasets');

const msg = (user: string, assistant: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  });

describe('modelfactory lint', () => {
  it('prints metadata-column hints only with --hints, and counts them either way', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-hints-'));
    const record = JSON.parse(msg('What is a Datanet?', 'A curated dataset with rules.')) as object;
    writeFileSync(join(dir, 'meta.jsonl'), JSON.stringify({ source: 'web', ...record }) + '\n');
    const plain = run(['lint', 'meta.jsonl'], dir);
    assert.equal(plain.code, 0);
    assert.doesNotMatch(plain.stdout, /schema\/extra-field/);
    assert.match(plain.stdout, /0 warnings, 1 hint \(--hints lists them\)/);
    const shown = run(['lint', 'meta.jsonl', '--hints'], dir);
    assert.match(
      shown.stdout,
      /meta\.jsonl:1:2: hint schema\/extra-field: 'source' is not a field of Messages records/,
    );
    assert.doesNotMatch(shown.stdout, /--hints lists them/);
    const json = JSON.parse(run(['lint', 'meta.jsonl', '--format', 'json'], dir).stdout) as JsonOut;
    assert.deepEqual(
      json.diagnostics.map((d) => `${d.rule} ${d.severity}`),
      ['schema/extra-field hint'],
    );
  });

  it('finds planted defects with the right rule ids at the right lines, and nothing else', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-'));
    const lines = [
      msg('What is a Datanet?', 'A curated dataset with rules.'), // 1 clean
      msg('Where do I start?', 'Open the sample workspace.'), // 2 clean
      '', // 3 blank
      msg('What is a Datanet?', 'A curated dataset with rules.'), // 4 exact duplicate of 1
      JSON.stringify({
        messages: [
          { role: 'user', content: 'Key?' },
          { role: 'assistant', content: 'AKIAZ7Q2M4K6R3T5W3XY is ours' },
        ],
      }), // 5 secret
      JSON.stringify({ messages: [{ role: 'bot', content: 'Hi' }] }), // 6 unknown role (bot means assistant) and a conversation that starts with it
      '{"messages": [}', // 7 invalid JSON
      msg('Release 1.2.3.4 on 2024-01-15, see https://example.org/a@b?', 'Use @decorator and order 123456789012.'), // 8 clean (no false alarms)
    ];
    writeFileSync(join(dir, 'contrib.jsonl'), lines.join('\n') + '\n');
    const r = run(['lint', dir, '--format', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as JsonOut;
    const got = out.diagnostics.map((d) => `${d.line}:${d.rule}`).sort();
    assert.deepEqual(got, [
      '3:jsonl/blank-line',
      '4:dedup/exact',
      '5:secret/api-key',
      '6:messages/role-order',
      '6:messages/unknown-role',
      '7:jsonl/invalid-json',
    ]);
    const secret = out.diagnostics.find((d) => d.rule === 'secret/api-key')!;
    assert.equal(lines[4]!.slice(secret.column - 1, secret.endColumn - 1), 'AKIAZ7Q2M4K6R3T5W3XY');
    assert.equal(out.summary.records, 7);
  });

  it('passes clean data and a valid config with exit 0 and no findings', () => {
    const r = run([
      'lint',
      'samples/workspace/support/data/train.jsonl',
      'samples/workspace/tiny.finetune.yaml',
      'samples/workspace/llama-8b.finetune.yaml',
      '--format',
      'json',
    ]);
    const out = JSON.parse(r.stdout) as JsonOut;
    assert.deepEqual(out.diagnostics, []);
    assert.equal(r.code, 0);
    assert.equal(out.summary.acceptedRecords, out.summary.records);
  });

  it('prints text lines with 1-based positions and a summary; SARIF for code scanning', () => {
    const r = run(['lint', 'samples/workspace']);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /gpt2-mistakes\.finetune\.yaml:10:20: error config\/target-module: /);
    assert.match(r.stdout, /records would be accepted/);
    const sarif = JSON.parse(run(['lint', 'samples/workspace', '--format', 'sarif']).stdout);
    assert.equal(sarif.version, '2.1.0');
    const results = sarif.runs[0].results as { ruleId: string; level: string }[];
    assert.ok(results.some((x) => x.ruleId === 'pii/email' && x.level === 'error'));
    const ruleIds = (sarif.runs[0].tool.driver.rules as { id: string }[]).map((x) => x.id);
    assert.ok(results.every((x) => ruleIds.includes(x.ruleId)));
  });

  it('lets --rule change a severity or silence a rule', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-'));
    writeFileSync(join(dir, 'a.jsonl'), [msg('q?', 'a.'), msg('q?', 'a.')].join('\n'));
    assert.equal(run(['lint', dir, '--rule', 'dedup/exact=error']).code, 1);
    const off = run(['lint', dir, '--rule', 'dedup/*=off', '--format', 'json']);
    assert.equal(off.code, 0);
    assert.deepEqual((JSON.parse(off.stdout) as JsonOut).diagnostics, []);
  });

  it('enforces a Datanet: format, file size cap and daily file cap', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-'));
    mkdirSync(join(dir, 'data'));
    writeFileSync(
      join(dir, 'datanet.yaml'),
      'name: caps\nformat: messages\nfiles: ["data/*.jsonl"]\nlimits:\n  max_file_mb: 0.0002\n  daily_files: 1\n',
    );
    writeFileSync(join(dir, 'data', 'a.jsonl'), msg('Short question?', 'Short answer.') + '\n');
    writeFileSync(
      join(dir, 'data', 'b.jsonl'),
      [
        msg(
          'A longer question that makes this file larger than two hundred bytes?',
          'And a long answer too, to pass the cap.',
        ),
        JSON.stringify({ text: 'plain' }),
      ].join('\n'),
    );
    const out = JSON.parse(run(['lint', dir, '--format', 'json']).stdout) as JsonOut;
    const got = out.diagnostics.map((d) => `${d.file.split('/').pop()}:${d.rule}`).sort();
    assert.deepEqual(got, [
      'a.jsonl:datanet/daily-files',
      'b.jsonl:datanet/daily-files',
      'b.jsonl:datanet/file-too-large',
      'b.jsonl:format/mixed',
    ]);
  });

  it('reports a broken manifest with its own rule id', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-'));
    writeFileSync(join(dir, 'datanet.yaml'), 'name: Bad Name\nfiles: data/*.jsonl\nlimit:\n  max_file_mb: 1\n');
    const out = JSON.parse(run(['lint', dir, '--format', 'json']).stdout) as JsonOut;
    assert.ok(out.diagnostics.length >= 3, JSON.stringify(out.diagnostics));
    assert.ok(out.diagnostics.every((d) => d.rule === 'datanet/manifest'));
    assert.ok(out.diagnostics.some((d) => /Did you mean "limits"/.test(d.message)));
  });

  it('exits 2 on usage errors', () => {
    assert.equal(run(['lint', '--format', 'xml']).code, 2);
    assert.equal(run(['lint', 'no/such/path']).code, 2);
    assert.equal(run(['frobnicate']).code, 2);
    assert.equal(run(['lint', '--bogus']).code, 2);
  });

  it('refuses an unknown --rule id as a usage error that names the closest id', () => {
    const r = run(['lint', 'samples/workspace', '--rule', 'pii/emial=off']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown rule id 'pii\/emial' \(did you mean 'pii\/email'\?\)/);
    const family = run(['lint', 'samples/workspace', '--rule', 'dedupe/*=off']);
    assert.equal(family.code, 2);
    assert.match(family.stderr, /did you mean 'dedup\/\*'/);
  });

  it('ends quietly when the reading end of its output pipe closes', () => {
    // `| head -1` as a shell runs it: the reader takes one line and goes away mid-stream.
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-pipe-'));
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ text: `row ${i % 50}` }));
    writeFileSync(join(dir, 'dups.jsonl'), lines.join('\n'));
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${process.execPath}" "${BIN}" lint dups.jsonl | head -1`], {
      cwd: dir,
      encoding: 'utf8',
    });
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 1, r.stdout);
    assert.equal(r.stderr, '', 'no stack trace, nothing on stderr');
    assert.equal(r.status, 141, 'the status a shell reports for a program whose reader went away');
  });
});

describe('modelfactory lint: formats per file, .json datasets found by content', () => {
  /** A folder with a mixed JSONL file, a JSON array dataset, and JSON files that are not datasets. */
  function workspace(): string {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-files-'));
    mkdirSync(join(dir, 'data'));
    writeFileSync(
      join(dir, 'data', 'train.jsonl'),
      [
        msg('What is a Datanet?', 'A curated dataset with rules.'),
        msg('Where do I start?', 'Open the sample workspace.'),
        msg('How do I train?', 'Press Train in the editor title.'),
        JSON.stringify({
          conversations: [
            { from: 'human', value: 'Hi' },
            { from: 'gpt', value: 'Hello!' },
          ],
        }),
        "{'messages': [{'role': 'user', 'content': 'hi'}]}",
      ].join('\n') + '\n',
    );
    copyFileSync(join(FIXTURES, 'identity-placeholders.json'), join(dir, 'data', 'identity.json'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0' }));
    writeFileSync(join(dir, 'data', 'labels.json'), '["cat", "dog"]');
    writeFileSync(join(dir, 'data', 'rows.json'), '[{"question": "q", "answer": "a"}]');
    return dir;
  }

  it('JSON output: a files entry per dataset with its formats, the skipped .json files, the old keys kept', () => {
    const dir = workspace();
    const r = run(['lint', '.', '--format', 'json'], dir);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stderr, '', 'JSON output says nothing on stderr');
    const out = JSON.parse(r.stdout) as JsonOut;
    assert.deepEqual(Object.keys(out), ['diagnostics', 'summary', 'files', 'skipped']);
    assert.deepEqual(out.files, [
      {
        file: 'data/identity.json',
        formats: { alpaca: 4 },
        records: 4,
        accepted: 4,
        invalid: 0,
        unknownFormat: 0,
      },
      {
        file: 'data/train.jsonl',
        formats: { messages: 3, sharegpt: 1 },
        records: 5,
        accepted: 3,
        invalid: 1,
        unknownFormat: 0,
      },
    ]);
    assert.deepEqual(out.skipped, [
      { file: 'data/labels.json', reason: 'an array of strings, not of records' },
      { file: 'data/rows.json', reason: 'its first records match no known record format (keys: question, answer)' },
      { file: 'package.json', reason: 'an object, not an array of records' },
    ]);
    assert.equal(out.summary.files, 2);
    assert.equal(out.summary.records, 9);
    // The .json dataset found by content is linted like any other: its placeholders are reported.
    const placeholders = out.diagnostics.filter((d) => d.rule === 'content/placeholder');
    assert.equal(placeholders.length, 5);
    assert.ok(placeholders.every((d) => d.file === 'data/identity.json' && d.severity === 'warning'));
    const python = out.diagnostics.find((d) => d.file === 'data/train.jsonl' && d.rule === 'jsonl/invalid-json')!;
    assert.equal(python.line, 5);
    assert.match(python.message, /Python dict repr \(single quotes\), not JSON/);
  });

  it('text output: one line per dataset file naming its formats; the skipped files on stderr with the reason', () => {
    const dir = workspace();
    const r = run(['lint', '.'], dir);
    assert.equal(r.code, 1);
    const lines = r.stdout.split('\n');
    assert.ok(lines.includes('data/identity.json: 4 records (alpaca 4), 4 accepted'), r.stdout);
    assert.ok(
      lines.includes('data/train.jsonl: 5 records (messages 3, sharegpt 1, invalid JSON 1), 3 accepted'),
      r.stdout,
    );
    // The file's line follows its findings (format/mixed, which needs the whole file, comes last).
    const last = lines.map((l) => /^data\/train\.jsonl:\d+:\d+: /.test(l)).lastIndexOf(true);
    assert.equal(lines[last + 1], 'data/train.jsonl: 5 records (messages 3, sharegpt 1, invalid JSON 1), 3 accepted');
    assert.deepEqual(r.stderr.split('\n').filter(Boolean).sort(), [
      'data/labels.json: not a dataset (an array of strings, not of records)',
      'data/rows.json: not a dataset (its first records match no known record format (keys: question, answer))',
      'package.json: not a dataset (an object, not an array of records)',
    ]);
    assert.match(lines.at(-2)!, /^2 files checked, 2 errors, 5 warnings, 7\/9 records would be accepted/);
    // --quiet: errors only, no per-file lines, no notes.
    const quiet = run(['lint', '.', '--quiet'], dir);
    assert.equal(quiet.stderr, '');
    assert.ok(!quiet.stdout.includes('records (alpaca'), quiet.stdout);
  });

  it('lints a named .json file whatever it holds, and explains a folder with nothing to check', () => {
    const dir = workspace();
    const named = JSON.parse(run(['lint', 'package.json', '--format', 'json'], dir).stdout) as JsonOut;
    assert.deepEqual(
      named.diagnostics.map((d) => d.rule),
      ['jsonl/invalid-json'],
    );
    const empty = mkdtempSync(join(tmpdir(), 'mf-cli-empty-'));
    writeFileSync(join(empty, 'tsconfig.json'), '{"compilerOptions": {}}');
    const r = run(['lint', '.'], empty);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /tsconfig\.json: not a dataset \(an object, not an array of records\)/);
    assert.match(
      r.stderr,
      /no datasets, Datanet manifests or fine-tune configs found in \. \(1 \.json file skipped: not datasets\)/,
    );
  });

  it('a .json dataset with a syntax error is still found by content, and its error reported', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-broken-'));
    writeFileSync(join(dir, 'broken.json'), '[\n  {"text": "one"},\n  {"text": "two"}\n  {"text": "three"}\n]\n');
    const out = JSON.parse(run(['lint', '.', '--format', 'json'], dir).stdout) as JsonOut;
    assert.deepEqual(out.skipped, []);
    assert.deepEqual(
      out.files.map((f) => f.file),
      ['broken.json'],
    );
    assert.ok(out.diagnostics.some((d) => d.rule === 'jsonl/invalid-json' && d.line === 4));
  });
});

describe('modelfactory COMMAND --help', () => {
  for (const command of ['lint', 'estimate', 'rules']) {
    for (const flag of ['--help', '-h']) {
      it(`${command} ${flag} prints the command's usage and exits 0`, () => {
        const r = run([command, flag]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^Usage: modelfactory ${command} `));
        assert.equal(r.stderr, '');
      });
    }
  }
  it('the top-level --help lists every command', () => {
    const r = run(['--help']);
    assert.equal(r.code, 0);
    for (const command of ['lint', 'estimate', 'rules']) assert.match(r.stdout, new RegExp(`modelfactory ${command} `));
  });

  it('streams a large generated file from disk and finds a defect near its end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-cli-big-'));
    const path = join(dir, 'big.jsonl');
    const out = createWriteStream(path);
    const n = 60_000;
    for (let i = 0; i < n; i++) {
      const line =
        i === n - 3
          ? '{"messages": oops}'
          : msg(
              `Question ${i}: how does step ${i * 7} of the pipeline work?`,
              `Step ${i * 7} ${'reads, checks and writes records. '.repeat(3)}${i}`,
            );
      if (!out.write(line + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((r) => out.end(() => r()));
    const r = run(['lint', path, '--format', 'json']);
    const res = JSON.parse(r.stdout) as JsonOut;
    assert.equal(res.summary.records, n);
    assert.deepEqual(
      res.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.rule}`),
      [`${n - 2}:jsonl/invalid-json`],
    );
  });
});

describe('modelfactory estimate', () => {
  it('prints the memory estimate of a config as JSON', () => {
    const r = run(['estimate', 'samples/workspace/llama-8b.finetune.yaml', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { estimate: { totalBytes: number; parts: Record<string, number> } };
    const gib = out.estimate.totalBytes / 1024 ** 3;
    assert.ok(gib > 8 && gib < 24, `QLoRA 8B estimate ${gib} GiB`);
    assert.ok(out.estimate.parts['weights']! / 1024 ** 3 < 7, 'QLoRA keeps the 8B weights near 4 bits');
  });
});
