// Writes real (tiny) safetensors files for the tests: 8-byte little-endian header length, the JSON
// header, then zero bytes for every tensor at its declared offsets.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface TensorSpec {
  name: string;
  dtype: 'BF16' | 'F16' | 'F32';
  shape: number[];
}

const DTYPE_BYTES = { BF16: 2, F16: 2, F32: 4 } as const;

export function safetensorsBytes(tensors: TensorSpec[]): Buffer {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([prefix, json, Buffer.alloc(offset)]);
}

export async function writeSafetensors(path: string, tensors: TensorSpec[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, safetensorsBytes(tensors));
}

/** A header whose declared length is `declaredLength`, followed by `body`. */
export function rawSafetensors(declaredLength: number | bigint, body: string | Buffer): Buffer {
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(declaredLength));
  return Buffer.concat([prefix, typeof body === 'string' ? Buffer.from(body) : body]);
}

/** Two LLaMA-style layers of a toy model: hidden 8, MLP 16, vocabulary 32, untied head. */
export function toyLlamaTensors(): TensorSpec[] {
  const tensors: TensorSpec[] = [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [32, 8] },
    { name: 'lm_head.weight', dtype: 'BF16', shape: [32, 8] },
    { name: 'model.norm.weight', dtype: 'BF16', shape: [8] },
  ];
  for (const layer of [0, 1]) {
    const p = `model.layers.${layer}`;
    tensors.push(
      { name: `${p}.self_attn.q_proj.weight`, dtype: 'BF16', shape: [8, 8] },
      { name: `${p}.self_attn.k_proj.weight`, dtype: 'BF16', shape: [4, 8] },
      { name: `${p}.mlp.gate_proj.weight`, dtype: 'BF16', shape: [16, 8] },
      { name: `${p}.input_layernorm.weight`, dtype: 'BF16', shape: [8] },
    );
  }
  return tensors;
}

export const TOY_CONFIG = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  intermediate_size: 16,
  vocab_size: 32,
  max_position_embeddings: 512,
  tie_word_embeddings: false,
};
