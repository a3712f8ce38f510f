// `dataset: {datanet_version: HUB/NAME@VERSION}` in a fine-tune config: a dataset source of its own for the linter,
// with the same shape checks the trainer makes (config.py `_check_dataset_sources`).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lint } from '../config/helpers';

const schemaFindings = async (dataset: string) =>
  (await lint(`base_model: gpt2\nmethod: lora\n${dataset}`))
    .filter((f) => f.rule.startsWith('config/missing') || f.rule === 'config/schema')
    .map((f) => f.message);

describe('dataset.datanet_version in a fine-tune config', () => {
  it('is a source of its own', async () => {
    assert.deepEqual(await schemaFindings('dataset:\n  datanet_version: https://hub.example/support-chat@3\n'), []);
  });

  it('names the two sources when given with another', async () => {
    const messages = await schemaFindings(
      'dataset:\n  datanet_version: https://hub.example/support-chat@3\n  path: data/chat-messages.jsonl\n',
    );
    assert.equal(messages.length, 1);
    assert.match(messages[0] as string, /^dataset has more than one source \("path" and "datanet_version"\)/);
  });

  it('refuses an address without NAME@VERSION', async () => {
    const messages = await schemaFindings('dataset:\n  datanet_version: https://hub.example/support-chat\n');
    assert.equal(messages.length, 1, messages.join(' | '));
  });
});
