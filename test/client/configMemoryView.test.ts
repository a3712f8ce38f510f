import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { toMemoryView } from '../../client/src/config/memoryView';
import { configMemoryEstimate } from '../../server/src/core/config/estimate';
import { testContext } from '../config/nodeEnv';
import { parseYaml } from '../../server/src/core/yaml';

const SAMPLES = join(__dirname, '..', '..', 'samples', 'workspace');

test('the language server estimate of the 8B QLoRA sample becomes the panel memory view', async () => {
  const text = readFileSync(join(SAMPLES, 'llama-8b.finetune.yaml'), 'utf8');
  const answer = await configMemoryEstimate(parseYaml(text), testContext(SAMPLES));
  assert.ok(answer, 'the catalog knows the model');
  // The request answers over JSON-RPC: the view is built from what survives serialisation.
  const view = toMemoryView(JSON.parse(JSON.stringify(answer)));
  assert.ok(view);
  assert.equal(view.model, 'meta-llama/Llama-3.1-8B-Instruct');
  assert.equal(view.totalBytes, answer.estimate.totalBytes);
  assert.equal(view.gpuMemoryBytes, 24 * 1024 ** 3);
  assert.equal(
    view.breakdown.reduce((sum, part) => sum + part.bytes, 0),
    answer.estimate.totalBytes,
    'the breakdown adds up to the total',
  );
});

test('a malformed or empty answer gives no memory view', () => {
  for (const answer of [null, undefined, 42, {}, { model: 'x', estimate: { totalBytes: -1 }, breakdown: [] }]) {
    assert.equal(toMemoryView(answer), null);
  }
  const withScript = {
    model: 'm',
    gpuMemoryBytes: 1,
    estimate: { totalBytes: 1, loraParameterCount: 1 },
    breakdown: [{ label: 'a', bytes: 1, html: '<b>' }],
  };
  assert.equal(toMemoryView(withScript)?.breakdown[0]?.label, 'a', 'extra keys are dropped, not passed on');
});
