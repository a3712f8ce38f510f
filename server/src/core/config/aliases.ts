// The other trainers' names for our keys: LLaMA-Factory's and axolotl's training YAML. One table,
// read by the importer (`modelfactory import`) to convert their configs and by the linter to
// answer "`cutoff_len` is LLaMA-Factory's name: ours is `training.max_seq_length`" in ours.
import finetuneSchema from '../../../../schemas/finetune.schema.json';
import type { YamlPath } from '../yaml/paths';
import { schemaAt as schemaAtIn } from '../yaml/schemaAssist';
import type { SchemaNode } from '../yaml/schemaAssist';

// The schema itself rather than ./schema: the importer runs in the extension host too (untrusted
// workspaces have no language server), and ./schema brings the ajv compiler along.
const schemaAt = (path: YamlPath) => schemaAtIn(finetuneSchema as SchemaNode, path);

export type Tool = 'LLaMA-Factory' | 'axolotl';

const LF: readonly Tool[] = ['LLaMA-Factory'];
const AX: readonly Tool[] = ['axolotl'];
const BOTH: readonly Tool[] = ['LLaMA-Factory', 'axolotl'];

export interface KeyAlias {
  /** The other tool's key (top level in its config). */
  key: string;
  tools: readonly Tool[];
  /** Our key it becomes. */
  ours: YamlPath;
  /** Said after "ours is `…`" when the value does not carry over as is. */
  hint?: string;
  /**
   * The value under our key for the other tool's value; undefined when this value has no one-to-one
   * equivalent (the importer then explains, the linter offers no quick fix).
   */
  convert?: (value: unknown) => unknown;
}

/** A number, also from a string PyYAML would have left as one (`learning_rate: 5e-5`). */
export function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?\s*$/i.test(v)) return Number(v);
  return undefined;
}
const positiveInt = (v: unknown) => {
  const n = numberOf(v);
  return n !== undefined && Number.isInteger(n) && n >= 1 ? n : undefined;
};
const positive = (v: unknown) => {
  const n = numberOf(v);
  return n !== undefined && n > 0 ? n : undefined;
};
const fraction = (v: unknown) => {
  const n = numberOf(v);
  return n !== undefined && n >= 0 && n < 1 ? n : undefined;
};
const unit = (v: unknown) => {
  const n = numberOf(v);
  return n !== undefined && n >= 0 && n <= 1 ? n : undefined;
};
const bool = (v: unknown) => (typeof v === 'boolean' ? v : undefined);
const nonEmptyString = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
const oneOf =
  (...allowed: string[]) =>
  (v: unknown) =>
    typeof v === 'string' && allowed.includes(v) ? v : undefined;
const whenTrue = (result: string) => (v: unknown) => (v === true ? result : undefined);
const TRACKERS = ['tensorboard', 'wandb', 'mlflow', 'comet_ml', 'clearml', 'trackio'];
/** transformers' report_to (a name, `all`, or a list) as ours, when every tracker named is one we run. */
function trackersOf(v: unknown): string | string[] | undefined {
  const names = (Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : []).map((n) => String(n).trim());
  if (names.length === 1 && names[0] === 'none') return 'none';
  if (names.length === 0 || !names.every((n) => TRACKERS.includes(n))) return undefined;
  return names.length === 1 ? names[0] : [...new Set(names)];
}

/** The templates a config can name (schemas/chat-templates/, less the fallback no config names). */
export const BUILT_IN_TEMPLATES: ReadonlySet<string> = new Set(['chatml']);

/** A chat_template value of ours: a built-in name or a .jinja file. */
export function isOurTemplate(value: string): boolean {
  return BUILT_IN_TEMPLATES.has(value.trim()) || /\.jinja$/i.test(value.trim());
}

/** The schedulers both sides know by the same name (Hugging Face's `SchedulerType` names). */
export const SCHEDULERS = [
  'cosine',
  'linear',
  'constant',
  'constant_with_warmup',
  'cosine_with_restarts',
  'polynomial',
];

/** LLaMA-Factory's `lora_target` (a comma-separated string, `all` for every linear layer). */
export function targetModulesOf(value: unknown): string[] | 'all-linear' | undefined {
  const items = Array.isArray(value)
    ? value.map((v) => (typeof v === 'string' ? v.trim() : ''))
    : typeof value === 'string'
      ? value.split(',').map((v) => v.trim())
      : [];
  const names = [...new Set(items.filter((v) => v !== ''))];
  if (names.length === 0 || names.some((n) => /\s/.test(n))) return undefined;
  if (names.length === 1 && (names[0] === 'all' || names[0] === 'all-linear' || names[0] === 'all_linear'))
    return 'all-linear';
  return names.includes('all') ? undefined : names;
}

export const KEY_ALIASES: readonly KeyAlias[] = [
  { key: 'model_name_or_path', tools: LF, ours: ['base_model'], convert: nonEmptyString },
  { key: 'model_revision', tools: LF, ours: ['revision'], convert: nonEmptyString },
  {
    key: 'report_to',
    tools: LF,
    ours: ['training', 'report_to'],
    hint: 'none, tensorboard, wandb, mlflow, comet_ml, clearml or trackio (one or a list)',
    convert: trackersOf,
  },
  {
    key: 'finetuning_type',
    tools: LF,
    ours: ['method'],
    hint: 'lora or qlora; ModelFactory trains adapters only',
    convert: oneOf('lora'),
  },
  { key: 'adapter', tools: AX, ours: ['method'], hint: 'lora or qlora', convert: oneOf('lora', 'qlora') },
  {
    key: 'quantization_bit',
    tools: LF,
    ours: ['quantization'],
    hint: 'with `method: qlora`; 4-bit only',
  },
  { key: 'load_in_4bit', tools: AX, ours: ['quantization'], hint: 'with `method: qlora`' },
  { key: 'lora_rank', tools: LF, ours: ['lora', 'r'], convert: positiveInt },
  { key: 'lora_r', tools: AX, ours: ['lora', 'r'], convert: positiveInt },
  { key: 'lora_alpha', tools: BOTH, ours: ['lora', 'alpha'], convert: positive },
  { key: 'lora_dropout', tools: BOTH, ours: ['lora', 'dropout'], convert: unit },
  {
    key: 'lora_target',
    tools: LF,
    ours: ['lora', 'target_modules'],
    hint: 'a list, or all-linear for `all`',
    convert: targetModulesOf,
  },
  { key: 'lora_target_modules', tools: AX, ours: ['lora', 'target_modules'], convert: targetModulesOf },
  {
    key: 'lora_target_linear',
    tools: AX,
    ours: ['lora', 'target_modules'],
    hint: 'all-linear',
    convert: whenTrue('all-linear'),
  },
  {
    key: 'template',
    tools: LF,
    ours: ['chat_template'],
    hint: "chatml or a .jinja file; left out, the base model's own template",
    convert: (v) => (typeof v === 'string' && isOurTemplate(v) ? v.trim() : undefined),
  },
  { key: 'cutoff_len', tools: LF, ours: ['training', 'max_seq_length'], convert: positiveInt },
  { key: 'sequence_len', tools: AX, ours: ['training', 'max_seq_length'], convert: positiveInt },
  { key: 'learning_rate', tools: BOTH, ours: ['training', 'learning_rate'], convert: positive },
  { key: 'num_train_epochs', tools: LF, ours: ['training', 'epochs'], convert: positive },
  { key: 'num_epochs', tools: AX, ours: ['training', 'epochs'], convert: positive },
  { key: 'per_device_train_batch_size', tools: LF, ours: ['training', 'batch_size'], convert: positiveInt },
  { key: 'micro_batch_size', tools: AX, ours: ['training', 'batch_size'], convert: positiveInt },
  {
    key: 'gradient_accumulation_steps',
    tools: BOTH,
    ours: ['training', 'gradient_accumulation_steps'],
    convert: positiveInt,
  },
  {
    key: 'lr_scheduler_type',
    tools: LF,
    ours: ['training', 'lr_scheduler'],
    hint: SCHEDULERS.join(', '),
    convert: oneOf(...SCHEDULERS),
  },
  {
    key: 'lr_scheduler',
    tools: AX,
    ours: ['training', 'lr_scheduler'],
    hint: SCHEDULERS.join(', '),
    convert: oneOf(...SCHEDULERS),
  },
  { key: 'warmup_ratio', tools: BOTH, ours: ['training', 'warmup_ratio'], convert: unit },
  {
    key: 'warmup_steps',
    tools: BOTH,
    ours: ['training', 'warmup_ratio'],
    hint: 'a share of the steps, not a number of steps',
  },
  { key: 'weight_decay', tools: BOTH, ours: ['training', 'weight_decay'], convert: unit },
  {
    key: 'bf16',
    tools: BOTH,
    ours: ['training', 'precision'],
    hint: 'bf16',
    convert: (v) => (v === true || v === 'auto' ? 'bf16' : undefined),
  },
  { key: 'fp16', tools: BOTH, ours: ['training', 'precision'], hint: 'fp16', convert: whenTrue('fp16') },
  { key: 'pure_bf16', tools: LF, ours: ['training', 'precision'], hint: 'bf16', convert: whenTrue('bf16') },
  { key: 'gradient_checkpointing', tools: AX, ours: ['training', 'gradient_checkpointing'], convert: bool },
  {
    key: 'disable_gradient_checkpointing',
    tools: LF,
    ours: ['training', 'gradient_checkpointing'],
    hint: 'the opposite value',
    convert: (v) => (typeof v === 'boolean' ? !v : undefined),
  },
  {
    key: 'seed',
    tools: BOTH,
    ours: ['training', 'seed'],
    convert: (v) => (Number.isInteger(numberOf(v)) ? numberOf(v) : undefined),
  },
  { key: 'max_steps', tools: BOTH, ours: ['training', 'max_steps'], convert: positiveInt },
  { key: 'logging_steps', tools: BOTH, ours: ['training', 'logging_steps'], convert: positiveInt },
  { key: 'save_steps', tools: BOTH, ours: ['training', 'save_steps'], convert: positiveInt },
  { key: 'eval_steps', tools: BOTH, ours: ['training', 'eval_steps'], convert: positiveInt },
  { key: 'packing', tools: LF, ours: ['training', 'packing'], convert: bool },
  { key: 'sample_packing', tools: AX, ours: ['training', 'packing'], convert: bool },
  { key: 'dataset_dir', tools: LF, ours: ['dataset', 'path'], hint: 'the file itself, relative to this config' },
  { key: 'datasets', tools: AX, ours: ['dataset'], hint: 'one `{path: FILE}` or `{datanet: datanet.yaml}`' },
  {
    key: 'val_size',
    tools: LF,
    ours: ['dataset', 'eval_split'],
    hint: 'a share below 1, not a record count',
    convert: fraction,
  },
  {
    key: 'val_set_size',
    tools: AX,
    ours: ['dataset', 'eval_split'],
    hint: 'a share below 1, not a record count',
    convert: fraction,
  },
  { key: 'stage', tools: LF, ours: ['objective'], hint: 'sft, dpo or kto', convert: oneOf('sft', 'dpo', 'kto') },
  {
    key: 'rl',
    tools: AX,
    ours: ['objective'],
    hint: 'sft, dpo, orpo or kto',
    convert: oneOf('sft', 'dpo', 'orpo', 'kto'),
  },
  { key: 'pref_beta', tools: LF, ours: ['training', 'beta'], convert: positive },
  { key: 'rl_beta', tools: AX, ours: ['training', 'beta'], convert: positive },
];

export interface ForeignSetting {
  keys: readonly string[];
  tools: readonly Tool[];
  /** Why ModelFactory has no such key, and what to do instead. */
  reason: string;
}

/** The other tools' settings that have no equivalent here, with why. */
export const FOREIGN_SETTINGS: readonly ForeignSetting[] = [
  {
    keys: ['deepspeed', 'fsdp', 'fsdp_config', 'fsdp_version', 'ddp_timeout', 'ddp_find_unused_parameters'],
    tools: BOTH,
    reason: 'ModelFactory launches multi-GPU jobs itself',
  },
  {
    keys: ['plot_loss', 'logging_dir', 'use_swanlab', 'use_wandb'],
    tools: LF,
    reason: 'ModelFactory streams the metrics to its Job Dashboard',
  },
  {
    keys: ['wandb_project', 'wandb_entity', 'wandb_watch', 'wandb_name', 'wandb_log_model', 'wandb_run_id'],
    tools: AX,
    reason: 'ModelFactory streams the metrics to its Job Dashboard',
  },
  {
    keys: ['do_train', 'do_eval', 'do_predict'],
    tools: LF,
    reason: 'a ModelFactory config is a training job; evaluation follows dataset.eval_split',
  },
  {
    keys: ['overwrite_output_dir', 'save_only_model', 'save_total_limit', 'save_safetensors', 'resume_from_checkpoint'],
    tools: BOTH,
    reason: 'the trainer keeps its newest checkpoints as safetensors, and Resume Job continues from the newest',
  },
  {
    keys: ['saves_per_epoch', 'save_strategy'],
    tools: BOTH,
    reason: 'checkpoints are written once per epoch, or every training.save_steps',
  },
  {
    keys: ['eval_dataset', 'per_device_eval_batch_size', 'eval_strategy', 'evaluation_strategy', 'eval_batch_size'],
    tools: BOTH,
    reason:
      'evaluation holds out dataset.eval_split of the records, at the training batch size, once per epoch or every training.eval_steps',
  },
  {
    keys: ['evals_per_epoch', 'eval_sample_packing', 'eval_max_new_tokens', 'eval_causal_lm_metrics'],
    tools: AX,
    reason: 'evaluation runs once per epoch, or every training.eval_steps',
  },
  {
    keys: [
      'preprocessing_num_workers',
      'dataloader_num_workers',
      'dataset_processes',
      'overwrite_cache',
      'tokenized_path',
      'dataset_prepared_path',
      'streaming',
      'remove_unused_columns',
      'pad_to_sequence_len',
      'mix_strategy',
      'interleave_probs',
    ],
    tools: BOTH,
    reason: 'the trainer loads and tokenizes the records itself',
  },
  { keys: ['max_samples'], tools: LF, reason: 'ModelFactory trains on every record: trim the file instead' },
  {
    keys: [
      'flash_attn',
      'flash_attention',
      'attn_implementation',
      'xformers_attention',
      'sdp_attention',
      'enable_liger_kernel',
      'use_unsloth',
      'liger_kernel',
      'tf32',
      'use_kernels',
      'lora_mlp_kernel',
      'lora_qkv_kernel',
      'lora_o_kernel',
    ],
    tools: BOTH,
    reason: 'the trainer chooses the attention kernels and math modes',
  },
  {
    keys: ['hub_model_id', 'push_to_hub', 'hub_strategy', 'hub_private_repo', 'hf_use_auth_token'],
    tools: BOTH,
    reason: 'ModelFactory uploads nothing: the adapter is written to output_dir',
  },
  {
    keys: ['special_tokens', 'tokens', 'resize_vocab', 'new_special_tokens', 'add_tokens', 'add_special_tokens'],
    tools: BOTH,
    reason: 'ModelFactory does not change the tokenizer',
  },
  {
    keys: ['model_type', 'tokenizer_type', 'is_llama_derived_model', 'is_mistral_derived_model', 'tokenizer_config'],
    tools: AX,
    reason: "the architecture and the tokenizer are read from the model's own files",
  },
  { keys: ['optim', 'optimizer'], tools: BOTH, reason: 'the trainer uses AdamW' },
  { keys: ['plugins'], tools: AX, reason: 'axolotl plugins run inside axolotl' },
  {
    keys: [
      'use_dora',
      'use_rslora',
      'peft_use_dora',
      'peft_use_rslora',
      'loraplus_lr_ratio',
      'lora_fan_in_fan_out',
      'additional_target',
      'lora_modules_to_save',
      'pissa_init',
    ],
    tools: BOTH,
    reason: 'ModelFactory trains plain LoRA adapters',
  },
  {
    keys: ['lora_model_dir', 'adapter_name_or_path'],
    tools: BOTH,
    reason: 'training always starts a new adapter',
  },
  {
    keys: ['load_in_8bit'],
    tools: AX,
    reason: 'ModelFactory quantizes to 4 bits only (method: qlora with a quantization block)',
  },
  {
    keys: ['pref_loss', 'pref_ftx', 'kto_desirable_weight', 'kto_undesirable_weight'],
    tools: BOTH,
    reason: "ModelFactory runs TRL's default loss of each objective (training.beta is its one setting)",
  },
];

/** Families of settings named by a prefix (axolotl's liger_*, LLaMA-Factory's ray_*...). */
const FOREIGN_PREFIXES: readonly (ForeignSetting & { prefix: string })[] = [
  { prefix: 'wandb_', keys: [], tools: AX, reason: 'ModelFactory streams the metrics to its Job Dashboard' },
  { prefix: 'mlflow_', keys: [], tools: BOTH, reason: 'ModelFactory streams the metrics to its Job Dashboard' },
  { prefix: 'swanlab_', keys: [], tools: LF, reason: 'ModelFactory streams the metrics to its Job Dashboard' },
  { prefix: 'fsdp_', keys: [], tools: BOTH, reason: 'ModelFactory launches multi-GPU jobs itself' },
  { prefix: 'ray_', keys: [], tools: LF, reason: 'ModelFactory launches multi-GPU jobs itself' },
  { prefix: 'liger_', keys: [], tools: AX, reason: 'the trainer chooses the attention kernels and math modes' },
  {
    prefix: 'hub_',
    keys: [],
    tools: BOTH,
    reason: 'ModelFactory uploads nothing: the adapter is written to output_dir',
  },
];

const ALIAS_BY_KEY = new Map(KEY_ALIASES.map((a) => [a.key, a]));
const FOREIGN_BY_KEY = new Map(FOREIGN_SETTINGS.flatMap((s) => s.keys.map((k) => [k, s] as const)));

/** Whether our schema has `path` (a key the main schema may not have yet, like `objective`). */
export function schemaHas(path: YamlPath): boolean {
  return schemaAt(path) !== undefined;
}

/** The alias of a foreign key, when our schema has the key it maps to. */
export function aliasOf(key: string): KeyAlias | undefined {
  const alias = ALIAS_BY_KEY.get(key);
  return alias && schemaHas(alias.ours) ? alias : undefined;
}

export function foreignSettingOf(key: string): ForeignSetting | undefined {
  return FOREIGN_BY_KEY.get(key) ?? FOREIGN_PREFIXES.find((f) => key.startsWith(f.prefix));
}

/** "LLaMA-Factory's", "axolotl's", "LLaMA-Factory's and axolotl's". */
export function whose(tools: readonly Tool[]): string {
  return tools.map((t) => `${t}'s`).join(' and ');
}

/** `training.max_seq_length`, or `the top level` for []. */
export function dotted(path: YamlPath): string {
  return path.join('.');
}

let keyIndex: Map<string, YamlPath[]> | undefined;

/** Every place in our schema where a key name is defined: `learning_rate` -> [[training, learning_rate]]. */
export function placesOfKey(key: string): YamlPath[] {
  if (!keyIndex) {
    keyIndex = new Map();
    const walk = (node: ReturnType<typeof schemaAt>, path: YamlPath) => {
      for (const [name, child] of Object.entries(node?.properties ?? {})) {
        const here = [...path, name];
        keyIndex!.set(name, [...(keyIndex!.get(name) ?? []), here]);
        if (child.properties) walk(child, here);
      }
    };
    walk(finetuneSchema as SchemaNode, []);
  }
  return keyIndex.get(key) ?? [];
}
