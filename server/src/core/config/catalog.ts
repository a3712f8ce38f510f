// The model catalog: published architecture facts of the base models ModelFactory knows, enough to
// check LoRA targets, context length and remote code, and to estimate memory without the weights.
// Parameter counts are computed from the dimensions (the tests check them against published
// totals); only the MLA/MoE DeepSeek models carry their published count as given.

export type ModelFamily = 'LLaMA' | 'Mistral' | 'Qwen' | 'DeepSeek' | 'BLOOM' | 'GPT-2' | 'ChatGLM' | 'Gemma' | 'Phi';

/** One kind of linear layer: its name as the model spells it, its shape, and how many there are. */
export interface LinearModule {
  name: string;
  inFeatures: number;
  outFeatures: number;
  /** Instances in the whole model (layers x experts). */
  count: number;
}

/** An architecture's dimensions, as config.json gives them (disk facts have each only when it does). */
export interface ModelDimensions {
  /** Native context window in tokens. */
  contextLength: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  /** Feed-forward width (per expert for mixtures of experts). */
  intermediateSize: number;
  vocabSize: number;
  tiedEmbeddings: boolean;
}

export interface ModelSpec extends ModelDimensions {
  /** The canonical Hugging Face id (or `builtin:` name). */
  id: string;
  family: ModelFamily;
  /** `architectures[0]` of config.json. */
  architecture: string;
  /** `model_type` of config.json. */
  modelType: string;
  parameters: number;
  attentionModules: string[];
  mlpModules: string[];
  /** What PEFT targets by default for this architecture. */
  defaultTargets: string[];
  remoteCode: boolean;
  chatTemplate: boolean;
  /** The repository asks users to accept a licence before download. */
  gated: boolean;
  /** Every linear layer with its shape (lm_head excluded): LoRA sizes and 4-bit weights come from here. */
  linearModules: LinearModule[];
  experts?: { routed: number; active: number; shared: number };
}

interface Dims {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads?: number;
  headDim?: number;
  intermediate: number;
  vocab: number;
  context: number;
  tied: boolean;
}

interface Flags {
  remoteCode?: boolean;
  chatTemplate?: boolean;
  gated?: boolean;
}

type Shape = Omit<
  ModelSpec,
  'id' | 'family' | 'architecture' | 'modelType' | 'remoteCode' | 'chatTemplate' | 'gated' | 'defaultTargets'
> & { defaultTargets?: string[] };

const lin = (name: string, inFeatures: number, outFeatures: number, count: number): LinearModule => ({
  name,
  inFeatures,
  outFeatures,
  count,
});
const weightCount = (modules: LinearModule[]): number =>
  modules.reduce((sum, m) => sum + m.inFeatures * m.outFeatures * m.count, 0);

function common(d: Dims): Omit<Shape, 'parameters' | 'linearModules' | 'attentionModules' | 'mlpModules'> {
  const kvHeads = d.kvHeads ?? d.heads;
  return {
    contextLength: d.context,
    hiddenSize: d.hidden,
    numLayers: d.layers,
    numHeads: d.heads,
    numKvHeads: kvHeads,
    headDim: d.headDim ?? d.hidden / d.heads,
    intermediateSize: d.intermediate,
    vocabSize: d.vocab,
    tiedEmbeddings: d.tied,
  };
}

/**
 * LLaMA-style decoders (LLaMA, Mistral, Qwen 1.5/2/2.5/3, DeepSeek LLM, Gemma): separate q/k/v/o
 * projections and a gated MLP (gate/up/down). Parameters: embeddings (twice when untied) plus, per
 * layer, the seven matrices, `normsPerLayer` RMSNorm vectors, optional q/k/v biases (Qwen 1.5-2.5)
 * and per-head q/k norms (Qwen3); plus the final norm.
 */
function llamaLike(d: Dims, opts: { qkvBias?: boolean; qkNorm?: boolean; normsPerLayer?: number } = {}): Shape {
  const c = common(d);
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const H = d.hidden;
  const L = d.layers;
  const linearModules = [
    lin('q_proj', H, q, L),
    lin('k_proj', H, kv, L),
    lin('v_proj', H, kv, L),
    lin('o_proj', q, H, L),
    lin('gate_proj', H, d.intermediate, L),
    lin('up_proj', H, d.intermediate, L),
    lin('down_proj', d.intermediate, H, L),
  ];
  const perLayerExtras =
    (opts.normsPerLayer ?? 2) * H + (opts.qkvBias ? q + 2 * kv : 0) + (opts.qkNorm ? 2 * c.headDim : 0);
  return {
    ...c,
    parameters: embeddings(d) + weightCount(linearModules) + L * perLayerExtras + H,
    linearModules,
    attentionModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj'],
    mlpModules: ['gate_proj', 'up_proj', 'down_proj'],
  };
}

function embeddings(d: Dims): number {
  return d.vocab * d.hidden * (d.tied ? 1 : 2);
}

/** Mixtral: LLaMA attention; each MoE layer has `experts` w1/w3 (in) and w2 (out) plus a router `gate`. */
function mixtral(d: Dims, experts: number, active: number): Shape {
  const base = llamaLike(d);
  const H = d.hidden;
  const L = d.layers;
  const attention = base.linearModules.slice(0, 4);
  const linearModules = [
    ...attention,
    lin('w1', H, d.intermediate, L * experts),
    lin('w3', H, d.intermediate, L * experts),
    lin('w2', d.intermediate, H, L * experts),
    lin('gate', H, experts, L),
  ];
  return {
    ...base,
    parameters: embeddings(d) + weightCount(linearModules) + L * 2 * H + H,
    linearModules,
    mlpModules: ['w1', 'w2', 'w3'],
    experts: { routed: experts, active, shared: 0 },
  };
}

/**
 * GPT-2: fused `c_attn` (H -> 3H), `c_proj` twice (attention H -> H, MLP 4H -> H), `c_fc` (H -> 4H),
 * all with biases; learned position embeddings; two LayerNorms (weight + bias) per layer.
 */
function gpt2(d: Dims): Shape {
  const H = d.hidden;
  const L = d.layers;
  const linearModules = [
    lin('c_attn', H, 3 * H, L),
    lin('c_proj', H, H, L),
    lin('c_fc', H, 4 * H, L),
    lin('c_proj', 4 * H, H, L),
  ];
  const perLayer = 4 * H + (3 * H + H + 4 * H + H);
  return {
    ...common(d),
    parameters: embeddings(d) + d.context * H + weightCount(linearModules) + L * perLayer + 2 * H,
    linearModules,
    attentionModules: ['c_attn', 'c_proj'],
    mlpModules: ['c_fc', 'c_proj'],
  };
}

/** BLOOM: fused `query_key_value`, `dense`, `dense_h_to_4h`, `dense_4h_to_h`, biases, LayerNorms, ALiBi. */
function bloom(d: Dims): Shape {
  const H = d.hidden;
  const L = d.layers;
  const linearModules = [
    lin('query_key_value', H, 3 * H, L),
    lin('dense', H, H, L),
    lin('dense_h_to_4h', H, 4 * H, L),
    lin('dense_4h_to_h', 4 * H, H, L),
  ];
  // An extra LayerNorm right after the word embeddings, and one at the end.
  const perLayer = 4 * H + (3 * H + H + 4 * H + H);
  return {
    ...common(d),
    parameters: embeddings(d) + 2 * H + weightCount(linearModules) + L * perLayer + 2 * H,
    linearModules,
    attentionModules: ['query_key_value', 'dense'],
    mlpModules: ['dense_h_to_4h', 'dense_4h_to_h'],
  };
}

/**
 * ChatGLM2/3 and GLM-4: multi-query attention with `kvHeads` groups through a fused
 * `query_key_value` (with bias), `dense`, and a SwiGLU MLP whose `dense_h_to_4h` produces both
 * halves (H -> 2 x ffn).
 */
function chatglm(d: Dims): Shape {
  const c = common(d);
  const H = d.hidden;
  const L = d.layers;
  const qkv = (c.numHeads + 2 * c.numKvHeads) * c.headDim;
  const linearModules = [
    lin('query_key_value', H, qkv, L),
    lin('dense', c.numHeads * c.headDim, H, L),
    lin('dense_h_to_4h', H, 2 * d.intermediate, L),
    lin('dense_4h_to_h', d.intermediate, H, L),
  ];
  return {
    ...c,
    parameters: embeddings(d) + weightCount(linearModules) + L * (2 * H + qkv) + H,
    linearModules,
    attentionModules: ['query_key_value', 'dense'],
    mlpModules: ['dense_h_to_4h', 'dense_4h_to_h'],
  };
}

/** Qwen (1): fused `c_attn` with bias, attention `c_proj`, and `w1`/`w2` (H -> ffn/2) into MLP `c_proj`. */
function qwen1(d: Dims): Shape {
  const H = d.hidden;
  const L = d.layers;
  const half = d.intermediate / 2;
  const linearModules = [
    lin('c_attn', H, 3 * H, L),
    lin('c_proj', H, H, L),
    lin('w1', H, half, L),
    lin('w2', H, half, L),
    lin('c_proj', half, H, L),
  ];
  return {
    ...common(d),
    parameters: embeddings(d) + weightCount(linearModules) + L * (2 * H + 3 * H) + H,
    linearModules,
    attentionModules: ['c_attn', 'c_proj'],
    mlpModules: ['w1', 'w2', 'c_proj'],
  };
}

/** Phi-2: q/k/v/dense attention and fc1/fc2 MLP, all with biases; one LayerNorm per layer; lm_head bias. */
function phi2(d: Dims): Shape {
  const H = d.hidden;
  const L = d.layers;
  const linearModules = [
    lin('q_proj', H, H, L),
    lin('k_proj', H, H, L),
    lin('v_proj', H, H, L),
    lin('dense', H, H, L),
    lin('fc1', H, d.intermediate, L),
    lin('fc2', d.intermediate, H, L),
  ];
  const perLayer = 2 * H + 4 * H + d.intermediate + H;
  return {
    ...common(d),
    parameters: embeddings(d) + d.vocab + weightCount(linearModules) + L * perLayer + 2 * H,
    linearModules,
    attentionModules: ['q_proj', 'k_proj', 'v_proj', 'dense'],
    mlpModules: ['fc1', 'fc2'],
  };
}

/** Phi-3: fused `qkv_proj` and `gate_up_proj` (H -> 2 x ffn), `o_proj`, `down_proj`. */
function phi3(d: Dims): Shape {
  const c = common(d);
  const H = d.hidden;
  const L = d.layers;
  const linearModules = [
    lin('qkv_proj', H, (c.numHeads + 2 * c.numKvHeads) * c.headDim, L),
    lin('o_proj', H, H, L),
    lin('gate_up_proj', H, 2 * d.intermediate, L),
    lin('down_proj', d.intermediate, H, L),
  ];
  return {
    ...c,
    parameters: embeddings(d) + weightCount(linearModules) + L * 2 * H + H,
    linearModules,
    attentionModules: ['qkv_proj', 'o_proj'],
    mlpModules: ['gate_up_proj', 'down_proj'],
  };
}

/**
 * DeepSeek-V2/V3: multi-head latent attention (low-rank q and kv projections) and DeepSeekMoE
 * (the first `denseLayers` layers dense, the rest with routed and shared experts).
 */
function deepseekMla(
  d: Dims,
  mla: { qLoraRank?: number; kvLoraRank: number; nopeDim: number; ropeDim: number; vDim: number },
  moe: { denseLayers: number; routed: number; shared: number; active: number; expertWidth: number },
  publishedParameters: number,
): Shape {
  const H = d.hidden;
  const L = d.layers;
  const nh = d.heads;
  const qHead = mla.nopeDim + mla.ropeDim;
  const attention = mla.qLoraRank
    ? [lin('q_a_proj', H, mla.qLoraRank, L), lin('q_b_proj', mla.qLoraRank, nh * qHead, L)]
    : [lin('q_proj', H, nh * qHead, L)];
  attention.push(
    lin('kv_a_proj_with_mqa', H, mla.kvLoraRank + mla.ropeDim, L),
    lin('kv_b_proj', mla.kvLoraRank, nh * (mla.nopeDim + mla.vDim), L),
    lin('o_proj', nh * mla.vDim, H, L),
  );
  const moeLayers = L - moe.denseLayers;
  const expertCount = moeLayers * (moe.routed + moe.shared);
  const linearModules = [
    ...attention,
    lin('gate_proj', H, d.intermediate, moe.denseLayers),
    lin('up_proj', H, d.intermediate, moe.denseLayers),
    lin('down_proj', d.intermediate, H, moe.denseLayers),
    lin('gate_proj', H, moe.expertWidth, expertCount),
    lin('up_proj', H, moe.expertWidth, expertCount),
    lin('down_proj', moe.expertWidth, H, expertCount),
  ];
  return {
    ...common(d),
    headDim: mla.vDim,
    parameters: publishedParameters,
    linearModules,
    attentionModules: attention.map((m) => m.name),
    mlpModules: ['gate_proj', 'up_proj', 'down_proj'],
    defaultTargets: attention.map((m) => m.name),
    experts: { routed: moe.routed, active: moe.active, shared: moe.shared },
  };
}

const PEFT_DEFAULT_TARGETS: Record<string, string[]> = {
  llama: ['q_proj', 'v_proj'],
  mistral: ['q_proj', 'v_proj'],
  mixtral: ['q_proj', 'v_proj'],
  qwen2: ['q_proj', 'v_proj'],
  qwen3: ['q_proj', 'v_proj'],
  gemma: ['q_proj', 'v_proj'],
  gemma2: ['q_proj', 'v_proj'],
  gpt2: ['c_attn'],
  bloom: ['query_key_value'],
  chatglm: ['query_key_value'],
  qwen: ['c_attn'],
  phi: ['q_proj', 'v_proj'],
  phi3: ['qkv_proj'],
};

const SPECS: ModelSpec[] = [];

function add(
  ids: string[],
  family: ModelFamily,
  architecture: string,
  modelType: string,
  shape: Shape,
  flags: Flags = {},
): void {
  for (const id of ids) {
    const chat = /-(instruct|chat|it)\b|-chat-hf$/i.test(id) || (/^Qwen\/Qwen3-\d/.test(id) && !/-Base$/.test(id));
    SPECS.push({
      ...shape,
      id,
      family,
      architecture,
      modelType,
      defaultTargets: shape.defaultTargets ?? PEFT_DEFAULT_TARGETS[modelType] ?? shape.attentionModules,
      remoteCode: flags.remoteCode ?? false,
      chatTemplate: flags.chatTemplate ?? chat,
      gated: flags.gated ?? false,
    });
  }
}

/** Base and instruct ids of one size: `org/Name` and `org/Name<suffix>`. */
const pair = (id: string, suffix: string): string[] => [id, id + suffix];

// LLaMA 2 (4K context), LLaMA 3 (8K), 3.1 (128K), 3.2 (128K, tied embeddings): all gated by Meta.
const LLAMA = 'LlamaForCausalLM';
const meta = { gated: true };
add(
  ['meta-llama/Llama-2-7b-hf', 'meta-llama/Llama-2-7b-chat-hf'],
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({ hidden: 4096, layers: 32, heads: 32, intermediate: 11008, vocab: 32000, context: 4096, tied: false }),
  meta,
);
add(
  ['meta-llama/Llama-2-13b-hf', 'meta-llama/Llama-2-13b-chat-hf'],
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({ hidden: 5120, layers: 40, heads: 40, intermediate: 13824, vocab: 32000, context: 4096, tied: false }),
  meta,
);
add(
  ['meta-llama/Llama-2-70b-hf', 'meta-llama/Llama-2-70b-chat-hf'],
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({
    hidden: 8192,
    layers: 80,
    heads: 64,
    kvHeads: 8,
    intermediate: 28672,
    vocab: 32000,
    context: 4096,
    tied: false,
  }),
  meta,
);
const llama3_8b: Omit<Dims, 'context'> = {
  hidden: 4096,
  layers: 32,
  heads: 32,
  kvHeads: 8,
  intermediate: 14336,
  vocab: 128256,
  tied: false,
};
const llama3_70b: Omit<Dims, 'context'> = {
  hidden: 8192,
  layers: 80,
  heads: 64,
  kvHeads: 8,
  intermediate: 28672,
  vocab: 128256,
  tied: false,
};
add(
  pair('meta-llama/Meta-Llama-3-8B', '-Instruct'),
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({ ...llama3_8b, context: 8192 }),
  meta,
);
add(
  pair('meta-llama/Meta-Llama-3-70B', '-Instruct'),
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({ ...llama3_70b, context: 8192 }),
  meta,
);
add(
  [...pair('meta-llama/Llama-3.1-8B', '-Instruct'), ...pair('meta-llama/Meta-Llama-3.1-8B', '-Instruct')],
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({ ...llama3_8b, context: 131072 }),
  meta,
);
add(
  [...pair('meta-llama/Llama-3.1-70B', '-Instruct'), ...pair('meta-llama/Meta-Llama-3.1-70B', '-Instruct')],
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({ ...llama3_70b, context: 131072 }),
  meta,
);
add(
  [...pair('meta-llama/Llama-3.1-405B', '-Instruct'), ...pair('meta-llama/Meta-Llama-3.1-405B', '-Instruct')],
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({
    hidden: 16384,
    layers: 126,
    heads: 128,
    kvHeads: 8,
    intermediate: 53248,
    vocab: 128256,
    context: 131072,
    tied: false,
  }),
  meta,
);
add(
  pair('meta-llama/Llama-3.2-1B', '-Instruct'),
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({
    hidden: 2048,
    layers: 16,
    heads: 32,
    kvHeads: 8,
    intermediate: 8192,
    vocab: 128256,
    context: 131072,
    tied: true,
  }),
  meta,
);
add(
  pair('meta-llama/Llama-3.2-3B', '-Instruct'),
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({
    hidden: 3072,
    layers: 28,
    heads: 24,
    kvHeads: 8,
    intermediate: 8192,
    vocab: 128256,
    context: 131072,
    tied: true,
  }),
  meta,
);

// Mistral 7B (32K positions, 4K sliding window in v0.1) and Mixtral 8x7B.
const mistral = { hidden: 4096, layers: 32, heads: 32, kvHeads: 8, intermediate: 14336, context: 32768, tied: false };
add(
  ['mistralai/Mistral-7B-v0.1', 'mistralai/Mistral-7B-Instruct-v0.1'],
  'Mistral',
  'MistralForCausalLM',
  'mistral',
  llamaLike({ ...mistral, vocab: 32000 }),
  { gated: true },
);
add(
  ['mistralai/Mistral-7B-v0.3', 'mistralai/Mistral-7B-Instruct-v0.3'],
  'Mistral',
  'MistralForCausalLM',
  'mistral',
  llamaLike({ ...mistral, vocab: 32768 }),
  { gated: true },
);
add(
  ['mistralai/Mixtral-8x7B-v0.1', 'mistralai/Mixtral-8x7B-Instruct-v0.1'],
  'Mistral',
  'MixtralForCausalLM',
  'mixtral',
  mixtral({ ...mistral, vocab: 32000 }, 8, 2),
  { gated: true },
);

// Qwen 1.5 (Qwen2 architecture, q/k/v biases, 32K context); Qwen2 and Qwen2.5 (GQA; 32K native
// context, 128K only with YaRN rope scaling); Qwen3 (q/k norms, explicit head_dim 128, 40960 positions).
const QWEN2 = 'Qwen2ForCausalLM';
const qwen15 = (size: string, d: Omit<Dims, 'context'>): void =>
  add(
    pair(`Qwen/Qwen1.5-${size}`, '-Chat'),
    'Qwen',
    QWEN2,
    'qwen2',
    llamaLike({ ...d, context: 32768 }, { qkvBias: true }),
  );
qwen15('0.5B', { hidden: 1024, layers: 24, heads: 16, intermediate: 2816, vocab: 151936, tied: true });
qwen15('1.8B', { hidden: 2048, layers: 24, heads: 16, intermediate: 5504, vocab: 151936, tied: false });
qwen15('4B', { hidden: 2560, layers: 40, heads: 20, intermediate: 6912, vocab: 151936, tied: false });
qwen15('7B', { hidden: 4096, layers: 32, heads: 32, intermediate: 11008, vocab: 151936, tied: false });
qwen15('14B', { hidden: 5120, layers: 40, heads: 40, intermediate: 13696, vocab: 152064, tied: false });
qwen15('32B', { hidden: 5120, layers: 64, heads: 40, kvHeads: 8, intermediate: 27392, vocab: 152064, tied: false });
qwen15('72B', { hidden: 8192, layers: 80, heads: 64, intermediate: 24576, vocab: 152064, tied: false });
const q2: Record<string, Omit<Dims, 'context'>> = {
  '0.5B': { hidden: 896, layers: 24, heads: 14, kvHeads: 2, intermediate: 4864, vocab: 151936, tied: true },
  '1.5B': { hidden: 1536, layers: 28, heads: 12, kvHeads: 2, intermediate: 8960, vocab: 151936, tied: true },
  '3B': { hidden: 2048, layers: 36, heads: 16, kvHeads: 2, intermediate: 11008, vocab: 151936, tied: true },
  '7B': { hidden: 3584, layers: 28, heads: 28, kvHeads: 4, intermediate: 18944, vocab: 152064, tied: false },
  '14B': { hidden: 5120, layers: 48, heads: 40, kvHeads: 8, intermediate: 13824, vocab: 152064, tied: false },
  '32B': { hidden: 5120, layers: 64, heads: 40, kvHeads: 8, intermediate: 27648, vocab: 152064, tied: false },
  '72B': { hidden: 8192, layers: 80, heads: 64, kvHeads: 8, intermediate: 29568, vocab: 152064, tied: false },
};
for (const size of ['0.5B', '1.5B', '7B', '72B']) {
  add(
    pair(`Qwen/Qwen2-${size}`, '-Instruct'),
    'Qwen',
    QWEN2,
    'qwen2',
    llamaLike({ ...q2[size]!, context: 32768 }, { qkvBias: true }),
  );
}
for (const size of Object.keys(q2)) {
  add(
    pair(`Qwen/Qwen2.5-${size}`, '-Instruct'),
    'Qwen',
    QWEN2,
    'qwen2',
    llamaLike({ ...q2[size]!, context: 32768 }, { qkvBias: true }),
  );
}
const q3: Record<string, Omit<Dims, 'context' | 'vocab' | 'headDim'>> = {
  '0.6B': { hidden: 1024, layers: 28, heads: 16, kvHeads: 8, intermediate: 3072, tied: true },
  '1.7B': { hidden: 2048, layers: 28, heads: 16, kvHeads: 8, intermediate: 6144, tied: true },
  '4B': { hidden: 2560, layers: 36, heads: 32, kvHeads: 8, intermediate: 9728, tied: true },
  '8B': { hidden: 4096, layers: 36, heads: 32, kvHeads: 8, intermediate: 12288, tied: false },
  '14B': { hidden: 5120, layers: 40, heads: 40, kvHeads: 8, intermediate: 17408, tied: false },
  '32B': { hidden: 5120, layers: 64, heads: 64, kvHeads: 8, intermediate: 25600, tied: false },
};
for (const [size, d] of Object.entries(q3)) {
  add(
    pair(`Qwen/Qwen3-${size}`, '-Base'),
    'Qwen',
    'Qwen3ForCausalLM',
    'qwen3',
    llamaLike({ ...d, headDim: 128, vocab: 151936, context: 40960 }, { qkNorm: true }),
  );
}
add(
  pair('Qwen/Qwen-7B', '-Chat'),
  'Qwen',
  'QWenLMHeadModel',
  'qwen',
  qwen1({ hidden: 4096, layers: 32, heads: 32, intermediate: 22016, vocab: 151936, context: 8192, tied: false }),
  { remoteCode: true },
);

// DeepSeek: LLM 7B/67B (LLaMA architecture), V2-Lite and V3 (MLA + MoE, their own modeling code),
// and the R1 distillations into Qwen2.5 and LLaMA 3.1 (128K positions).
add(
  ['deepseek-ai/deepseek-llm-7b-base', 'deepseek-ai/deepseek-llm-7b-chat'],
  'DeepSeek',
  LLAMA,
  'llama',
  llamaLike({ hidden: 4096, layers: 30, heads: 32, intermediate: 11008, vocab: 102400, context: 4096, tied: false }),
);
add(
  ['deepseek-ai/deepseek-llm-67b-base', 'deepseek-ai/deepseek-llm-67b-chat'],
  'DeepSeek',
  LLAMA,
  'llama',
  llamaLike({
    hidden: 8192,
    layers: 95,
    heads: 64,
    kvHeads: 8,
    intermediate: 22016,
    vocab: 102400,
    context: 4096,
    tied: false,
  }),
);
add(
  ['deepseek-ai/DeepSeek-V2-Lite', 'deepseek-ai/DeepSeek-V2-Lite-Chat'],
  'DeepSeek',
  'DeepseekV2ForCausalLM',
  'deepseek_v2',
  deepseekMla(
    { hidden: 2048, layers: 27, heads: 16, intermediate: 10944, vocab: 102400, context: 32768, tied: false },
    { kvLoraRank: 512, nopeDim: 128, ropeDim: 64, vDim: 128 },
    { denseLayers: 1, routed: 64, shared: 2, active: 6, expertWidth: 1408 },
    15.7e9,
  ),
  { remoteCode: true },
);
add(
  ['deepseek-ai/DeepSeek-V3', 'deepseek-ai/DeepSeek-V3-Base'],
  'DeepSeek',
  'DeepseekV3ForCausalLM',
  'deepseek_v3',
  deepseekMla(
    { hidden: 7168, layers: 61, heads: 128, intermediate: 18432, vocab: 129280, context: 163840, tied: false },
    { qLoraRank: 1536, kvLoraRank: 512, nopeDim: 128, ropeDim: 64, vDim: 128 },
    { denseLayers: 3, routed: 256, shared: 1, active: 8, expertWidth: 2048 },
    671e9,
  ),
  { remoteCode: true, chatTemplate: true },
);
const r1 = { chatTemplate: true };
add(
  ['deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B'],
  'DeepSeek',
  QWEN2,
  'qwen2',
  llamaLike({ ...q2['1.5B']!, tied: false, context: 131072 }, { qkvBias: true }),
  r1,
);
add(
  ['deepseek-ai/DeepSeek-R1-Distill-Qwen-7B'],
  'DeepSeek',
  QWEN2,
  'qwen2',
  llamaLike({ ...q2['7B']!, context: 131072 }, { qkvBias: true }),
  r1,
);
add(
  ['deepseek-ai/DeepSeek-R1-Distill-Qwen-14B'],
  'DeepSeek',
  QWEN2,
  'qwen2',
  llamaLike({ ...q2['14B']!, context: 131072 }, { qkvBias: true }),
  r1,
);
add(
  ['deepseek-ai/DeepSeek-R1-Distill-Qwen-32B'],
  'DeepSeek',
  QWEN2,
  'qwen2',
  llamaLike({ ...q2['32B']!, context: 131072 }, { qkvBias: true }),
  r1,
);
add(
  ['deepseek-ai/DeepSeek-R1-Distill-Llama-8B'],
  'DeepSeek',
  LLAMA,
  'llama',
  llamaLike({ ...llama3_8b, context: 131072 }),
  r1,
);

// BLOOM (ALiBi, trained on 2048 tokens, tied embeddings, 250880-token vocabulary).
for (const [size, hidden, layers, heads] of [
  ['560m', 1024, 24, 16],
  ['1b1', 1536, 24, 16],
  ['1b7', 2048, 24, 16],
  ['3b', 2560, 30, 32],
  ['7b1', 4096, 30, 32],
] as const) {
  add(
    [`bigscience/bloom-${size}`, `bigscience/bloomz-${size}`],
    'BLOOM',
    'BloomForCausalLM',
    'bloom',
    bloom({ hidden, layers, heads, intermediate: 4 * hidden, vocab: 250880, context: 2048, tied: true }),
  );
}

// GPT-2 (1024 learned positions, tied embeddings).
for (const [name, hidden, layers, heads] of [
  ['gpt2', 768, 12, 12],
  ['gpt2-medium', 1024, 24, 16],
  ['gpt2-large', 1280, 36, 20],
  ['gpt2-xl', 1600, 48, 25],
] as const) {
  add(
    [name, `openai-community/${name}`],
    'GPT-2',
    'GPT2LMHeadModel',
    'gpt2',
    gpt2({ hidden, layers, heads, intermediate: 4 * hidden, vocab: 50257, context: 1024, tied: true }),
  );
}

// ChatGLM2/3 and GLM-4 (THUDM; their own modeling code; 2 key/value groups of 128 channels).
const glm = { hidden: 4096, heads: 32, kvHeads: 2, headDim: 128, intermediate: 13696, tied: false };
add(
  ['THUDM/chatglm2-6b'],
  'ChatGLM',
  'ChatGLMModel',
  'chatglm',
  chatglm({ ...glm, layers: 28, vocab: 65024, context: 32768 }),
  { remoteCode: true, chatTemplate: false },
);
add(
  ['THUDM/chatglm3-6b'],
  'ChatGLM',
  'ChatGLMModel',
  'chatglm',
  chatglm({ ...glm, layers: 28, vocab: 65024, context: 8192 }),
  { remoteCode: true, chatTemplate: true },
);
add(
  ['THUDM/glm-4-9b'],
  'ChatGLM',
  'ChatGLMModel',
  'chatglm',
  chatglm({ ...glm, layers: 40, vocab: 151552, context: 8192 }),
  { remoteCode: true, chatTemplate: false },
);
add(
  ['THUDM/glm-4-9b-chat'],
  'ChatGLM',
  'ChatGLMModel',
  'chatglm',
  chatglm({ ...glm, layers: 40, vocab: 151552, context: 131072 }),
  { remoteCode: true, chatTemplate: true },
);

// Gemma (GeGLU, head_dim 256, tied 256K vocabulary) and Gemma 2 (four norms per layer); gated by Google.
const google = { gated: true };
add(
  pair('google/gemma-2b', '-it'),
  'Gemma',
  'GemmaForCausalLM',
  'gemma',
  llamaLike({
    hidden: 2048,
    layers: 18,
    heads: 8,
    kvHeads: 1,
    headDim: 256,
    intermediate: 16384,
    vocab: 256000,
    context: 8192,
    tied: true,
  }),
  google,
);
add(
  pair('google/gemma-7b', '-it'),
  'Gemma',
  'GemmaForCausalLM',
  'gemma',
  llamaLike({
    hidden: 3072,
    layers: 28,
    heads: 16,
    headDim: 256,
    intermediate: 24576,
    vocab: 256000,
    context: 8192,
    tied: true,
  }),
  google,
);
add(
  pair('google/gemma-2-2b', '-it'),
  'Gemma',
  'Gemma2ForCausalLM',
  'gemma2',
  llamaLike(
    {
      hidden: 2304,
      layers: 26,
      heads: 8,
      kvHeads: 4,
      headDim: 256,
      intermediate: 9216,
      vocab: 256000,
      context: 8192,
      tied: true,
    },
    { normsPerLayer: 4 },
  ),
  google,
);
add(
  pair('google/gemma-2-9b', '-it'),
  'Gemma',
  'Gemma2ForCausalLM',
  'gemma2',
  llamaLike(
    {
      hidden: 3584,
      layers: 42,
      heads: 16,
      kvHeads: 8,
      headDim: 256,
      intermediate: 14336,
      vocab: 256000,
      context: 8192,
      tied: true,
    },
    { normsPerLayer: 4 },
  ),
  google,
);

// Phi-2 (2K context) and Phi-3-mini (4K and 128K variants).
add(
  ['microsoft/phi-2'],
  'Phi',
  'PhiForCausalLM',
  'phi',
  phi2({ hidden: 2560, layers: 32, heads: 32, intermediate: 10240, vocab: 51200, context: 2048, tied: false }),
);
const phi3mini = { hidden: 3072, layers: 32, heads: 32, intermediate: 8192, vocab: 32064, tied: false };
add(['microsoft/Phi-3-mini-4k-instruct'], 'Phi', 'Phi3ForCausalLM', 'phi3', phi3({ ...phi3mini, context: 4096 }));
add(['microsoft/Phi-3-mini-128k-instruct'], 'Phi', 'Phi3ForCausalLM', 'phi3', phi3({ ...phi3mini, context: 131072 }));

// The tiny random LLaMA the trainer builds for tests and demos.
add(
  ['builtin:tiny-llama'],
  'LLaMA',
  LLAMA,
  'llama',
  llamaLike({
    hidden: 64,
    layers: 2,
    heads: 4,
    kvHeads: 2,
    intermediate: 176,
    vocab: 1024,
    context: 1024,
    tied: false,
  }),
  { chatTemplate: true },
);

export const MODEL_CATALOG: readonly ModelSpec[] = SPECS;

const BY_ID = new Map(SPECS.map((spec) => [spec.id.toLowerCase(), spec]));
const BY_NAME = new Map<string, ModelSpec>();
for (const spec of SPECS) {
  const name = spec.id.slice(spec.id.indexOf('/') + 1).toLowerCase();
  if (!BY_NAME.has(name)) BY_NAME.set(name, spec);
}

export interface CatalogMatch {
  spec: ModelSpec;
  /** Set when the id matched only by its name under another organisation (a mirror or a fine-tune). */
  note?: string;
}

/** Case-insensitive lookup; `someone/Llama-3.2-1B` matches `meta-llama/Llama-3.2-1B` with a note. */
export function lookupModel(id: string): CatalogMatch | undefined {
  const key = id.trim().toLowerCase();
  const exact = BY_ID.get(key);
  if (exact) return { spec: exact };
  const slash = key.indexOf('/');
  if (slash < 0 || key.startsWith('builtin:')) return undefined;
  const byName = BY_NAME.get(key.slice(slash + 1));
  return byName
    ? {
        spec: byName,
        note: `Matched by name: facts are those of ${byName.id}; check that ${id} has the same architecture.`,
      }
    : undefined;
}

/** Distinct module names of a spec, attention first. */
export function moduleNames(spec: Pick<ModelSpec, 'linearModules'>): string[] {
  return [...new Set(spec.linearModules.map((m) => m.name))];
}
