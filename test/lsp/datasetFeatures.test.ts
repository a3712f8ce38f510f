// The real language server on the newer dataset features: `.json` array datasets with the hover,
// statistics and quick fixes JSONL has (per element, not per line), the Python-literal quick fix and
// content/placeholder diagnostics on their exact ranges.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CodeAction, Diagnostic, Hover, Range } from 'vscode-languageserver-protocol';
import { byRule, open, ROOT, startServer, type ServerHandle } from './harness';
import { applyEdits } from '../config/helpers';
import { DatasetStatsRequest } from '../../server/src/protocol';

function covered(text: string, range: Range): string {
  const lines = text.split('\n');
  assert.equal(range.start.line, range.end.line);
  return lines[range.start.line]!.slice(range.start.character, range.end.character);
}

const message = (role: string, content: string) => ({ role, content });

/** A `.json` array of three messages records: the third repeats the first, the second says 'human'. */
const ARRAY_TEXT =
  JSON.stringify(
    [
      { messages: [message('user', 'How do I cancel a job?'), message('assistant', 'Press Cancel on the dashboard.')] },
      { messages: [message('human', 'Who are you?'), message('assistant', 'I am {{name}}, made by {{author}}.')] },
      { messages: [message('user', 'How do I cancel a job?'), message('assistant', 'Press Cancel on the dashboard.')] },
    ],
    null,
    2,
  ) + '\n';

describe('language server: .json array datasets, Python literals, placeholders', () => {
  let server: ServerHandle;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mf-lsp-features-'));
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  async function actionsFor(uri: string, d: Diagnostic, only?: string[]): Promise<CodeAction[]> {
    return (await server.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: d.range,
      context: { diagnostics: [d], ...(only ? { only } : {}) },
    })) as CodeAction[];
  }

  it('a .json array gets per-element hover: format, tokens, and the record it repeats', async () => {
    const { uri, diagnostics } = await open(server, join(dir, 'chat.json'), ARRAY_TEXT, 'json');
    const rules = byRule(diagnostics);
    const lines = ARRAY_TEXT.split('\n');
    const thirdStart = lines.lastIndexOf('  {');
    assert.deepEqual(rules.get('dedup/exact'), [thirdStart]);
    assert.ok(rules.get('messages/unknown-role'));
    const placeholders = diagnostics.filter((d) => d.code === 'content/placeholder');
    assert.deepEqual(
      placeholders.map((d) => covered(ARRAY_TEXT, d.range)),
      ['{{name}}', '{{author}}'],
    );

    // Hovering inside the third element (on its assistant's text, lines below its start).
    const inside = lines.findIndex((l, i) => i > thirdStart && l.includes('Press Cancel'));
    const hover = (await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: inside, character: 10 },
    })) as Hover;
    const text = JSON.stringify(hover.contents);
    assert.match(text, new RegExp(`Record 3 \\(line ${thirdStart + 1}\\)`));
    assert.match(text, /Messages/);
    assert.match(text, /tokens/);
    assert.match(
      text,
      new RegExp(`Exact duplicate of \\[record 1\\]\\(${uri.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}#L2\\)`),
    );
    assert.equal(hover.range!.start.line, thirdStart);
    // Between elements, on the array's own bracket: no record, no hover.
    const none = await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 0, character: 0 },
    });
    assert.equal(none, null);
  });

  it('a .json array answers modelfactory/datasetStats', async () => {
    const { uri } = await open(server, join(dir, 'stats.json'), ARRAY_TEXT, 'json');
    const stats = (await server.connection.sendRequest(DatasetStatsRequest, { uri })) as {
      records: number;
      exactDuplicates: number;
      formats: Record<string, number>;
      majorityFormat: string;
      tokenizer: string;
      findingsByRule: Record<string, number>;
    };
    assert.equal(stats.records, 3);
    assert.equal(stats.exactDuplicates, 1);
    assert.equal(stats.formats['messages'], 3);
    assert.equal(stats.majorityFormat, 'messages');
    assert.equal(typeof stats.tokenizer, 'string');
    assert.equal(stats.findingsByRule['content/placeholder'], 2);
  });

  it('a .json array gets the quick fixes: remove a duplicate element, remove all, rename a role', async () => {
    const { uri, diagnostics } = await open(server, join(dir, 'fix.json'), ARRAY_TEXT, 'json');
    const dup = diagnostics.find((d) => d.code === 'dedup/exact')!;
    const remove = (await actionsFor(uri, dup)).find((a) => /Remove this duplicate of record 1/.test(a.title));
    assert.ok(remove);
    const removed = applyEdits(ARRAY_TEXT, remove.edit!.changes![uri]!);
    const parsed = JSON.parse(removed) as unknown[];
    assert.equal(parsed.length, 2, removed);
    assert.deepEqual(parsed, (JSON.parse(ARRAY_TEXT) as unknown[]).slice(0, 2));
    const again = await open(server, join(dir, 'fix-after.json'), removed, 'json');
    assert.equal(byRule(again.diagnostics).get('dedup/exact'), undefined);

    const fixAll = await actionsFor(uri, dup, ['source.fixAll']);
    assert.equal(fixAll.length, 1);
    assert.match(fixAll[0]!.title, /Remove all 1 exact duplicate record/);
    assert.deepEqual(JSON.parse(applyEdits(ARRAY_TEXT, fixAll[0]!.edit!.changes![uri]!)), parsed);

    const role = diagnostics.find((d) => d.code === 'messages/unknown-role')!;
    const rename = (await actionsFor(uri, role)).find((a) => a.title === "Rename 'human' to 'user'");
    assert.ok(rename);
    const renamed = JSON.parse(applyEdits(ARRAY_TEXT, rename.edit!.changes![uri]!)) as {
      messages: { role: string }[];
    }[];
    assert.equal(renamed[1]!.messages[0]!.role, 'user');
  });

  it('a .json file that is not a dataset gets no diagnostics, no hover and no statistics', async () => {
    const text = JSON.stringify({ name: 'x', version: '1.0.0', scripts: { test: 'echo {{name}}' } }, null, 2);
    const { uri, diagnostics } = await open(server, join(dir, 'package.json'), text, 'json');
    assert.deepEqual(diagnostics, []);
    const hover = await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 1, character: 4 },
    });
    assert.equal(hover, null);
    assert.equal(await server.connection.sendRequest(DatasetStatsRequest, { uri }), null);
  });

  it('names a Python dict repr on a JSONL line and converts it with a quick fix', async () => {
    const lines = readFileSync(join(ROOT, 'test', 'fixtures', 'datasets', 'python-repr.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean);
    const text = lines.slice(3, 5).join('\n') + '\n';
    const { uri, diagnostics } = await open(server, join(dir, 'python.jsonl'), text);
    const invalid = diagnostics.filter((d) => d.code === 'jsonl/invalid-json');
    assert.deepEqual(
      invalid.map((d) => d.range.start.line),
      [0, 1],
    );
    assert.match(String(invalid[0]!.message), /Python dict repr \(single quotes, True\/False\/None\), not JSON/);
    const convert = (await actionsFor(uri, invalid[1]!)).find((a) => a.title === 'Convert this Python literal to JSON');
    assert.ok(convert);
    assert.equal(convert.isPreferred, true);
    const fixed = applyEdits(text, convert.edit!.changes![uri]!);
    const expected = readFileSync(join(ROOT, 'test', 'fixtures', 'datasets', 'python-repr.expected.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean);
    assert.equal(fixed.split('\n')[1], expected[4]);
    assert.equal(fixed.split('\n')[0], lines[3], 'the other line is left alone');
    const after = await open(server, join(dir, 'python-fixed.jsonl'), fixed);
    assert.deepEqual(byRule(after.diagnostics).get('jsonl/invalid-json'), [0]);
  });

  it('publishes content/placeholder on the placeholder in a JSONL file', async () => {
    const text = JSON.stringify({ instruction: 'hi', input: '', output: 'Hello! I am {{name}}, by [INSERT NAME].' });
    const { diagnostics } = await open(server, join(dir, 'identity.jsonl'), text);
    const found = diagnostics.filter((d) => d.code === 'content/placeholder');
    assert.deepEqual(
      found.map((d) => covered(text, d.range)),
      ['{{name}}', '[INSERT NAME]'],
    );
    assert.ok(found.every((d) => d.severity === 2 && /never filled in/.test(String(d.message))));
  });
});
