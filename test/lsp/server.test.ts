// The real language server process, driven over JSON-RPC: diagnostics, incremental edits, hover,
// completion, code actions, symbols, custom requests, and survival of hostile input.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CodeAction, CompletionItem, Diagnostic, Hover } from 'vscode-languageserver-protocol';
import { byRule, open, ROOT, startServer, type ServerHandle } from './harness';
import { applyEdits } from '../config/helpers';
import { DatasetStatsRequest, MemoryEstimateRequest, ValidateFileRequest } from '../../server/src/protocol';

const record = (user: string, assistant: string, role = 'user') =>
  JSON.stringify({
    messages: [
      { role, content: user },
      { role: 'assistant', content: assistant },
    ],
  });

describe('language server over JSON-RPC', () => {
  let server: ServerHandle;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mf-lsp-'));
    cpSync(join(ROOT, 'samples', 'workspace'), dir, { recursive: true });
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  it('publishes dataset findings with stable rule ids at the right lines', async () => {
    const text = [
      record('How do I cancel a job?', 'Press Cancel on the dashboard.'),
      record('Who do I ask?', 'Write to maria.lopez@acme-corp.com.', 'human'),
      record('How do I cancel a job?', 'Press Cancel on the dashboard.'),
      '{"messages": [',
    ].join('\n');
    const { diagnostics } = await open(server, join(dir, 'scratch.jsonl'), text);
    const rules = byRule(diagnostics);
    assert.deepEqual(rules.get('messages/unknown-role'), [1]);
    assert.deepEqual(rules.get('pii/email'), [1]);
    assert.deepEqual(rules.get('dedup/exact'), [2]);
    assert.deepEqual(rules.get('jsonl/invalid-json'), [3]);
    assert.ok(diagnostics.every((d) => d.source === 'modelfactory'));
  });

  it('applies incremental edits and ends where a fresh validation of the same text ends', async () => {
    const path = join(dir, 'incremental.jsonl');
    const lines = Array.from({ length: 50 }, (_, i) => record(`Question number ${i} about adapters?`, `Answer ${i}.`));
    const { uri } = await open(server, path, lines.join('\n'));
    // Duplicate line 0 at line 10, then break line 20, then fix line 10 again.
    const edits = [
      { line: 10, text: lines[0]! },
      { line: 20, text: '{"messages": 3}' },
      { line: 10, text: record('A brand new question?', 'A brand new answer.') },
    ];
    let version = 1;
    let last: Diagnostic[] = [];
    const current = [...lines];
    for (const e of edits) {
      version++;
      const published = server.diagnostics(uri, version - 1);
      await server.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version },
        contentChanges: [
          {
            range: { start: { line: e.line, character: 0 }, end: { line: e.line, character: current[e.line]!.length } },
            text: e.text,
          },
        ],
      });
      current[e.line] = e.text;
      last = (await published).diagnostics;
    }
    const fresh = await open(server, join(dir, 'fresh.jsonl'), current.join('\n'));
    const key = (d: Diagnostic) =>
      `${d.code}@${d.range.start.line}:${d.range.start.character}-${d.range.end.character}`;
    assert.deepEqual(last.map(key).sort(), fresh.diagnostics.map(key).sort());
    assert.deepEqual(byRule(last).get('schema/wrong-type'), [20]);
    assert.equal(byRule(last).get('dedup/exact'), undefined);
  });

  it('hovers a duplicate with a link to the record it repeats, and fixes it with a code action', async () => {
    const text = [record('Q one?', 'A one.'), record('Q two?', 'A two.'), record('Q one?', 'A one.')].join('\n');
    const { uri, diagnostics } = await open(server, join(dir, 'dups.jsonl'), text);
    const hover = (await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 2, character: 3 },
    })) as Hover;
    assert.match(JSON.stringify(hover.contents), /duplicate of \[line 1\]/i);
    const dup = diagnostics.find((d) => d.code === 'dedup/exact')!;
    const actions = (await server.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: dup.range,
      context: { diagnostics: [dup] },
    })) as CodeAction[];
    const remove = actions.find((a) => /Remove this duplicate/.test(a.title));
    assert.ok(remove, JSON.stringify(actions));
    const fixed = applyEdits(text, remove.edit!.changes![uri]!);
    assert.equal(fixed.split('\n').length, 2);
    const after = await open(server, join(dir, 'dups-fixed.jsonl'), fixed);
    assert.equal(byRule(after.diagnostics).get('dedup/exact'), undefined);
  });

  it('renames a ShareGPT-style role through a quick fix', async () => {
    const text = record('Hello?', 'Hi.', 'human');
    const { uri, diagnostics } = await open(server, join(dir, 'roles.jsonl'), text);
    const d = diagnostics.find((x) => x.code === 'messages/unknown-role')!;
    const actions = (await server.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: d.range,
      context: { diagnostics: [d] },
    })) as CodeAction[];
    const rename = actions.find((a) => a.title.includes("'user'"))!;
    const fixed = applyEdits(text, rename.edit!.changes![uri]!);
    assert.deepEqual(JSON.parse(fixed).messages[0].role, 'user');
  });

  it('lints a fine-tune config, completes target modules of the chosen model, and hovers the memory estimate', async () => {
    const path = join(dir, 'gpt2-mistakes.finetune.yaml');
    const text = (await import('node:fs')).readFileSync(path, 'utf8');
    const { uri, diagnostics } = await open(server, path, text, 'yaml');
    const rules = byRule(diagnostics);
    assert.ok(rules.has('config/target-module'));
    assert.ok(rules.has('config/qlora-requires-quantization'));
    assert.ok(rules.has('config/unknown-key'));
    const line = text.split('\n').findIndex((l) => l.includes('target_modules'));
    const col = text.split('\n')[line]!.indexOf('q_proj');
    const items = (await server.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: { line, character: col },
    })) as CompletionItem[] | { items: CompletionItem[] };
    const labels = (Array.isArray(items) ? items : items.items).map((i) => i.label);
    assert.ok(labels.includes('c_attn'), labels.join(','));
    const llama = join(dir, 'llama-8b.finetune.yaml');
    const llamaText = (await import('node:fs')).readFileSync(llama, 'utf8');
    const opened = await open(server, llama, llamaText, 'yaml');
    const tLine = llamaText.split('\n').findIndex((l) => l.startsWith('training:'));
    const hover = (await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri: opened.uri },
      position: { line: tLine, character: 2 },
    })) as Hover;
    assert.match(JSON.stringify(hover.contents), /GiB/);
    const estimate = (await server.connection.sendRequest(MemoryEstimateRequest, { uri: opened.uri })) as {
      estimate: { totalBytes: number };
    };
    assert.ok(estimate.estimate.totalBytes > 8 * 1024 ** 3 && estimate.estimate.totalBytes < 24 * 1024 ** 3);
    const symbols = (await server.connection.sendRequest('textDocument/documentSymbol', {
      textDocument: { uri: opened.uri },
    })) as { name: string }[];
    assert.ok(symbols.some((s) => s.name === 'training'));
  });

  it('answers a memory estimate for the text of the version asked, even when asked before the change arrives', async () => {
    const text = (await import('node:fs')).readFileSync(join(dir, 'llama-8b.finetune.yaml'), 'utf8');
    const { uri } = await open(server, join(dir, 'race.finetune.yaml'), text, 'yaml');
    const before = (await server.connection.sendRequest(MemoryEstimateRequest, { uri, version: 1 })) as {
      estimate: { loraParameterCount: number };
    };
    const rLine = text.split('\n').findIndex((l) => /^\s+r:\s*\d+/.test(l));
    assert.ok(rLine > 0);
    const r = Number(/r:\s*(\d+)/.exec(text.split('\n')[rLine]!)![1]);
    const lineText = text.split('\n')[rLine]!;
    // The client may send the request before the didChange it has buffered: the answer must wait for it.
    const asked = server.connection.sendRequest(MemoryEstimateRequest, { uri, version: 2 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await server.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [
        {
          range: { start: { line: rLine, character: 0 }, end: { line: rLine, character: lineText.length } },
          text: lineText.replace(/r:\s*\d+/, `r: ${r * 2}`),
        },
      ],
    });
    const after = (await asked) as { estimate: { loraParameterCount: number } };
    assert.equal(after.estimate.loraParameterCount, before.estimate.loraParameterCount * 2);
  });

  it('documents and completes a Datanet manifest from its schema', async () => {
    const path = join(dir, 'assist', 'datanet.yaml');
    mkdirSync(join(dir, 'assist'), { recursive: true });
    const text =
      'name: assist\nformat: \nfiles: ["data/*.jsonl"]\nlimits:\n  max_file_mb: 5\nrules:\n  severity:\n    \n';
    const { uri } = await open(server, path, text, 'yaml');
    const lines = text.split('\n');
    const complete = async (line: number, character: number) => {
      const r = (await server.connection.sendRequest('textDocument/completion', {
        textDocument: { uri },
        position: { line, character },
      })) as CompletionItem[] | { items: CompletionItem[] };
      return (Array.isArray(r) ? r : r.items).map((i) => i.label);
    };
    assert.ok((await complete(1, lines[1]!.length)).includes('messages'));
    const topKeys = await complete(8, 0);
    assert.ok(topKeys.includes('tokenizer') && topKeys.includes('record_schema'), topKeys.join(','));
    assert.ok(!topKeys.includes('name'), 'keys already present are not offered again');
    assert.ok((await complete(7, 4)).includes('pii/email'));
    const hover = (await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 3, character: 2 },
    })) as Hover;
    assert.match(JSON.stringify(hover.contents), /Caps on contributions/);
  });

  it('applies the format that the governing Datanet demands (caps are covered by the CLI tests)', async () => {
    const governed = join(dir, 'support', 'data', 'new.jsonl');
    const text = [JSON.stringify({ instruction: 'Say hi', input: '', output: 'Hi' })].join('\n');
    writeFileSync(governed, text);
    const { diagnostics } = await open(server, governed, text);
    assert.ok(byRule(diagnostics).has('format/mixed'), JSON.stringify(diagnostics));
  });

  it('answers dataset statistics and validates a file from disk by path', async () => {
    const text = [record('a?', 'b.'), record('a?', 'b.'), 'nope'].join('\n');
    const { uri } = await open(server, join(dir, 'stats.jsonl'), text);
    const stats = (await server.connection.sendRequest(DatasetStatsRequest, { uri })) as {
      records: number;
      exactDuplicates: number;
      invalid: number;
    };
    assert.equal(stats.records, 3);
    assert.equal(stats.exactDuplicates, 1);
    assert.equal(stats.invalid, 1);
    const onDisk = join(dir, 'ondisk.jsonl');
    writeFileSync(onDisk, text + '\n');
    const result = (await server.connection.sendRequest(ValidateFileRequest, { path: onDisk })) as {
      findings: { rule: string; line: number }[];
    };
    assert.deepEqual(result.findings.map((f) => `${f.rule}:${f.line}`).sort(), [
      'dedup/exact:1',
      'jsonl/invalid-json:2',
    ]);
  });

  it('survives hostile input: every request answers, the process stays up', async () => {
    const hostile: [string, string, string][] = [
      [
        'bytes.jsonl',
        'jsonl',
        Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)).toString('latin1'),
      ],
      ['long.jsonl', 'jsonl', JSON.stringify({ text: 'x'.repeat(10 * 1024 * 1024) })],
      [
        'bomb.finetune.yaml',
        'yaml',
        'a: &a [x, x, x, x, x, x, x, x, x]\n' +
          Array.from(
            { length: 20 },
            (_, i) =>
              `l${i}: &l${i} [*${i === 0 ? 'a' : 'l' + (i - 1)}, *${i === 0 ? 'a' : 'l' + (i - 1)}, *${i === 0 ? 'a' : 'l' + (i - 1)}]`,
          ).join('\n'),
      ],
      ['trunc.finetune.yaml', 'yaml', 'base_model: gpt2\nlora:\n  target_modules: [c_at'],
      [join('deep', 'datanet.yaml'), 'yaml', 'name: x\nfiles: [[[[[[[[[['],
    ];
    mkdirSync(join(dir, 'deep'), { recursive: true });
    for (const [name, lang, text] of hostile) {
      const { uri } = await open(server, join(dir, name), text, lang);
      for (const [method, params] of [
        ['textDocument/hover', { textDocument: { uri }, position: { line: 0, character: 5 } }],
        ['textDocument/completion', { textDocument: { uri }, position: { line: 0, character: 5 } }],
        ['textDocument/documentSymbol', { textDocument: { uri } }],
        [
          'textDocument/codeAction',
          {
            textDocument: { uri },
            range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } },
            context: { diagnostics: [] },
          },
        ],
      ] as const) {
        await server.connection.sendRequest(method, params);
      }
    }
    assert.equal(server.process.exitCode, null, server.stderr());
    assert.doesNotMatch(server.stderr(), /Uncaught|Unhandled/);
  });
});
