// modelfactory/importConfig on the real language server: what "ModelFactory: Import Config" asks, and
// the result opened as the untitled *.finetune.yaml the editor shows.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ImportConfigRequest, type ImportConfigParams } from '../../server/src/protocol';
import { byRule, ROOT, startServer, type ServerHandle } from './harness';

const FIXTURE = join(
  ROOT,
  'test',
  'fixtures',
  'configs',
  'imported',
  'llama-factory',
  'examples',
  'train_lora',
  'qwen3_lora_sft.yaml',
);

describe('modelfactory/importConfig', () => {
  let server: ServerHandle;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  const request = (params: unknown) => server.connection.sendRequest(ImportConfigRequest, params as ImportConfigParams);

  it('converts a LLaMA-Factory config, resolving its dataset next to the source; the result lints as a config', async () => {
    const params: ImportConfigParams = {
      text: readFileSync(FIXTURE, 'utf8'),
      sourcePath: FIXTURE,
      outputDir: dirname(FIXTURE),
    };
    const result = await request(params);
    assert.ok(result.ok, result.ok ? '' : result.message);
    assert.equal(result.from, 'LLaMA-Factory');
    assert.equal(parse(result.text).dataset.path, '../../data/identity.json');
    assert.ok(result.notMapped.some((n) => n.key === 'ddp_timeout'));

    const uri = `untitled:${join(dirname(FIXTURE), 'qwen3_lora_sft.finetune.yaml')}`;
    const published = server.diagnostics(uri, 0);
    await server.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId: 'yaml', version: 1, text: result.text },
    });
    const rules = byRule((await published).diagnostics);
    assert.ok(
      !rules.has('config/schema') && !rules.has('config/unknown-key') && !rules.has('config/missing-key'),
      [...rules.keys()].join(', '),
    );
    assert.ok(rules.has('config/dataset-missing'), 'the fixture has the registry, not the records: linted as a config');
  });

  it('refuses what is not a LLaMA-Factory or axolotl config, and malformed requests, with a message', async () => {
    const refused = await request({ text: 'services:\n  web: {}\n' });
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? '' : refused.message, /expected LLaMA-Factory's model_name_or_path/);
    const malformed = await request({ text: 42 });
    assert.deepEqual(malformed, { ok: false, message: 'no config text was sent' });
    const empty = await request(null);
    assert.equal(empty.ok, false);
    // The server is still there.
    assert.equal((await request({ text: 'base_model: gpt2\nadapter: lora\n' })).ok, true);
  });
});
