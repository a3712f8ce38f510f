import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { config, covered, FIXTURES, lint, rules } from './helpers';
import { detectSampleFormat } from '../../server/src/core/config/validate';

const only = async (text: string, rule: string, settings = {}) =>
  (await lint(text, { settings })).filter((f) => f.rule === rule);

test('the complete example config has no findings', async () => {
  const text = await readFile(join(FIXTURES, 'llama.finetune.yaml'), 'utf8');
  assert.deepEqual(await lint(text), []);
});

test('config/schema: a wrong value is reported at the value with the allowed ones; YAML syntax errors too', async () => {
  const text = config('Qwen/Qwen2.5-0.5B-Instruct').replace('method: lora', 'method: adapter');
  const findings = await lint(text);
  assert.deepEqual(rules(findings), ['config/schema']);
  assert.equal(covered(text, findings[0]!), 'adapter');
  assert.match(findings[0]!.message, /"lora", "qlora"/);
  const badType = config('gpt2', 'training:\n  batch_size: four\n');
  const typeFinding = (await lint(badType)).find((f) => f.rule === 'config/schema')!;
  assert.equal(covered(badType, typeFinding), 'four');
  const target = config('gpt2', 'target: cluster\n');
  const targetFinding = (await lint(target)).find((f) => f.rule === 'config/schema')!;
  assert.equal(covered(target, targetFinding), 'cluster');
  assert.match(targetFinding.message, /local or remote:<name>/);
  const bomb =
    'a: &a [x, x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n';
  const bombFindings = await lint(bomb);
  assert.deepEqual(rules(bombFindings), ['config/schema']);
  assert.match(bombFindings[0]!.message, /cannot be read.*alias/i);
  const syntax = await lint('base_model: [gpt2\nmethod: lora\n');
  assert.ok(syntax.length > 0 && syntax.every((f) => f.rule === 'config/schema'));
  assert.match(syntax[0]!.message, /YAML syntax error/);
});

test('config/unknown-key: at the key, with did-you-mean in message and data', async () => {
  const text = config('gpt2', 'trainig:\n  epochs: 1\nlora:\n  rank: 8\n');
  const findings = await only(text, 'config/unknown-key');
  assert.deepEqual(findings.map((f) => covered(text, f)).sort(), ['rank', 'trainig']);
  const typo = findings.find((f) => covered(text, f) === 'trainig')!;
  assert.match(typo.message, /Did you mean "training"\?/);
  assert.deepEqual(typo.data?.['suggestion'], 'training');
  assert.deepEqual(await only(config('gpt2', 'training:\n  epochs: 1\n'), 'config/unknown-key'), []);
});

test('config/missing-key: required keys at the document start, path-or-datanet at the dataset key', async () => {
  const noMethod = 'base_model: gpt2\ndataset:\n  path: data/chat-messages.jsonl\n';
  const missing = await only(noMethod, 'config/missing-key');
  assert.equal(missing.length, 1);
  assert.match(missing[0]!.message, /"method"/);
  assert.equal(missing[0]!.range.start.line, 0);
  const noPath = 'base_model: gpt2\nmethod: lora\ndataset:\n  format: auto\n';
  const dataset = await only(noPath, 'config/missing-key');
  assert.equal(dataset.length, 1);
  assert.equal(covered(noPath, dataset[0]!), 'dataset');
  assert.match(dataset[0]!.message, /"path".*"datanet"/);
  assert.deepEqual(await only(config('gpt2'), 'config/missing-key'), []);
});

test('config/model-unknown: neither in the catalog nor on disk', async () => {
  const text = config('acme/never-heard-of-it-7b');
  const findings = await lint(text);
  assert.deepEqual(rules(findings), ['config/model-unknown']);
  assert.equal(covered(text, findings[0]!), 'acme/never-heard-of-it-7b');
  assert.deepEqual(await only(config('deepseek-ai/deepseek-llm-7b-base'), 'config/model-unknown'), []);
});

test('config/target-module: per family, listing the modules that exist', async () => {
  const cases: { model: string; bad: string; good: string; expect: RegExp; extra?: string }[] = [
    { model: 'gpt2', bad: 'q_proj', good: 'c_attn', expect: /c_attn, c_proj, c_fc/ },
    { model: 'bigscience/bloom-560m', bad: 'q_proj', good: 'query_key_value', expect: /query_key_value/ },
    {
      model: 'THUDM/chatglm3-6b',
      bad: 'q_proj',
      good: 'query_key_value',
      expect: /query_key_value, dense, dense_h_to_4h, dense_4h_to_h/,
      extra: 'trust_remote_code: true\n',
    },
    { model: 'Qwen/Qwen-7B', bad: 'q_proj', good: 'w1', expect: /c_attn/, extra: 'trust_remote_code: true\n' },
    { model: 'Qwen/Qwen2.5-1.5B-Instruct', bad: 'c_attn', good: 'q_proj', expect: /q_proj, k_proj/ },
    { model: 'mistralai/Mistral-7B-v0.1', bad: 'query_key_value', good: 'o_proj', expect: /gate_proj/ },
    { model: 'deepseek-ai/DeepSeek-R1-Distill-Llama-8B', bad: 'c_fc', good: 'down_proj', expect: /down_proj/ },
    { model: 'meta-llama/Llama-2-7b-hf', bad: 'Wqkv', good: 'v_proj', expect: /v_proj/ },
  ];
  for (const c of cases) {
    const settings = { gpuMemoryGb: 1000 };
    const text = config(c.model, `${c.extra ?? ''}lora:\n  target_modules: [${c.good}, ${c.bad}]\n`);
    const findings = await lint(text, { settings });
    assert.deepEqual(rules(findings), ['config/target-module'], c.model);
    assert.equal(covered(text, findings[0]!), c.bad, c.model);
    assert.match(findings[0]!.message, c.expect, c.model);
    const good = config(c.model, `${c.extra ?? ''}lora:\n  target_modules:\n    - ${c.good}\n`);
    assert.deepEqual(await lint(good, { settings }), [], c.model);
  }
  assert.deepEqual(await only(config('gpt2', 'lora:\n  target_modules: all-linear\n'), 'config/target-module'), []);
});

test('config/target-module: the output head and the embeddings are valid targets, by their names per architecture', async () => {
  const ok = [
    ['meta-llama/Llama-3.1-8B', 'lm_head, embed_tokens'],
    ['gpt2', 'c_attn, lm_head, wte'],
    ['bigscience/bloom-560m', 'query_key_value, lm_head, word_embeddings'],
    ['builtin:tiny-llama', 'q_proj, lm_head'],
  ];
  for (const [model, targets] of ok) {
    const text = config(model!, `lora:\n  target_modules: [${targets}]\n`);
    assert.deepEqual(await only(text, 'config/target-module'), [], model);
  }
  const wrong = config('gpt2', 'lora:\n  target_modules: [c_attn, embed_tokens]\n');
  assert.equal((await only(wrong, 'config/target-module')).length, 1, 'GPT-2 calls its embeddings wte');
});

test('config/qlora-requires-quantization and config/lora-with-quantization', async () => {
  const qlora = config('Qwen/Qwen2.5-0.5B').replace('method: lora', 'method: qlora');
  const missing = await lint(qlora);
  assert.deepEqual(rules(missing), ['config/qlora-requires-quantization']);
  assert.equal(covered(qlora, missing[0]!), 'qlora');
  const quant = 'quantization:\n  bits: 4\n  type: nf4\n';
  assert.deepEqual(await lint(qlora + quant), []);
  const lora = config('Qwen/Qwen2.5-0.5B', quant);
  const extra = await lint(lora);
  assert.deepEqual(rules(extra), ['config/lora-with-quantization']);
  assert.equal(covered(lora, extra[0]!), 'quantization');
  assert.deepEqual(await lint(config('Qwen/Qwen2.5-0.5B')), []);
});

test('config/context-length: beyond the model window, at the value', async () => {
  const gpt2 = config('gpt2', 'training:\n  max_seq_length: 2048\n');
  const findings = await only(gpt2, 'config/context-length');
  assert.equal(findings.length, 1);
  assert.equal(covered(gpt2, findings[0]!), '2048');
  assert.match(findings[0]!.message, /1024 tokens/);
  assert.deepEqual(await only(config('gpt2', 'training:\n  max_seq_length: 1024\n'), 'config/context-length'), []);
  assert.equal(
    (await only(config('bigscience/bloom-1b1', 'training:\n  max_seq_length: 4096\n'), 'config/context-length')).length,
    1,
  );
  const mistral = config('mistralai/Mistral-7B-v0.3', 'training:\n  max_seq_length: 32768\n');
  assert.deepEqual(await only(mistral, 'config/context-length'), []);
});

test('config/lr-range: too high and too low, with the reason', async () => {
  for (const [lr, why] of [
    ['0.05', /diverge/],
    ['1.0e-7', /barely move/],
  ] as const) {
    const text = config('Qwen/Qwen3-0.6B', `training:\n  learning_rate: ${lr}\n`);
    const findings = await lint(text);
    assert.deepEqual(rules(findings), ['config/lr-range'], lr);
    assert.equal(covered(text, findings[0]!), lr);
    assert.match(findings[0]!.message, why);
  }
  assert.deepEqual(await lint(config('Qwen/Qwen3-0.6B', 'training:\n  learning_rate: 2.0e-4\n')), []);
});

test('config/dataset-missing: files and Datanet manifests relative to the config file', async () => {
  const missing = 'base_model: gpt2\nmethod: lora\ndataset:\n  path: data/nope.jsonl\n';
  const findings = await lint(missing);
  assert.deepEqual(rules(findings), ['config/dataset-missing']);
  assert.equal(covered(missing, findings[0]!), 'data/nope.jsonl');
  assert.match(findings[0]!.message, /does not exist/);
  const folder = 'base_model: gpt2\nmethod: lora\ndataset:\n  path: data\n';
  assert.match((await lint(folder))[0]!.message, /is a folder/);
  assert.deepEqual(await lint('base_model: gpt2\nmethod: lora\ndataset:\n  datanet: support/datanet.yaml\n'), []);
  const noManifest = 'base_model: gpt2\nmethod: lora\ndataset:\n  datanet: other/datanet.yaml\n';
  const manifest = await lint(noManifest);
  assert.deepEqual(rules(manifest), ['config/dataset-missing']);
  assert.match(manifest[0]!.message, /Datanet manifest/);
});

test('config/dataset-format-mismatch: detected from the first records of the file', async () => {
  const base = (path: string, format: string) =>
    `base_model: gpt2\nmethod: lora\ndataset:\n  path: ${path}\n  format: ${format}\n`;
  const wrong = base('data/chat-messages.jsonl', 'alpaca');
  const findings = await lint(wrong);
  assert.deepEqual(rules(findings), ['config/dataset-format-mismatch']);
  assert.equal(covered(wrong, findings[0]!), 'alpaca');
  assert.match(findings[0]!.message, /first 3 record\(s\).*messages records.*format: messages/);
  assert.deepEqual(await lint(base('data/chat-messages.jsonl', 'messages')), []);
  assert.deepEqual(await lint(base('data/chat-messages.jsonl', 'auto')), []);
  assert.deepEqual(await lint(base('data/instructions-alpaca.jsonl', 'alpaca')), []);
  assert.deepEqual(rules(await lint(base('data/records.json', 'sharegpt'))), ['config/dataset-format-mismatch']);
  assert.deepEqual(await lint(base('data/records.json', 'text')), []);
});

test('config/remote-code: ChatGLM, GLM-4, Qwen 1 and DeepSeek-V2 need an explicit opt-in', async () => {
  for (const model of [
    'THUDM/chatglm2-6b',
    'THUDM/glm-4-9b-chat',
    'Qwen/Qwen-7B-Chat',
    'deepseek-ai/DeepSeek-V2-Lite',
  ]) {
    const text = config(model, 'lora:\n  target_modules: all-linear\n');
    const findings = await only(text, 'config/remote-code');
    assert.equal(findings.length, 1, model);
    assert.equal(covered(text, findings[0]!), model);
    assert.match(findings[0]!.message, /trust_remote_code: true/);
    assert.deepEqual(await only(text + 'trust_remote_code: true\n', 'config/remote-code'), [], model);
  }
  assert.deepEqual(await only(config('meta-llama/Llama-3.2-1B'), 'config/remote-code'), []);
});

test('config/memory: over the GPU budget, with the breakdown and concrete advice', async () => {
  const text = config('meta-llama/Llama-3.1-70B-Instruct');
  const findings = await only(text, 'config/memory');
  assert.equal(findings.length, 1);
  assert.equal(covered(text, findings[0]!), 'lora');
  assert.match(findings[0]!.message, /Estimated GPU memory \d+ GiB exceeds the 24 GiB/);
  assert.match(findings[0]!.message, /Base weights 131 GiB/);
  assert.match(findings[0]!.message, /method: qlora .* -> \d+(\.\d)? GiB/);
  assert.deepEqual(await only(text, 'config/memory', { gpuMemoryGb: 200 }), []);
  assert.deepEqual(await only(config('gpt2'), 'config/memory'), []);
  const noCheckpointing = config('Qwen/Qwen2.5-7B', 'training:\n  gradient_checkpointing: false\n  batch_size: 8\n');
  assert.match((await only(noCheckpointing, 'config/memory'))[0]!.message, /gradient_checkpointing: true ->/);
});

test('exact UTF-16 ranges in a CRLF file with emoji before the error', async () => {
  const text =
    '# 😀 fine-tune\r\nbase_model: gpt2\r\nmethod: lora\r\ndataset:\r\n  path: data/chat-messages.jsonl\r\nlora: { dropout: 0.1, target_modules: ["😀", q_proj] }\r\n';
  const findings = await lint(text);
  assert.deepEqual(rules(findings), ['config/target-module', 'config/target-module']);
  const qproj = findings.find((f) => f.data?.['module'] === 'q_proj')!;
  // Line 5: 'lora: { dropout: 0.1, target_modules: ["😀", ' is 45 UTF-16 units (the emoji counts 2).
  assert.deepEqual(qproj.range, { start: { line: 5, character: 45 }, end: { line: 5, character: 51 } });
  const emoji = findings.find((f) => f.data?.['module'] === '😀')!;
  assert.deepEqual(emoji.range, { start: { line: 5, character: 39 }, end: { line: 5, character: 43 } });
});

test('severity settings turn rules off; inline comments suppress them', async () => {
  const text = config('gpt2', 'training:\n  learning_rate: 0.5\n  max_seq_length: 4096\n');
  assert.deepEqual(rules(await lint(text)), ['config/context-length', 'config/lr-range']);
  assert.deepEqual(rules(await lint(text, { settings: { rules: { 'config/lr-range': 'off' } } })), [
    'config/context-length',
  ]);
  const warning = await lint(text, { settings: { rules: { 'config/*': 'hint' } } });
  assert.ok(warning.every((f) => f.severity === 'hint'));
  const suppressed = text.replace(
    '  learning_rate: 0.5',
    '  # modelfactory-disable-next-line config/lr-range\n  learning_rate: 0.5',
  );
  assert.deepEqual(rules(await lint(suppressed)), ['config/context-length']);
  assert.deepEqual(await lint('# modelfactory-disable\n' + text), []);
});

test('the objective against the records: preference pairs for sft, a conversation for dpo', async () => {
  const pairs = 'base_model: gpt2\nmethod: lora\ndataset:\n  path: data/pairs.jsonl\n';
  const sft = await lint(pairs);
  assert.deepEqual(rules(sft), ['config/dataset-format-mismatch']);
  // The words of schemas/records/contract.json, which the trainer's refusal uses too (test_conformance.py).
  assert.match(
    sft[0]!.message,
    /preference records train with objective dpo, not sft: an sft job would learn the rejected/,
  );
  // Preference pairs train with dpo and orpo; a conversation does not.
  assert.deepEqual(await lint(pairs + 'objective: dpo\n'), []);
  assert.deepEqual(await lint(pairs + 'objective: orpo\n'), []);
  const chat = 'base_model: gpt2\nmethod: lora\nobjective: dpo\ndataset:\n  path: data/chat-messages.jsonl\n';
  const dpo = await lint(chat);
  assert.match(dpo[0]!.message, /messages records train with objective sft, not dpo/);
  assert.equal(covered(chat, dpo[0]!), 'dpo');
  assert.deepEqual(await lint('base_model: gpt2\nmethod: lora\ndataset:\n  path: data/chat-messages.jsonl\n'), []);
});

test('the dataset sample: a large JSON array cut mid-record still names its format; media records are refused', async () => {
  const pair = JSON.stringify({
    prompt: 'Name a colour, with "quotes", [brackets] and {braces}.',
    chosen: 'Blue.',
    rejected: 'No.',
  });
  const cut = `[\n  ${Array.from({ length: 40 }, () => pair).join(',\n  ')}`.slice(0, 2000);
  const whole = cut.split(pair + ',').length - 1; // the elements before the cut
  assert.ok(whole > 10);
  assert.deepEqual(detectSampleFormat(cut, false), { format: 'preference', records: whole, withMedia: 0 });
  const media = 'base_model: gpt2\nmethod: lora\ndataset:\n  path: data/media.jsonl\n';
  const findings = await lint(media);
  assert.deepEqual(rules(findings), ['config/dataset-format-mismatch']);
  assert.match(
    findings[0]!.message,
    /1 records carry images, videos or audio, but the trainer trains text-only models/,
  );
});

test('config/model-unknown on a Hub id says a trainer allowed to download fetches it', async () => {
  const [finding] = await only(config('acme/never-heard-of-it-7b'), 'config/model-unknown');
  assert.match(
    finding!.message,
    /serve --allow-download.*modelfactory\.trainer\.allowDownload.*hf download acme\/never-heard-of-it-7b/,
  );
  const [local] = await only(config('./no-such-folder'), 'config/model-unknown');
  assert.doesNotMatch(local!.message, /allow-download/);
});

test('config/dataset-hub: a Hub dataset is accepted and its records are said to be checked on the trainer', async () => {
  const text =
    'base_model: gpt2\nmethod: lora\ndataset:\n  hub: data-org/arithmetic\n  split: train[:100]\n  subset: en\n';
  const findings = await lint(text);
  assert.deepEqual(rules(findings), ['config/dataset-hub']);
  assert.equal(findings[0]!.severity, 'information');
  assert.equal(covered(text, findings[0]!), 'data-org/arithmetic');
  assert.match(findings[0]!.message, /checks every record against the record contract at pre-flight/);
  const stray = await lint('base_model: gpt2\nmethod: lora\ndataset:\n  path: train.jsonl\n  split: train\n');
  assert.ok(findings.every((f) => f.severity !== 'error'));
  assert.ok(
    stray.some((f) => /dataset\.split applies to a Hub dataset/.test(f.message)),
    JSON.stringify(stray),
  );
});

test('a Hub dataset subset or split that could name a path is a schema error, as in the trainer', async () => {
  const text = 'base_model: gpt2\nmethod: lora\ndataset:\n  hub: data-org/arithmetic\n  subset: ../x\n';
  const findings = await only(text, 'config/schema');
  assert.equal(findings.length, 1);
  assert.equal(covered(text, findings[0]!), '../x');
});
