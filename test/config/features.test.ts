import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configCodeActions, configCompletions, configHover, configSymbols } from '../../server/src/core/config';
import type { Position } from '../../server/src/core/types';
import { LineIndex, parseYaml } from '../../server/src/core/yaml';
import { applyEdits, config, FIXTURES, lint, rules } from './helpers';
import { testContext } from './nodeEnv';

const ctx = testContext(FIXTURES);

/** The position just after the first occurrence of `marker` (or at its start with `atStart`). */
function positionOf(text: string, marker: string, atStart = false): Position {
  const offset = text.indexOf(marker);
  assert.ok(offset >= 0, marker);
  return new LineIndex(text).positionAt(atStart ? offset : offset + marker.length);
}

async function hover(text: string, marker: string) {
  return configHover(parseYaml(text), positionOf(text, marker, true), ctx);
}

async function complete(text: string, marker: string) {
  return configCompletions(parseYaml(text), positionOf(text, marker), ctx);
}

/** Applies the action titled like `title` for the only finding of `rule`; returns the new text. */
async function fix(text: string, rule: string, title: RegExp): Promise<string> {
  const findings = (await lint(text)).filter((f) => f.rule === rule);
  assert.equal(findings.length, 1, `one ${rule} finding`);
  const actions = configCodeActions(parseYaml(text), findings);
  const action = actions.find((a) => title.test(a.title));
  assert.ok(action, `an action like ${title} among ${actions.map((a) => a.title).join(' | ')}`);
  assert.equal(action.rule, rule);
  return applyEdits(text, action.edits);
}

test('hover on a key: schema description, allowed values, default', async () => {
  const text = config('gpt2', 'training:\n  precision: bf16\n');
  const result = await hover(text, 'precision');
  assert.ok(result);
  assert.match(result.contents, /\*\*precision\*\*/);
  assert.match(result.contents, /Ampere/);
  assert.match(result.contents, /Allowed: `"bf16"`, `"fp16"`, `"fp32"`/);
  assert.match(result.contents, /Default: `"bf16"`/);
});

test('hover on base_model: catalog facts and whether the model is on disk', async () => {
  const text = config('THUDM/chatglm2-6b');
  const result = await hover(text, 'THUDM');
  assert.ok(result);
  assert.match(result.contents, /ChatGLM/);
  assert.match(result.contents, /6\.24B/);
  assert.match(result.contents, /32768 tokens/);
  assert.match(result.contents, /query\\_key\\_value/);
  assert.match(result.contents, /needed \(trust\\_remote\\_code: true\)/);
  assert.match(result.contents, /no \(catalog facts only\)/);
  const unknown = await hover(config('acme/mystery'), 'acme');
  assert.match(unknown!.contents, /Not in the model catalog/);
});

test('hover on lora, training, quantization or method: the memory estimate table', async () => {
  const text = config('meta-llama/Meta-Llama-3-8B', 'lora:\n  r: 16\ntraining:\n  batch_size: 2\n');
  for (const key of ['lora:', 'training:', 'method:']) {
    const result = await hover(text, key);
    assert.ok(result, key);
    assert.match(result.contents, /Estimated GPU memory/, key);
    assert.match(result.contents, /\| Base weights \| 15\.0 GiB \|/, key);
  }
  assert.doesNotMatch((await hover(text, 'r: 16'))!.contents, /Estimated GPU memory/);
});

test('completion: missing keys at the cursor, from the schema', async () => {
  const top = config('gpt2', '\n');
  const keys = (await complete(top, 'chat-messages.jsonl\n\n')).map((i) => i.label);
  assert.ok(keys.includes('lora') && keys.includes('training') && keys.includes('quantization'));
  assert.ok(!keys.includes('base_model') && !keys.includes('method'), 'present keys are not offered');
  const nested = config('gpt2', 'training:\n  epochs: 1\n  \n');
  const trainingKeys = (await complete(nested, 'epochs: 1\n  ')).map((i) => i.label);
  assert.ok(trainingKeys.includes('learning_rate') && !trainingKeys.includes('epochs'));
  assert.ok(!trainingKeys.includes('lora'));
});

test('completion: enum values, base_model ids, and target_modules from the chosen model', async () => {
  const method = 'base_model: gpt2\nmethod: \n';
  assert.deepEqual(
    (await complete(method, 'method: ')).map((i) => i.label),
    ['lora', 'qlora'],
  );
  const model = 'base_model: \n';
  const models = await complete(model, 'base_model: ');
  assert.ok(models.some((i) => i.label === 'Qwen/Qwen2.5-0.5B-Instruct' && i.kind === 'model'));
  assert.ok(models.some((i) => i.label === 'builtin:tiny-llama'));
  const flow = 'base_model: bigscience/bloom-560m\nlora:\n  target_modules: [query_key_value, ';
  const flowItems = (await complete(flow, ', ')).map((i) => i.label);
  assert.deepEqual(
    flowItems.sort(),
    ['dense', 'dense_4h_to_h', 'dense_h_to_4h'],
    'items already typed are not offered',
  );
  const block = 'base_model: gpt2\nlora:\n  target_modules:\n    - c_attn\n    - \n';
  const blockItems = (await complete(block, 'c_attn\n    - ')).map((i) => i.label);
  assert.deepEqual(blockItems.sort(), ['c_fc', 'c_proj']);
  const value = 'base_model: gpt2\nlora:\n  target_modules: \n';
  assert.ok((await complete(value, 'target_modules: ')).some((i) => i.label === 'all-linear'));
  const bool = 'base_model: gpt2\ntraining:\n  packing: \n';
  assert.deepEqual(
    (await complete(bool, 'packing: ')).map((i) => i.label),
    ['true', 'false'],
  );
});

test('code action: fix a misspelt key, then the finding is gone', async () => {
  const text = config('gpt2', 'training:\n  learning_rte: 1.0e-4  # keep this comment\n');
  const fixed = await fix(text, 'config/unknown-key', /learning_rate/);
  assert.match(fixed, /learning_rate: 1\.0e-4 {2}# keep this comment/);
  assert.deepEqual(await lint(fixed), []);
});

test("code action: set target_modules to the model's defaults (flow and block lists)", async () => {
  const flow = config('gpt2', 'lora:\n  r: 8 # rank\n  target_modules: [q_proj, v_proj]\n  dropout: 0.1\n');
  // Two bad modules give two findings; either one offers the same fix.
  const findings = (await lint(flow)).filter((f) => f.rule === 'config/target-module');
  assert.equal(findings.length, 2);
  const action = configCodeActions(parseYaml(flow), findings.slice(0, 1)).find((a) => /defaults/.test(a.title));
  assert.ok(action);
  const fixedFlow = applyEdits(flow, action.edits);
  assert.match(fixedFlow, /target_modules: \[c_attn\]\n  dropout: 0\.1/);
  assert.match(fixedFlow, /r: 8 # rank/);
  assert.deepEqual(await lint(fixedFlow), []);
  const block = config('bigscience/bloom-560m', 'lora:\n  target_modules:\n    - q_proj\n  dropout: 0.1\n');
  const fixedBlock = await fix(block, 'config/target-module', /defaults/);
  assert.match(fixedBlock, /target_modules: \[query_key_value\]\n  dropout: 0\.1/);
  assert.deepEqual(await lint(fixedBlock), []);
});

test('code action: add the quantization block at the document indentation, CRLF kept', async () => {
  const text =
    'base_model: Qwen/Qwen2.5-0.5B\r\nmethod: qlora   # 4-bit\r\ndataset:\r\n    path: data/chat-messages.jsonl\r\n';
  const fixed = await fix(text, 'config/qlora-requires-quantization', /quantization block/);
  assert.equal(
    fixed,
    'base_model: Qwen/Qwen2.5-0.5B\r\nmethod: qlora   # 4-bit\r\nquantization:\r\n    bits: 4\r\n    type: nf4\r\n    double_quant: true\r\ndataset:\r\n    path: data/chat-messages.jsonl\r\n',
  );
  assert.deepEqual(await lint(fixed), []);
  const empty =
    'base_model: Qwen/Qwen2.5-0.5B\nmethod: qlora\nquantization:\ndataset:\n  path: data/chat-messages.jsonl\n';
  const filled = await fix(empty, 'config/qlora-requires-quantization', /quantization block/);
  assert.deepEqual(await lint(filled), []);
});

test('code actions for lora with quantization: switch to qlora, or remove the block', async () => {
  const text = config(
    'Qwen/Qwen2.5-0.5B',
    'quantization:\n  bits: 4\n  type: nf4 # normal float\ntraining:\n  epochs: 1\n',
  );
  const switched = await fix(text, 'config/lora-with-quantization', /Switch method/);
  assert.match(switched, /^method: qlora$/m);
  assert.deepEqual(await lint(switched), []);
  const removed = await fix(text, 'config/lora-with-quantization', /Remove/);
  assert.ok(!removed.includes('quantization') && removed.includes('training:\n  epochs: 1\n'));
  assert.deepEqual(await lint(removed), []);
  const noMethod = 'base_model: gpt2\ndataset:\n  path: data/chat-messages.jsonl\nquantization:\n  bits: 4\n';
  const findings = (await lint(noMethod)).filter((f) => f.rule === 'config/lora-with-quantization');
  const add = configCodeActions(parseYaml(noMethod), findings).find((a) => /Switch/.test(a.title))!;
  const withMethod = applyEdits(noMethod, add.edits);
  assert.match(withMethod, /^base_model: gpt2\nmethod: qlora\n/);
  assert.deepEqual(rules(await lint(withMethod)), []);
});

test('document symbols: nested keys with ranges and kinds', () => {
  const text = config('gpt2', 'lora:\n  r: 8\n  target_modules: [c_attn]\n');
  const symbols = configSymbols(parseYaml(text));
  assert.deepEqual(
    symbols.map((s) => `${s.name}:${s.kind}`),
    ['base_model:string', 'method:string', 'dataset:object', 'lora:object'],
  );
  const lora = symbols.find((s) => s.name === 'lora')!;
  assert.deepEqual(
    lora.children?.map((c) => `${c.name}:${c.kind}:${c.detail ?? ''}`),
    ['r:number:8', 'target_modules:array:'],
  );
  assert.deepEqual(lora.selectionRange, { start: { line: 4, character: 0 }, end: { line: 4, character: 4 } });
  assert.equal(lora.range.end.line, 6);
  assert.deepEqual(
    lora.children?.[1]?.children?.map((c) => c.name),
    ['c_attn'],
  );
});

test('code action: a misspelt enum value gets its did-you-mean fix', async () => {
  const text = config('gpt2').replace('method: lora', 'method: qlroa');
  const findings = (await lint(text)).filter((f) => f.rule === 'config/schema');
  assert.equal(findings.length, 1);
  assert.match(findings[0]!.message, /Did you mean "qlora"\?/);
  const fixed = await fix(text, 'config/schema', /Change "qlroa" to "qlora"/);
  assert.deepEqual(rules(await lint(fixed)), ['config/qlora-requires-quantization']);
});

test('completion items replace the whole typed id, slashes and dots included', async () => {
  const text = 'base_model: Qwen/Qwen2.5-0\n';
  const items = await complete(text, 'Qwen2.5-0');
  const qwen = items.find((i) => i.label === 'Qwen/Qwen2.5-0.5B')!;
  assert.deepEqual(qwen.range, { start: { line: 0, character: 12 }, end: { line: 0, character: 26 } });
  const applied = applyEdits(text, [{ range: qwen.range!, newText: qwen.label }]);
  assert.equal(applied, 'base_model: Qwen/Qwen2.5-0.5B\n');
});
