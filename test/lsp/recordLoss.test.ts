// The real language server reading a run's record-loss.jsonl (the trainer's record_loss.py writes it):
// hover on a dataset line, the hardest 1% as dataset/hard-record information, and nothing on a line that
// changed since the run.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Diagnostic, Hover } from 'vscode-languageserver-protocol';
import { open, startServer, type ServerHandle } from './harness';

const RECORDS = 150;
const record = (i: number) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `What is ${i} plus 1?` },
      { role: 'assistant', content: `${i} plus 1 is ${i + 1}.` },
    ],
  });
const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
/** Losses: low everywhere, two records (lines 40 and 99) hard, line 120 in between. */
const lossOf = (line: number) => (line === 40 ? 3.4 : line === 99 ? 2.9 : line === 120 ? 1.0 : 0.02 + (line % 7) / 100);

describe('language server: record-loss.jsonl on the dataset', () => {
  let server: ServerHandle;
  let dir: string;
  let path: string;
  const lines = Array.from({ length: RECORDS }, (_, i) => record(i));
  const text = lines.join('\n') + '\n';

  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'mf-lsp-record-loss-')));
    path = join(dir, 'data', 'train.jsonl');
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(path, text);
    const rows = lines.map((line, i) => ({
      file: path,
      line: i + 1,
      sha256: sha(line),
      loss: lossOf(i + 1),
      base_loss: 7.5,
      tokens: 9,
      split: 'train',
    }));
    // A row of another file on a hard line number, and a malformed line: both ignored.
    rows.push({
      file: join(dir, 'other.jsonl'),
      line: 5,
      sha256: sha('x'),
      loss: 99,
      base_loss: 1,
      tokens: 1,
      split: 'train',
    });
    mkdirSync(join(dir, 'outputs', 'run-1'), { recursive: true });
    writeFileSync(
      join(dir, 'outputs', 'run-1', 'record-loss.jsonl'),
      rows.map((r) => JSON.stringify(r)).join('\n') + '\n{not json\n',
    );
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  const hoverAt = async (uri: string, line: number) =>
    JSON.stringify(
      (
        (await server.connection.sendRequest('textDocument/hover', {
          textDocument: { uri },
          position: { line, character: 3 },
        })) as Hover | null
      )?.contents ?? '',
    );
  const hard = (diagnostics: Diagnostic[]) =>
    diagnostics.filter((d) => d.code === 'dataset/hard-record').map((d) => d.range.start.line + 1);

  it('marks the hardest 1% (2 of 150), hovers every line, and drops a line that changed', async () => {
    const { uri, diagnostics } = await open(server, path, text);
    assert.deepEqual(hard(diagnostics), [40, 99]);
    const marked = diagnostics.find((d) => d.code === 'dataset/hard-record')!;
    assert.equal(marked.severity, 3); // information
    assert.match(String(marked.message), /hardest 1% of records after run run-1: loss 3\.40, base model 7\.50/);

    assert.match(
      await hoverAt(uri, 39),
      /Loss\*\* 3\.40 under run run-1 \(base model 7\.50\): not learned — check this answer; among the hardest 1% of 150 records/,
    );
    assert.match(await hoverAt(uri, 119), /Loss\*\* 1\.00 under run run-1.*partly learned/);
    assert.match(await hoverAt(uri, 0), /Loss\*\* 0\.03 under run run-1 \(base model 7\.50\): learned/);

    // Line 40 edited: its hash no longer matches, so neither the diagnostic nor the hover speaks for it.
    const edited = record(39).replace('40.', 'forty.');
    const published = server.diagnostics(uri, 1);
    await server.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [
        { range: { start: { line: 39, character: 0 }, end: { line: 39, character: lines[39]!.length } }, text: edited },
      ],
    });
    assert.deepEqual(hard((await published).diagnostics), [99]);
    assert.doesNotMatch(await hoverAt(uri, 39), /Loss/);
    assert.match(await hoverAt(uri, 98), /Loss\*\* 2\.90/);
  });
});
