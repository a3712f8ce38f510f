import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readModelDir, readSafetensorsHeader, resolveModel } from '../../server/src/core/config';
import { covered, lint, rules } from './helpers';
import { testEnvironment } from './nodeEnv';
import { rawSafetensors, safetensorsBytes, TOY_CONFIG, toyLlamaTensors, writeSafetensors } from './safetensors';

let root: string;
const env = () => testEnvironment(join(root, 'home'));

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'mf-model-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function modelDir(name: string, files: Record<string, string | Buffer>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content);
  return dir;
}

// 2 x 32 x 8 (embeddings, head) + 8 (final norm) + 2 layers x (64 + 32 + 128 + 8).
const TOY_PARAMETERS = 2 * 32 * 8 + 8 + 2 * (64 + 32 + 128 + 8);

test('module names, parameter count, dtype and context come from config.json and the safetensors header', async () => {
  const dir = await modelDir('toy', {
    'config.json': JSON.stringify(TOY_CONFIG),
    'model.safetensors': safetensorsBytes(toyLlamaTensors()),
  });
  const info = await readModelDir(dir, env());
  assert.deepEqual(info.problems, []);
  assert.equal(info.parameters, TOY_PARAMETERS);
  assert.equal(info.dtype, 'BF16');
  assert.equal(info.contextLength, 512);
  assert.equal(info.architecture, 'LlamaForCausalLM');
  assert.deepEqual(info.linearModules.map((m) => `${m.name} ${m.inFeatures}x${m.outFeatures} x${m.count}`).sort(), [
    'gate_proj 8x16 x2',
    'k_proj 8x4 x2',
    'q_proj 8x8 x2',
  ]);
});

test('sharded checkpoints are read through model.safetensors.index.json', async () => {
  const tensors = toyLlamaTensors();
  const dir = join(root, 'sharded');
  await writeSafetensors(join(dir, 'model-00001-of-00002.safetensors'), tensors.slice(0, 5));
  await writeSafetensors(join(dir, 'model-00002-of-00002.safetensors'), tensors.slice(5));
  const weightMap = Object.fromEntries(
    tensors.map((t, i) => [t.name, i < 5 ? 'model-00001-of-00002.safetensors' : 'model-00002-of-00002.safetensors']),
  );
  // A hostile shard name is ignored rather than followed out of the folder.
  weightMap['evil.weight'] = '../../etc/passwd';
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
  await writeFile(join(dir, 'config.json'), JSON.stringify(TOY_CONFIG));
  const info = await readModelDir(dir, env());
  assert.equal(info.parameters, TOY_PARAMETERS);
  assert.deepEqual(info.linearModules.map((m) => m.name).sort(), ['gate_proj', 'k_proj', 'q_proj']);
});

test('hostile safetensors headers become problems, never crashes or huge reads', async () => {
  const cases: Record<string, Buffer> = {
    'huge.safetensors': rawSafetensors(2n ** 40n, '{}'),
    'past-end.safetensors': rawSafetensors(1000, '{"a": 1}'),
    'not-json.safetensors': rawSafetensors(9, '{"a": tru'),
    'array.safetensors': rawSafetensors(2, '[]'),
    'short.safetensors': Buffer.from([1, 2, 3]),
  };
  const dir = await modelDir('hostile', cases);
  for (const file of Object.keys(cases)) {
    const result = await readSafetensorsHeader(env(), join(dir, file));
    assert.ok('problem' in result, `${file} is refused`);
  }
  const weirdBody = '{"x.weight":{"dtype":"F16","shape":[-1,2]}, "y": 5}';
  const weirdDir = await modelDir('weird', { 'model.safetensors': rawSafetensors(weirdBody.length, weirdBody) });
  const weird = await readSafetensorsHeader(env(), join(weirdDir, 'model.safetensors'));
  assert.ok('tensors' in weird && weird.tensors.length === 0, 'entries with invalid shapes are skipped');

  const model = await modelDir('hostile-model', {
    'config.json': '{ not json',
    'model.safetensors': rawSafetensors(2n ** 40n, '{}'),
  });
  const info = await readModelDir(model, env());
  assert.equal(info.problems.length, 2);
  assert.equal(info.parameters, undefined);
  const findings = await lint(`base_model: ${model}\nmethod: lora\ndataset:\n  path: data/chat-messages.jsonl\n`);
  assert.deepEqual(rules(findings), ['config/model-unknown']);
  assert.match(findings[0]!.message, /was found at .*no readable config\.json.*header length/);
});

test('a local model directory drives the target-module check: disk facts win over the catalog', async () => {
  await modelDir('local-toy', {
    'config.json': JSON.stringify(TOY_CONFIG),
    'model.safetensors': safetensorsBytes(toyLlamaTensors()),
  });
  const text = `base_model: ./local-toy\nmethod: lora\ndataset:\n  path: data.jsonl\nlora:\n  target_modules: [q_proj, v_proj]\ntraining:\n  max_seq_length: 1024\n`;
  await writeFile(join(root, 'data.jsonl'), '{"text": "hello"}\n');
  const findings = await lint(text, { dir: root, env: env() });
  assert.deepEqual(rules(findings), ['config/context-length', 'config/target-module']);
  const target = findings.find((f) => f.rule === 'config/target-module')!;
  assert.equal(covered(text, target), 'v_proj');
  assert.match(target.message, /in its weights.*q_proj, k_proj, gate_proj/);
  const context = findings.find((f) => f.rule === 'config/context-length')!;
  assert.match(context.message, /context window of 512 tokens/);
});

test('a model in the Hugging Face cache is found offline and preferred over the catalog', async () => {
  const repo = join(root, 'home', '.cache', 'huggingface', 'hub', 'models--meta-llama--Llama-3.2-1B');
  const snapshot = join(repo, 'snapshots', 'abc123');
  await mkdir(join(repo, 'refs'), { recursive: true });
  await writeFile(join(repo, 'refs', 'main'), 'abc123');
  await writeSafetensors(join(snapshot, 'model.safetensors'), toyLlamaTensors());
  await writeFile(join(snapshot, 'config.json'), JSON.stringify(TOY_CONFIG));
  const model = await resolveModel('meta-llama/Llama-3.2-1B', root, env());
  assert.equal(model.disk?.dir, snapshot);
  assert.equal(model.facts?.source, 'disk+catalog');
  assert.equal(model.facts?.parameters, TOY_PARAMETERS);
  assert.equal(model.facts?.family, 'LLaMA');
  assert.deepEqual(model.facts?.defaultTargets, ['q_proj'], 'catalog defaults limited to what the weights have');
  const catalogOnly = await resolveModel('meta-llama/Llama-3.2-1B', root, testEnvironment(join(root, 'empty-home')));
  assert.equal(catalogOnly.facts?.source, 'catalog');
  assert.equal(catalogOnly.facts?.parameters, 1_235_814_400);
});
