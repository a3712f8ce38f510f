// Preference objectives (dpo, orpo, kto) in the config linter and the memory estimate.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { covered, FIXTURES, lint } from './helpers';
import { testContext } from './nodeEnv';
import { configHover } from '../../server/src/core/config';
import { LineIndex, parseYaml } from '../../server/src/core/yaml';

const pairs = (extra = '', objective = 'dpo') =>
  `base_model: gpt2\nmethod: lora\nobjective: ${objective}\ndataset:\n  path: data/pairs.jsonl\n${extra}`;
const only = async (text: string, rule: string) => (await lint(text)).filter((f) => f.rule === rule);

test('preference pairs train clean with dpo and orpo; beta in range is fine', async () => {
  assert.deepEqual(await lint(pairs('training:\n  beta: 0.1\n')), []);
  assert.deepEqual(await lint(pairs('training:\n  beta: 0.5\n', 'orpo')), []);
});

test('config/beta-range: far outside 0.01-1, or set for sft', async () => {
  const tiny = pairs('training:\n  beta: 0.001\n');
  const low = await only(tiny, 'config/beta-range');
  assert.equal(low.length, 1);
  assert.equal(covered(tiny, low[0]!), '0.001');
  assert.match(low[0]!.message, /beta 0\.001 is outside 0\.01-1/);
  assert.equal((await only(pairs('training:\n  beta: 5\n'), 'config/beta-range')).length, 1);
  const sft = 'base_model: gpt2\nmethod: lora\ndataset:\n  path: data/chat-messages.jsonl\ntraining:\n  beta: 0.1\n';
  const ignored = await only(sft, 'config/beta-range');
  assert.equal(ignored.length, 1);
  assert.match(ignored[0]!.message, /objective sft ignores it/);
  // The schema bounds it on both sides: 0 and negatives are a schema error.
  assert.ok((await lint(pairs('training:\n  beta: 0\n'))).some((f) => f.rule === 'config/schema'));
});

test('config/objective-lora-head: an adapter on lm_head with dpo, at the list item; sft may target it', async () => {
  const text = pairs('lora:\n  target_modules: [c_attn, lm_head]\n');
  const findings = await only(text, 'config/objective-lora-head');
  assert.equal(findings.length, 1);
  assert.equal(covered(text, findings[0]!), 'lm_head');
  assert.equal(findings[0]!.severity, 'error');
  const sft =
    'base_model: gpt2\nmethod: lora\ndataset:\n  path: data/chat-messages.jsonl\nlora:\n  target_modules: [c_attn, lm_head]\n';
  assert.deepEqual(await only(sft, 'config/objective-lora-head'), []);
});

test('hover on objective: the memory estimate with what dpo assumes about the reference model', async () => {
  const text = pairs().replace('gpt2', 'meta-llama/Meta-Llama-3-8B');
  const offset = text.indexOf('objective');
  const result = await configHover(parseYaml(text), new LineIndex(text).positionAt(offset), testContext(FIXTURES));
  assert.ok(result);
  assert.match(result.contents, /Estimated GPU memory/);
  assert.match(
    result.contents,
    /- dpo needs a reference model: with a LoRA adapter it is the frozen base with the adapter disabled/,
  );
  assert.match(result.contents, /- dpo: a chosen and a rejected sequence per record/);
});
