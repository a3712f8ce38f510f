// A dataset registry (dataset_info.json) opened in the editor: the real language server lints it as a
// registry (not as a dataset, not skipped as other JSON), and a config that names one of its entries too.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { byRule, fileUri, open, ROOT, startServer, type ServerHandle } from './harness';

const DEFECTS = join(ROOT, 'test', 'fixtures', 'registry', 'defects', 'dataset_info.json');

describe('dataset_info.json in the editor', () => {
  let server: ServerHandle;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  it('is linted as a registry: each defect under its registry/* rule', async () => {
    const { diagnostics } = await open(server, DEFECTS, readFileSync(DEFECTS, 'utf8'), 'json');
    const rules = byRule(diagnostics);
    assert.deepEqual([...rules.keys()].sort(), [
      'registry/column-absent',
      'registry/file-missing',
      'registry/formatting',
      'registry/no-file',
      'registry/unknown-key',
    ]);
    assert.deepEqual(rules.get('registry/formatting'), [17]);
  });

  it('an edit re-lints it', async () => {
    const uri = fileUri(DEFECTS);
    const published = server.diagnostics(uri, 1);
    await server.connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [
        { text: '{"qa": {"file_name": "qa.jsonl", "columns": {"prompt": "question", "response": "answer"}}}' },
      ],
    });
    assert.deepEqual((await published).diagnostics, []);
  });

  it('a config naming an entry is checked against the registry', async () => {
    const path = join(ROOT, 'test', 'fixtures', 'registry', 'defects', 'job.finetune.yaml');
    const text = 'base_model: gpt2\nmethod: lora\ndataset:\n  registry: dataset_info.json\n  name: qa_\n';
    const { diagnostics } = await open(server, path, text, 'yaml');
    const missing = diagnostics.filter((d) => d.code === 'config/dataset-missing');
    assert.equal(missing.length, 1);
    assert.equal(missing[0]!.range.start.line, 4);
    assert.match(String(missing[0]!.message), /has no entry named 'qa_'\. Did you mean 'qa'\?/);
  });
});
