// GPU memory of a LoRA/QLoRA fine-tuning step, estimated from the model's shapes and the config.
// Every part's formula is documented where it is computed; `assumptions` lists what the estimate
// takes for granted so that a user (or the trainer's GPU benchmark) can tell why it differs.
import type { LinearModule, ModelDimensions } from './catalog';
import type { ConfigView } from './schema';

export type Precision = 'bf16' | 'fp16' | 'fp32';

export interface MemoryConfig {
  method: 'lora' | 'qlora';
  precision: Precision;
  /** QLoRA only: quantize the quantization constants too. */
  doubleQuant: boolean;
  loraRank: number;
  loraDropout: number;
  targetModules: readonly string[] | 'all-linear';
  batchSize: number;
  seqLength: number;
  gradientCheckpointing: boolean;
  /** What training optimises (`sft` when absent); dpo and orpo forward a chosen and a rejected answer per record. */
  objective?: string;
}

/** The shapes the estimate needs; `ModelFacts` and `ModelSpec` both fit. */
export interface MemoryModel extends Partial<Omit<ModelDimensions, 'contextLength' | 'tiedEmbeddings'>> {
  parameters?: number;
  linearModules: readonly LinearModule[];
}

export interface MemoryParts {
  /** The frozen base weights at their stored precision (4-bit linear layers for QLoRA). */
  weights: number;
  /** QLoRA's per-block quantization constants. */
  quantizationOverhead: number;
  /** The LoRA A and B matrices, kept in fp32. */
  loraParams: number;
  /** fp32 gradients of the LoRA parameters (the base model gets none). */
  gradients: number;
  /** AdamW's two fp32 moments per LoRA parameter. */
  optimizer: number;
  /** Tensors the decoder layers keep for the backward pass. */
  activations: number;
  /** The output logits upcast to fp32 for the loss. */
  logits: number;
  /** CUDA context, cuBLAS workspaces and allocator slack: a fixed allowance. */
  overhead: number;
}

export interface MemoryEstimate {
  totalBytes: number;
  parts: MemoryParts;
  loraParameterCount: number;
  assumptions: string[];
}

export const GIB = 1024 ** 3;
/** CUDA context (~0.5 GiB with lazy module loading) plus cuBLAS workspace and allocator slack. */
export const FIXED_OVERHEAD_BYTES = 1 * GIB;
/** bitsandbytes 4-bit block size: one absmax constant per 64 weights. */
const QUANT_BLOCK = 64;
/** Double quantization groups 256 first-level constants under one fp32 constant. */
const SECOND_LEVEL_BLOCK = 256;

const BYTES: Record<Precision, number> = { bf16: 2, fp16: 2, fp32: 4 };

/** Modules named by targets (`all-linear`: every linear layer; the output head is not among them). */
export function targetedModules(model: MemoryModel, targets: readonly string[] | 'all-linear'): LinearModule[] {
  if (targets === 'all-linear') return [...model.linearModules];
  const wanted = new Set(targets);
  return model.linearModules.filter((m) => wanted.has(m.name));
}

/** LoRA adds A (r x in) and B (out x r) to each targeted layer: r x (in + out) parameters. */
export function loraParameterCount(model: MemoryModel, cfg: Pick<MemoryConfig, 'loraRank' | 'targetModules'>): number {
  return targetedModules(model, cfg.targetModules).reduce(
    (sum, m) => sum + cfg.loraRank * (m.inFeatures + m.outFeatures) * m.count,
    0,
  );
}

function hasGatedMlp(model: MemoryModel): boolean {
  const names = new Set(model.linearModules.map((m) => m.name));
  if (['gate_proj', 'w3', 'gate_up_proj', 'w1'].some((n) => names.has(n))) return true;
  // ChatGLM's dense_h_to_4h produces both SwiGLU halves (H -> 2 x ffn).
  const h4h = model.linearModules.find((m) => m.name === 'dense_h_to_4h');
  return h4h !== undefined && model.intermediateSize !== undefined && h4h.outFeatures === 2 * model.intermediateSize;
}

export function estimateMemory(cfg: MemoryConfig, model: MemoryModel): MemoryEstimate {
  const assumptions: string[] = [];
  const H = model.hiddenSize ?? 0;
  const L = model.numLayers ?? 0;
  const heads = model.numHeads ?? 0;
  const headDim = model.headDim ?? (heads > 0 ? H / heads : 0);
  const qWidth = heads * headDim || H;
  const kvWidth = (model.numKvHeads ?? heads) * headDim || H;
  const I = model.intermediateSize ?? 4 * H;
  const V = model.vocabSize ?? 0;
  const P = model.parameters ?? 0;
  const act = BYTES[cfg.precision];
  // Preference pairs (dpo, orpo): TRL runs the chosen and the rejected sequence of each record in one
  // batch, so twice the tokens per step. KTO runs one completion per record.
  const objective = cfg.objective ?? 'sft';
  const pairs = objective === 'dpo' || objective === 'orpo';
  const tokens = cfg.batchSize * cfg.seqLength * (pairs ? 2 : 1);
  if (pairs) {
    assumptions.push(
      `${objective}: a chosen and a rejected sequence per record, so 2 x batch_size sequences per step.`,
    );
  }
  if (objective === 'dpo' || objective === 'kto') {
    assumptions.push(
      `${objective} needs a reference model: with a LoRA adapter it is the frozen base with the adapter disabled (the same weights, no second copy), run without gradients, so it adds no weights and no kept activations.`,
    );
  } else if (objective === 'orpo') {
    assumptions.push('orpo has no reference model.');
  }

  // Weights. LoRA: every parameter at the compute precision (2 bytes bf16/fp16, 4 fp32).
  // QLoRA: linear layers of the decoder at 4 bits (0.5 byte); embeddings, the output head, norms
  // and biases stay at the compute precision (bitsandbytes quantizes nn.Linear only, not lm_head).
  const linearWeights = model.linearModules.reduce((s, m) => s + m.inFeatures * m.outFeatures * m.count, 0);
  let weights: number;
  let quantizationOverhead = 0;
  if (cfg.method === 'qlora') {
    weights = linearWeights * 0.5 + Math.max(0, P - linearWeights) * act;
    // Constants: one fp32 absmax per 64-weight block (0.5 bit/param); with double quantization an
    // 8-bit absmax per block plus one fp32 per 256 blocks (about 0.127 bit/param).
    quantizationOverhead = cfg.doubleQuant
      ? linearWeights / QUANT_BLOCK + (linearWeights / (QUANT_BLOCK * SECOND_LEVEL_BLOCK)) * 4
      : (linearWeights / QUANT_BLOCK) * 4;
    assumptions.push(
      `4-bit NF4/FP4 linear layers in blocks of ${QUANT_BLOCK}${cfg.doubleQuant ? ' with double quantization' : ''}; embeddings and lm_head stay ${cfg.precision}.`,
    );
  } else {
    weights = P * act;
  }

  // LoRA parameters in fp32 (PEFT upcasts adapters), their fp32 gradients, and AdamW's two fp32
  // moments: 4 + 4 + 8 = 16 bytes per trainable parameter.
  const loraCount = loraParameterCount(model, cfg);
  const loraParams = loraCount * 4;
  const gradients = loraCount * 4;
  const optimizer = loraCount * 8;
  assumptions.push(
    'AdamW with fp32 moments; adapters, their gradients and moments in fp32 (16 bytes per LoRA parameter).',
  );

  // Activations kept for backward, per token and layer (in elements, at the compute precision),
  // with fused scaled-dot-product (flash / memory-efficient) attention, so no seq x seq scores:
  //   each of the two norms: its input upcast to fp32 (2H in 16-bit units) and its output (H): 3H
  //   attention: rotated q and k plus v (q + 2 kv), attention output (q)
  //   MLP: gated (SwiGLU/GeGLU): gate, up, act(gate), product (4I);
  //        plain (GELU): fc output and its activation (2I)
  //   LoRA: per targeted layer, its dropped-out input (in, when dropout > 0) and the rank-r hidden (r);
  //         a token meets one instance of each module per layer (one expert's worth for MoE layers,
  //         fewer for modules only some layers have)
  // Checked against the bytes autograd saves (torch saved_tensors_hooks) for a small bf16 LLaMA
  // with PEFT LoRA and SDPA: within 2% without checkpointing.
  const gated = hasGatedMlp(model);
  const targeted = targetedModules(model, cfg.targetModules);
  const loraPerLayer =
    L > 0
      ? targeted.reduce(
          (s, m) => s + ((cfg.loraDropout > 0 ? m.inFeatures : 0) + cfg.loraRank) * Math.min(1, m.count / L),
          0,
        )
      : 0;
  const perLayerElements = 2 * 3 * H + 2 * qWidth + 2 * kvWidth + (gated ? 4 * I : 2 * I) + loraPerLayer;
  let activations: number;
  if (cfg.gradientCheckpointing) {
    // Only each layer's input is kept (H per token); one layer at a time is recomputed in full.
    activations = tokens * act * (L * H + perLayerElements);
    assumptions.push('Gradient checkpointing: one hidden state per layer kept, one layer recomputed at a time.');
  } else {
    activations = tokens * act * L * perLayerElements;
    assumptions.push('No gradient checkpointing: every layer keeps its activations until backward.');
  }
  assumptions.push('Fused attention (SDPA/flash): no batch x heads x seq x seq score tensors.');

  // Logits: batch x seq x vocab upcast to fp32 (4 bytes) for the cross-entropy loss.
  const logits = tokens * V * 4;
  assumptions.push('Logits upcast to fp32 for the loss; the output head is not chunked.');
  assumptions.push(`A fixed ${FIXED_OVERHEAD_BYTES / GIB} GiB for the CUDA context, workspaces and allocator slack.`);

  const parts: MemoryParts = {
    weights,
    quantizationOverhead,
    loraParams,
    gradients,
    optimizer,
    activations,
    logits,
    overhead: FIXED_OVERHEAD_BYTES,
  };
  const totalBytes = Object.values(parts).reduce((a, b) => a + b, 0);
  return { totalBytes, parts, loraParameterCount: loraCount, assumptions };
}

export function formatBytes(bytes: number): string {
  if (bytes >= GIB) return `${(bytes / GIB).toFixed(bytes >= 100 * GIB ? 0 : 1)} GiB`;
  if (bytes >= 1024 ** 2) return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KiB`;
  return `${bytes} B`;
}

const PART_LABELS: Record<keyof MemoryParts, string> = {
  weights: 'Base weights',
  quantizationOverhead: 'Quantization constants',
  loraParams: 'LoRA parameters (fp32)',
  gradients: 'LoRA gradients (fp32)',
  optimizer: 'AdamW states (fp32)',
  activations: 'Activations',
  logits: 'Logits (fp32)',
  overhead: 'CUDA context and allocator',
};

/** The non-zero parts, largest first, as label and bytes. */
export function memoryBreakdown(estimate: MemoryEstimate): { part: keyof MemoryParts; label: string; bytes: number }[] {
  return (Object.keys(estimate.parts) as (keyof MemoryParts)[])
    .map((part) => ({ part, label: PART_LABELS[part], bytes: estimate.parts[part] }))
    .filter((p) => p.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
}

/** A small markdown table of the estimate. */
export function memoryTable(estimate: MemoryEstimate): string {
  const rows = memoryBreakdown(estimate).map((p) => `| ${p.label} | ${formatBytes(p.bytes)} |`);
  return [
    '| Part | Memory |',
    '| --- | ---: |',
    ...rows,
    `| **Total** | **${formatBytes(estimate.totalBytes)}** |`,
  ].join('\n');
}

/** The memory-relevant settings of a config view. */
export function memoryConfigOf(view: ConfigView): MemoryConfig {
  return {
    method: view.method,
    precision: view.precision,
    doubleQuant: view.doubleQuant,
    loraRank: view.loraRank,
    loraDropout: view.loraDropout,
    targetModules: view.targetModules,
    batchSize: view.batchSize,
    seqLength: view.maxSeqLength,
    gradientCheckpointing: view.gradientCheckpointing,
    objective: view.objective,
  };
}

/** Whether the model's shapes are known well enough for an estimate. */
export function canEstimate(model: MemoryModel): boolean {
  return (
    (model.parameters ?? 0) > 0 &&
    (model.hiddenSize ?? 0) > 0 &&
    (model.numLayers ?? 0) > 0 &&
    model.linearModules.length > 0
  );
}
