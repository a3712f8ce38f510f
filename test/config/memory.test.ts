import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateMemory, loraParameterCount, lookupModel, memoryTable } from '../../server/src/core/config';
import type { MemoryConfig } from '../../server/src/core/config';

const llama3 = lookupModel('meta-llama/Meta-Llama-3-8B')!.spec;
const llama2 = lookupModel('meta-llama/Llama-2-7b-hf')!.spec;
const base: MemoryConfig = {
  method: 'lora',
  precision: 'bf16',
  doubleQuant: true,
  loraRank: 16,
  loraDropout: 0.05,
  targetModules: ['q_proj', 'v_proj'],
  batchSize: 4,
  seqLength: 2048,
  gradientCheckpointing: true,
};

test('LoRA parameter counts match what PEFT prints for LLaMA 2 7B', () => {
  assert.equal(loraParameterCount(llama2, { loraRank: 8, targetModules: ['q_proj', 'v_proj'] }), 4_194_304);
  assert.equal(loraParameterCount(llama2, { loraRank: 16, targetModules: 'all-linear' }), 39_976_960);
  const gpt2 = lookupModel('gpt2')!.spec;
  // c_attn is 768 -> 2304 in each of 12 layers.
  assert.equal(loraParameterCount(gpt2, { loraRank: 8, targetModules: ['c_attn'] }), 8 * (768 + 2304) * 12);
});

test('weights of LLaMA 3 8B: about 16 GB in bf16, 5-6 GB in 4-bit QLoRA', () => {
  const bf16 = estimateMemory(base, llama3);
  assert.ok(bf16.parts.weights > 15e9 && bf16.parts.weights < 16.5e9, `bf16 weights ${bf16.parts.weights}`);
  assert.equal(bf16.parts.quantizationOverhead, 0);
  const qlora = estimateMemory({ ...base, method: 'qlora' }, llama3);
  const quantized = qlora.parts.weights + qlora.parts.quantizationOverhead;
  assert.ok(quantized > 5e9 && quantized < 6e9, `4-bit weights ${quantized}`);
  const fp32 = estimateMemory({ ...base, precision: 'fp32' }, llama3);
  assert.equal(fp32.parts.weights, 2 * bf16.parts.weights);
  // 16 bytes per trainable parameter: fp32 weights, gradients and two AdamW moments.
  assert.equal(bf16.parts.loraParams + bf16.parts.gradients + bf16.parts.optimizer, 16 * bf16.loraParameterCount);
});

test('the estimate grows with batch, sequence, rank and targets, and shrinks with checkpointing and double quant', () => {
  const total = (change: Partial<MemoryConfig>) => estimateMemory({ ...base, ...change }, llama3).totalBytes;
  const reference = total({});
  assert.ok(total({ batchSize: 8 }) > reference);
  assert.ok(total({ seqLength: 4096 }) > reference);
  assert.ok(total({ loraRank: 64 }) > reference);
  assert.ok(total({ targetModules: 'all-linear' }) > reference);
  assert.ok(total({ gradientCheckpointing: false }) > reference);
  assert.ok(total({ method: 'qlora' }) < reference);
  assert.ok(total({ method: 'qlora', doubleQuant: true }) < total({ method: 'qlora', doubleQuant: false }));
  // Activations and logits scale linearly with the tokens in a batch.
  const one = estimateMemory({ ...base, batchSize: 1 }, llama3).parts;
  const two = estimateMemory({ ...base, batchSize: 2 }, llama3).parts;
  assert.equal(two.activations, 2 * one.activations);
  assert.equal(two.logits, 2 * one.logits);
  assert.equal(one.logits, 2048 * 128256 * 4);
});

test('the estimate for a typical QLoRA run of a 7-8B model fits a 24 GB GPU; plain LoRA at batch 8 does not', () => {
  const qlora = estimateMemory({ ...base, method: 'qlora', batchSize: 1 }, llama3);
  assert.ok(qlora.totalBytes < 24 * 1024 ** 3 && qlora.totalBytes > 6e9, `${qlora.totalBytes}`);
  const lora = estimateMemory({ ...base, batchSize: 8, gradientCheckpointing: false }, llama3);
  assert.ok(lora.totalBytes > 40 * 1024 ** 3, `${lora.totalBytes}`);
  assert.ok(lora.assumptions.length >= 4);
  const table = memoryTable(lora);
  assert.match(table, /\| Base weights \| 15\.0 GiB \|/);
  assert.match(table, /\*\*Total\*\*/);
});

test('memory: dpo doubles the sequences per step and counts no second model (the reference is the base, adapter disabled)', () => {
  const sft = estimateMemory(base, llama3);
  const dpo = estimateMemory({ ...base, objective: 'dpo' }, llama3);
  assert.equal(dpo.parts.weights, sft.parts.weights);
  assert.equal(dpo.parts.activations, 2 * sft.parts.activations);
  assert.equal(dpo.parts.logits, 2 * sft.parts.logits);
  assert.ok(
    dpo.assumptions.some((a) =>
      /reference model: with a LoRA adapter it is the frozen base with the adapter disabled/.test(a),
    ),
  );
  const kto = estimateMemory({ ...base, objective: 'kto' }, llama3);
  assert.equal(kto.parts.activations, sft.parts.activations);
  assert.ok(kto.assumptions.some((a) => /adapter disabled/.test(a)));
  assert.ok(
    estimateMemory({ ...base, objective: 'orpo' }, llama3).assumptions.includes('orpo has no reference model.'),
  );
});
