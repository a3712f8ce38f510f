// `modelfactory stats` as a user runs it: a child process on files it has never seen, with real
// tokenizers laid out as a model folder and as a Hugging Face cache.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { hubCache, modelFolder, RECORDS } from '../dataset/realTokenizers';
import type { FileStats } from '../../cli/statsCommand';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'modelfactory.js');

function run(args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, HF_HUB_CACHE: join(cwd, 'empty-hub-cache'), ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface StatsJson {
  files: FileStats[];
}

const msg = (user: string, assistant: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  });

/** Nearest-rank percentile, computed here from the per-record counts. */
function nearestRank(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

describe('modelfactory stats', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mf-stats-'));
  const qwen = modelFolder('qwen3', join(dir, 'models', 'qwen3'));
  // Every kind of record, then one over the limit and one the contract refuses (an error finding).
  const long = msg('Summarise this.', 'word '.repeat(600));
  const lines = [...RECORDS, long, JSON.stringify({ messages: [{ role: 'user', content: 'No answer.' }] })];
  writeFileSync(join(dir, 'mixed.jsonl'), lines.join('\n') + '\n');

  it('gives exact percentiles, the format mix and accepted records with --tokenizer, as JSON', () => {
    const r = run(['stats', 'mixed.jsonl', '--tokenizer', qwen, '--json', '--records'], dir);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as StatsJson;
    assert.equal(out.files.length, 1);
    const f = out.files[0]!;
    assert.deepEqual(Object.keys(f), ['file', 'formats', 'records', 'accepted', 'tokens', 'records_detail']);
    assert.equal(f.file, 'mixed.jsonl');
    assert.deepEqual(f.formats, { alpaca: 1, sharegpt: 1, messages: 5, text: 1 });
    assert.equal(f.records, 8);
    // Not accepted: the mixed formats (alpaca, sharegpt, text against a messages majority) and the record with no answer.
    assert.equal(f.accepted, 4);
    assert.equal(f.tokens.exact, true);
    assert.equal(f.tokens.tokenizer, join(qwen, 'tokenizer.json'));
    assert.equal(f.tokens.template, `chat_template of ${qwen}`);
    assert.equal(f.tokens.limit, 4096);
    // Every record the trainer would train on has a count; the refused one (line 8) has none.
    const detail = f.records_detail!;
    assert.deepEqual(
      detail.map((d) => d.line),
      [1, 2, 3, 4, 5, 6, 7],
    );
    const counts = detail.map((d) => d.tokens);
    assert.equal(f.tokens.p50, nearestRank(counts, 0.5));
    assert.equal(f.tokens.p90, nearestRank(counts, 0.9));
    assert.equal(f.tokens.max, Math.max(...counts));
    assert.ok(counts[6]! > 600, `the long record: ${counts[6]}`);
    assert.equal(f.tokens.over_limit, 0);
  });

  it('takes the limit, the tokenizer (from the hub cache) and the epochs from --config', () => {
    const { cache } = hubCache('qwen3', 'Qwen/Qwen3-0.6B', join(dir, 'hub'));
    writeFileSync(
      join(dir, 'train.finetune.yaml'),
      [
        'base_model: Qwen/Qwen3-0.6B',
        'method: lora',
        'chat_template: chatml',
        'dataset:',
        '  path: mixed.jsonl',
        'training:',
        '  epochs: 2',
        '  max_seq_length: 512',
      ].join('\n') + '\n',
    );
    const r = run(['stats', '--config', 'train.finetune.yaml', '--json', '--records'], dir, { HF_HUB_CACHE: cache });
    assert.equal(r.code, 0, r.stderr);
    const f = (JSON.parse(r.stdout) as StatsJson).files[0]!;
    assert.equal(f.file, 'mixed.jsonl');
    assert.equal(f.tokens.limit, 512);
    assert.equal(f.tokens.template, 'built-in chatml');
    assert.match(f.tokens.tokenizer, /models--Qwen--Qwen3-0\.6B\/snapshots\/[0-9a-f]+\/tokenizer\.json$/);
    assert.equal(f.tokens.over_limit, 1);
    assert.equal(f.epochs, 2);
    // Trained tokens: the accepted records (lines 1-3 and 7), each up to the limit, over two epochs.
    const byLine = new Map(f.records_detail!.map((d) => [d.line, d.tokens]));
    const accepted = [1, 2, 3, 7].map((l) => Math.min(byLine.get(l)!, 512));
    assert.equal(f.trained_tokens, 2 * accepted.reduce((a, b) => a + b, 0));
  });

  it('counts a .json array with each record at the line where it starts, and says when it estimates', () => {
    const records = [
      { instruction: 'Say hi.', output: 'Hi!' },
      { instruction: 'Say bye.', input: 'politely', output: 'Goodbye, and thank you.' },
    ];
    writeFileSync(join(dir, 'array.json'), JSON.stringify(records, null, 2) + '\n');
    const r = run(['stats', 'array.json', '--tokenizer', qwen, '--json', '--records'], dir);
    assert.equal(r.code, 0, r.stderr);
    const f = (JSON.parse(r.stdout) as StatsJson).files[0]!;
    assert.deepEqual(
      f.records_detail!.map((d) => d.line),
      [2, 6],
    );
    assert.equal(f.tokens.exact, true);

    const estimate = run(['stats', 'array.json'], dir);
    assert.equal(estimate.code, 0, estimate.stderr);
    assert.match(estimate.stdout, /^file\s+records\s+accepted\s+p50\s+p90\s+p99\s+max\s+limit\s+over$/m);
    assert.match(estimate.stdout, /array\.json\s+2\s+2\s+≈\d+/);
    assert.match(estimate.stdout, /tokens: estimated \(no tokenizer found/);
  });

  it('prints a readable table with the tokenizer and template, and exits 2 on usage errors', () => {
    const r = run(['stats', 'mixed.jsonl', '--tokenizer', qwen], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /mixed\.jsonl\s+8\s+4\s+\d+\s+\d+\s+\d+\s+\d+\s+4096\s+0/);
    assert.match(r.stdout, /formats: alpaca 1, sharegpt 1, messages 5, text 1/);
    assert.match(r.stdout, new RegExp(`tokens: exact, tokenizer ${join(qwen, 'tokenizer.json')}`));

    for (const args of [['stats'], ['stats', 'nope.jsonl'], ['stats', 'mixed.jsonl', '--bogus']]) {
      const bad = run(args, dir);
      assert.equal(bad.code, 2, args.join(' '));
      assert.match(bad.stderr, /Usage: modelfactory stats/);
    }
    const missing = run(['stats', 'mixed.jsonl', '--tokenizer', 'acme/no-such-model'], dir);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /no tokenizer\.json found for acme\/no-such-model \(looked for .*models--acme--no-such-model/,
    );
    const help = run(['stats', '--help'], dir);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--records/);
  });
});

describe('modelfactory lint, in the model terms', () => {
  it("reports length/too-long with the exact count against the config's max_seq_length, as stats counts it", () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-lint-tokens-'));
    modelFolder('qwen3', join(dir, 'models', 'qwen3'));
    writeFileSync(join(dir, 'data.jsonl'), [...RECORDS, msg('Summarise this.', 'word '.repeat(300))].join('\n') + '\n');
    writeFileSync(
      join(dir, 'train.finetune.yaml'),
      'base_model: ./models/qwen3\nmethod: lora\ndataset:\n  path: data.jsonl\ntraining:\n  max_seq_length: 128\n',
    );
    const stats = run(['stats', 'data.jsonl', '--config', 'train.finetune.yaml', '--json', '--records'], dir);
    assert.equal(stats.code, 0, stats.stderr);
    const f = (JSON.parse(stats.stdout) as StatsJson).files[0]!;
    const over = f.records_detail!.filter((d) => d.tokens > 128);
    assert.ok(over.length >= 2, JSON.stringify(f.records_detail));
    assert.equal(f.tokens.over_limit, over.length);

    const lint = run(['lint', 'train.finetune.yaml', 'data.jsonl', '--format', 'json'], dir);
    const out = JSON.parse(lint.stdout) as {
      diagnostics: { file: string; line: number; rule: string; message: string }[];
    };
    const tooLong = out.diagnostics.filter((d) => d.rule === 'length/too-long');
    assert.deepEqual(
      tooLong.map((d) => d.line),
      over.map((d) => d.line),
    );
    for (const [i, d] of tooLong.entries()) {
      assert.match(d.message, new RegExp(`^${over[i]!.tokens} tokens, more than the limit of 128`));
    }
    assert.ok(!out.diagnostics.some((d) => d.rule === 'config/tokenizer-not-found'));
  });
});
