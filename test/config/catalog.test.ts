import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lookupModel, MODEL_CATALOG, moduleNames } from '../../server/src/core/config';

// Totals as published (model cards, or the sum of the safetensors shapes). The catalog computes
// its counts from the dimensions, so these check the dimensions too.
const PUBLISHED_PARAMETERS: Record<string, number> = {
  'meta-llama/Llama-2-7b-hf': 6_738_415_616,
  'meta-llama/Llama-2-13b-hf': 13_015_864_320,
  'meta-llama/Llama-2-70b-hf': 68_976_648_192,
  'meta-llama/Meta-Llama-3-8B': 8_030_261_248,
  'meta-llama/Meta-Llama-3-70B': 70_553_706_496,
  'meta-llama/Llama-3.2-1B': 1_235_814_400,
  'meta-llama/Llama-3.2-3B': 3_212_749_824,
  'mistralai/Mistral-7B-v0.1': 7_241_732_096,
  'mistralai/Mistral-7B-v0.3': 7_248_023_552,
  'mistralai/Mixtral-8x7B-v0.1': 46_702_792_704,
  'Qwen/Qwen1.5-0.5B': 463_987_712,
  'Qwen/Qwen1.5-7B': 7_721_324_544,
  'Qwen/Qwen2.5-0.5B': 494_032_768,
  'Qwen/Qwen2.5-1.5B': 1_543_714_304,
  'Qwen/Qwen2.5-7B': 7_615_616_512,
  'Qwen/Qwen-7B': 7_721_324_544,
  'bigscience/bloom-560m': 559_214_592,
  'bigscience/bloom-7b1': 7_069_016_064,
  gpt2: 124_439_808,
  'gpt2-medium': 354_823_168,
  'gpt2-large': 774_030_080,
  'gpt2-xl': 1_557_611_200,
  'google/gemma-2b': 2_506_172_416,
  'google/gemma-7b': 8_537_680_896,
  'google/gemma-2-2b': 2_614_341_888,
  'google/gemma-2-9b': 9_241_705_984,
  'microsoft/phi-2': 2_779_683_840,
  'microsoft/Phi-3-mini-4k-instruct': 3_821_079_552,
};

test('parameter counts match the published totals (within 0.1%)', () => {
  for (const [id, published] of Object.entries(PUBLISHED_PARAMETERS)) {
    const spec = lookupModel(id)?.spec;
    assert.ok(spec, `${id} is in the catalog`);
    const error = Math.abs(spec.parameters - published) / published;
    assert.ok(error < 1e-3, `${id}: computed ${spec.parameters}, published ${published}`);
  }
});

test('rough sizes of the models without exact published counts', () => {
  const approx: Record<string, number> = {
    'meta-llama/Llama-3.1-405B': 405e9,
    'Qwen/Qwen2.5-72B': 72.7e9,
    'Qwen/Qwen3-8B': 8.2e9,
    'Qwen/Qwen3-0.6B': 0.6e9,
    'deepseek-ai/deepseek-llm-67b-base': 67e9,
    'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B': 1.78e9,
    'THUDM/glm-4-9b': 9.4e9,
    'THUDM/chatglm2-6b': 6.24e9,
  };
  for (const [id, size] of Object.entries(approx)) {
    const spec = lookupModel(id)!.spec;
    assert.ok(Math.abs(spec.parameters - size) / size < 0.03, `${id}: ${spec.parameters} vs about ${size}`);
  }
});

test('every requested family and the builtin tiny model are present with their module names', () => {
  const expectModules = (id: string, modules: string[]) => {
    const spec = lookupModel(id)?.spec;
    assert.ok(spec, id);
    assert.deepEqual(moduleNames(spec).sort(), [...modules].sort(), id);
  };
  const llama = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
  expectModules('meta-llama/Llama-3.1-8B-Instruct', llama);
  expectModules('mistralai/Mistral-7B-Instruct-v0.3', llama);
  expectModules('Qwen/Qwen3-32B', llama);
  expectModules('deepseek-ai/DeepSeek-R1-Distill-Llama-8B', llama);
  expectModules('gpt2', ['c_attn', 'c_proj', 'c_fc']);
  expectModules('bigscience/bloom-1b7', ['query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h']);
  expectModules('THUDM/chatglm3-6b', ['query_key_value', 'dense', 'dense_h_to_4h', 'dense_4h_to_h']);
  expectModules('Qwen/Qwen-7B', ['c_attn', 'c_proj', 'w1', 'w2']);
  expectModules('mistralai/Mixtral-8x7B-v0.1', ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'w1', 'w2', 'w3', 'gate']);
  expectModules('microsoft/Phi-3-mini-4k-instruct', ['qkv_proj', 'o_proj', 'gate_up_proj', 'down_proj']);
  const v3 = lookupModel('deepseek-ai/DeepSeek-V3')!.spec;
  assert.ok(moduleNames(v3).includes('kv_a_proj_with_mqa') && v3.remoteCode);
  assert.ok(lookupModel('deepseek-ai/DeepSeek-V2-Lite')!.spec.remoteCode);
  for (const id of ['THUDM/chatglm2-6b', 'THUDM/glm-4-9b']) assert.equal(lookupModel(id)!.spec.remoteCode, true);
  assert.equal(lookupModel('meta-llama/Llama-2-7b-hf')!.spec.gated, true);
  assert.equal(lookupModel('Qwen/Qwen2.5-7B')!.spec.gated, false);
  assert.equal(lookupModel('Qwen/Qwen2.5-7B-Instruct')!.spec.chatTemplate, true);
  assert.equal(lookupModel('Qwen/Qwen2.5-7B')!.spec.chatTemplate, false);

  const tiny = lookupModel('builtin:tiny-llama')!.spec;
  assert.deepEqual(
    [
      tiny.architecture,
      tiny.vocabSize,
      tiny.hiddenSize,
      tiny.intermediateSize,
      tiny.numLayers,
      tiny.numHeads,
      tiny.numKvHeads,
      tiny.contextLength,
    ],
    ['LlamaForCausalLM', 1024, 64, 176, 2, 4, 2, 1024],
  );
  assert.equal(tiny.tiedEmbeddings, false);
  assert.equal(tiny.chatTemplate, true);
  assert.deepEqual(moduleNames(tiny), llama);
  // A hand count: embeddings and lm_head 2 x 1024 x 64; per layer q 64x64, k and v 64x32, o 64x64,
  // three MLP matrices 64x176, two norms of 64; plus the final norm.
  assert.equal(tiny.parameters, 2 * 1024 * 64 + 2 * (4096 + 2 * 2048 + 4096 + 3 * 64 * 176 + 128) + 64);
});

test('lookup is case-insensitive, knows legacy and org ids, and matches mirrors by name with a note', () => {
  assert.equal(lookupModel('QWEN/qwen2.5-0.5b-instruct')?.spec.id, 'Qwen/Qwen2.5-0.5B-Instruct');
  assert.equal(lookupModel('openai-community/gpt2-xl')?.spec.hiddenSize, 1600);
  assert.equal(lookupModel('gpt2')?.note, undefined);
  const mirror = lookupModel('unsloth/Llama-3.2-1B-Instruct');
  assert.equal(mirror?.spec.id, 'meta-llama/Llama-3.2-1B-Instruct');
  assert.match(mirror?.note ?? '', /Matched by name/);
  assert.equal(lookupModel('someone/totally-new-model'), undefined);
  assert.equal(lookupModel('builtin:other'), undefined);
  const ids = MODEL_CATALOG.map((s) => s.id.toLowerCase());
  assert.equal(new Set(ids).size, ids.length, 'no duplicate ids');
});
