// Token counts in the editor, through the real language server: with a tokenizer on disk, hovers give
// the record's exact count in the model's terms (rendered with its chat template), the statistics'
// percentiles are exact and follow edits, and a tokenizer the Datanet names but the disk lacks is a
// diagnostic on the manifest that says where it looked.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hover } from 'vscode-languageserver-protocol';
import { templateSetFor } from '../../server/src/core/chatTemplate';
import { countRecordText, ExampleTokenCounter } from '../../server/src/core/dataset/exampleTokens';
import { loadTokenCounter } from '../../server/src/core/tokenizer';
import { nodeEnvironment } from '../../server/src/nodeFs';
import { modelFolder, RECORDS } from '../dataset/realTokenizers';
import { byRule, open, startServer, type ServerHandle } from './harness';
import { DatasetStatsRequest } from '../../server/src/protocol';

interface StatsReply {
  records: number;
  tokenizer: string;
  limit: number;
  overLimit?: number;
  tokens: { p50: number; p90: number; p99: number; max: number; exact: boolean };
}

describe('token counts in the language server', () => {
  let server: ServerHandle;
  let dir: string;
  let model: string;
  let counter: ExampleTokenCounter;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mf-lsp-tokens-'));
    model = modelFolder('qwen3', join(dir, 'models', 'qwen3'));
    writeFileSync(
      join(dir, 'datanet.yaml'),
      [
        'name: tokens',
        "files: ['data/**/*.jsonl', 'data/**/*.json']",
        'tokenizer: ./models/qwen3',
        'rules:',
        '  max_tokens: 300',
      ].join('\n') + '\n',
    );
    const env = nodeEnvironment();
    const tokenizer = (await loadTokenCounter(model, dir, env))!;
    counter = new ExampleTokenCounter(tokenizer, await templateSetFor(tokenizer, undefined, env));
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  it('hovers a record with its exact count, rendered with the chat template, and keeps exact statistics', async () => {
    const lines = [...RECORDS];
    const { uri } = await open(server, join(dir, 'data', 'train.jsonl'), lines.join('\n'));
    const expected = lines.map((l) => countRecordText(l, counter)!.tokens);
    const hover = (await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: 1, character: 3 },
    })) as Hover;
    const text = JSON.stringify(hover.contents);
    assert.match(
      text,
      new RegExp(`${expected[1]} tokens \\(${join(model, 'tokenizer.json')}, rendered with chat_template of`),
    );
    assert.doesNotMatch(text, /no tokenizer found|≈/);

    const stats = (await server.connection.sendRequest(DatasetStatsRequest, { uri })) as StatsReply;
    assert.equal(stats.tokens.exact, true);
    assert.equal(stats.tokens.max, Math.max(...expected));
    assert.equal(stats.limit, 300);
    assert.equal(stats.overLimit, expected.filter((n) => n > 300).length);

    // An edit re-counts that line: a longer record raises the maximum and goes over the limit.
    const longer = JSON.stringify({ text: 'A far longer text record, repeated. '.repeat(60) });
    const published = server.diagnostics(uri, 1);
    await server.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [
        { range: { start: { line: 0, character: 0 }, end: { line: 0, character: lines[0]!.length } }, text: longer },
      ],
    });
    const { diagnostics } = await published;
    assert.deepEqual(byRule(diagnostics).get('length/too-long'), [0]);
    const after = (await server.connection.sendRequest(DatasetStatsRequest, { uri })) as StatsReply;
    assert.equal(after.tokens.max, countRecordText(longer, counter)!.tokens);
    assert.equal(after.overLimit, 1 + expected.slice(1).filter((n) => n > 300).length);
  });

  it('counts the records of a .json array exactly, in its hover and its statistics', async () => {
    const records = [JSON.parse(RECORDS[3]!) as object, JSON.parse(RECORDS[1]!) as object];
    const text = JSON.stringify(records, null, 2) + '\n';
    const { uri } = await open(server, join(dir, 'data', 'array.json'), text, 'json');
    const expected = records.map((r) => countRecordText(JSON.stringify(r, null, 2), counter)!.tokens);
    const second = text.split('\n').findIndex((l, i) => i > 1 && l === '  {');
    const hover = (await server.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: { line: second + 2, character: 4 },
    })) as Hover;
    assert.match(JSON.stringify(hover.contents), new RegExp(`Record 2 .*${expected[1]} tokens \\(`));
    assert.doesNotMatch(JSON.stringify(hover.contents), /≈|no tokenizer found/);
    const stats = (await server.connection.sendRequest(DatasetStatsRequest, { uri })) as StatsReply;
    assert.equal(stats.tokens.exact, true);
    assert.equal(stats.tokens.max, Math.max(...expected));
    assert.equal(stats.limit, 300);
  });

  it('says on the manifest where it looked for a tokenizer that is not on disk', async () => {
    const sub = join(dir, 'other');
    const text = ['name: other', "files: ['*.jsonl']", 'tokenizer: acme/not-downloaded'].join('\n') + '\n';
    const { diagnostics } = await open(server, join(sub, 'datanet.yaml'), text, 'yaml');
    const found = diagnostics.filter((d) => d.code === 'datanet/tokenizer-not-found');
    assert.equal(found.length, 1);
    assert.equal(found[0]!.range.start.line, 2);
    const message = found[0]!.message;
    assert.match(
      typeof message === 'string' ? message : message.value,
      /No tokenizer\.json found for 'acme\/not-downloaded' \(looked for .*acme\/not-downloaded\/tokenizer\.json and .*models--acme--not-downloaded/,
    );
  });
});
