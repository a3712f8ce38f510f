// `modelfactory import`: a LLaMA-Factory or axolotl training YAML turned into a ModelFactory
// fine-tune config. The conversion is pure (text in, text out); the one look-up it needs from disk,
// LLaMA-Factory's dataset registry (dataset_info.json), goes through the injected Environment in
// `importConfigFile`. Keys with no equivalent become comments in the output that say why.
import { isMap, isPair, isScalar, parseDocument } from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import { dirName, isAbsolutePath, joinPath } from '../hfCache';
import type { Environment } from '../io';
import { formatValue } from '../yaml/emit';
import type { YamlPath } from '../yaml/paths';
import { aliasOf, BUILT_IN_TEMPLATES, dotted, foreignSettingOf, isOurTemplate, numberOf, schemaHas } from './aliases';
import type { Tool } from './aliases';
import finetuneSchema from '../../../../schemas/finetune.schema.json';

/** A LLaMA-Factory dataset name, resolved by the caller through dataset_info.json. */
export interface LlamaFactoryDataset {
  /** The file, as the new config should name it (relative to where it is written). */
  path?: string;
  /** Why there is no local file to train on. */
  problem?: string;
}

export interface ImportOptions {
  /** The source file's name, for the header comment. */
  sourceName?: string;
  /** LLaMA-Factory's `dataset:` names, resolved (see `resolveLlamaFactoryDatasets`). */
  datasets?: Record<string, LlamaFactoryDataset>;
  /**
   * A path from the source (axolotl's dataset paths, `output_dir`), which the other tools resolve
   * against the working directory, as the new config names it (relative to its own folder).
   */
  relocate?(path: string): string;
}

export interface ImportedConfig {
  ok: true;
  from: Tool;
  /** The new config's text. */
  text: string;
  /** Source keys and what they became (a dotted key of ours, or `(off)`/`(default)` when nothing is written). */
  mapped: { key: string; to: string }[];
  /** Source keys left as comments, with why. */
  notMapped: { key: string; reason: string }[];
}

export interface ImportRefused {
  ok: false;
  /** Why the text is not something to import (says which keys were expected). */
  message: string;
}

export type ImportResult = ImportedConfig | ImportRefused;

/** Keys only LLaMA-Factory configs have at the top level. */
const LLAMA_FACTORY_SIGNS = [
  'model_name_or_path',
  'finetuning_type',
  'stage',
  'cutoff_len',
  'lora_rank',
  'lora_target',
  'template',
  'dataset_dir',
  'quantization_bit',
  'per_device_train_batch_size',
  'num_train_epochs',
  'val_size',
  'do_train',
];
/** Keys only axolotl configs have at the top level. */
const AXOLOTL_SIGNS = [
  'datasets',
  'adapter',
  'sequence_len',
  'micro_batch_size',
  'num_epochs',
  'lora_r',
  'lora_target_modules',
  'lora_target_linear',
  'load_in_4bit',
  'load_in_8bit',
  'val_set_size',
  'sample_packing',
  'rl',
  'lr_scheduler',
];
const EXPECTED =
  "expected LLaMA-Factory's model_name_or_path (with stage, finetuning_type, dataset, template, cutoff_len...) or axolotl's base_model (with datasets, adapter, sequence_len, micro_batch_size...)";

/** Flags whose `false` means "off": nothing to write. */
const FLAGS = new Set(['bf16', 'fp16', 'pure_bf16', 'lora_target_linear', 'load_in_4bit', 'load_in_8bit', 'tf32']);

/** What each tool does for keys its config leaves out, where that differs from our defaults. */
const SOURCE_DEFAULTS: Record<Tool, { path: YamlPath; value: unknown; note: string }[]> = {
  'LLaMA-Factory': [
    { path: ['lora', 'r'], value: 8, note: "LLaMA-Factory's default lora_rank" },
    { path: ['lora', 'dropout'], value: 0, note: "LLaMA-Factory's default lora_dropout" },
    { path: ['lora', 'target_modules'], value: 'all-linear', note: "LLaMA-Factory's default lora_target: all" },
    { path: ['training', 'learning_rate'], value: 5e-5, note: "LLaMA-Factory's default learning_rate" },
    { path: ['training', 'epochs'], value: 3, note: "LLaMA-Factory's default num_train_epochs" },
    { path: ['training', 'batch_size'], value: 8, note: "LLaMA-Factory's default per_device_train_batch_size" },
    {
      path: ['training', 'gradient_accumulation_steps'],
      value: 1,
      note: "LLaMA-Factory's default gradient_accumulation_steps",
    },
    { path: ['training', 'lr_scheduler'], value: 'linear', note: "LLaMA-Factory's default lr_scheduler_type" },
    { path: ['training', 'warmup_ratio'], value: 0, note: "LLaMA-Factory's default: no warmup" },
    { path: ['dataset', 'eval_split'], value: 0, note: "LLaMA-Factory's default val_size: no evaluation" },
  ],
  axolotl: [
    { path: ['lora', 'dropout'], value: 0, note: "axolotl's default lora_dropout" },
    { path: ['training', 'epochs'], value: 1, note: "axolotl's default num_epochs" },
    { path: ['training', 'batch_size'], value: 1, note: "axolotl's default micro_batch_size" },
    {
      path: ['training', 'gradient_accumulation_steps'],
      value: 1,
      note: "axolotl's default gradient_accumulation_steps",
    },
    { path: ['training', 'max_seq_length'], value: 512, note: "axolotl's default sequence_len" },
    { path: ['training', 'warmup_ratio'], value: 0, note: "axolotl's default: no warmup" },
    { path: ['training', 'gradient_checkpointing'], value: false, note: "axolotl's default gradient_checkpointing" },
    { path: ['dataset', 'eval_split'], value: 0, note: "axolotl's default val_set_size: no evaluation" },
  ],
};

interface Entry {
  value: unknown;
  note?: string;
}

interface SourceKey {
  key: string;
  value: unknown;
  pair: Pair<Node, Node | null>;
}

/** Converts a LLaMA-Factory or axolotl config; refuses anything else, saying what was expected. */
export function importConfig(text: string, options: ImportOptions = {}): ImportResult {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    return { ok: false, message: `not valid YAML: ${error.message.split('\n')[0]}` };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, message: `the YAML cannot be read: ${(err as Error).message}` };
  }
  if (!isMap(doc.contents) || typeof data !== 'object' || data === null || Array.isArray(data)) {
    return {
      ok: false,
      message: `not a LLaMA-Factory or axolotl config: the file is not a mapping of keys; ${EXPECTED}`,
    };
  }
  const root = data as Record<string, unknown>;
  const tool = detectTool(root);
  if (typeof tool === 'string' && tool !== 'LLaMA-Factory' && tool !== 'axolotl') return { ok: false, message: tool };
  return new Importer(text, doc, root, tool as Tool, options).run();
}

function detectTool(root: Record<string, unknown>): Tool | string {
  const has = (key: string) => Object.prototype.hasOwnProperty.call(root, key);
  const lf = LLAMA_FACTORY_SIGNS.filter(has).length + (typeof root['dataset'] === 'string' ? 1 : 0);
  const ax = AXOLOTL_SIGNS.filter(has).length;
  if (lf === 0 && ax === 0) {
    const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (isObject(root['training']) || isObject(root['lora']) || isObject(root['dataset']) || has('method')) {
      return 'already a ModelFactory fine-tune config (it has our method, dataset, lora or training keys): check it with `modelfactory lint` instead';
    }
    const found = Object.keys(root).slice(0, 8).join(', ');
    return `not a LLaMA-Factory or axolotl config: ${EXPECTED}; found ${found === '' ? 'no keys' : found}`;
  }
  if (lf !== ax) return lf > ax ? 'LLaMA-Factory' : 'axolotl';
  return has('model_name_or_path') ? 'LLaMA-Factory' : 'axolotl';
}

class Importer {
  private readonly out = new Map<string, Entry>();
  private readonly mapped: { key: string; to: string }[] = [];
  private readonly notMapped: { key: string; reason: string; shown: string[] }[] = [];
  private readonly empty: string[] = [];
  private quant4 = false;
  private quantFrom = '';
  private evalSplit: { key: string; value: unknown } | undefined;

  constructor(
    private readonly text: string,
    private readonly doc: Document.Parsed,
    private readonly root: Record<string, unknown>,
    private readonly tool: Tool,
    private readonly options: ImportOptions,
  ) {}

  run(): ImportedConfig {
    const keys = this.sourceKeys();
    // axolotl adds every linear layer when lora_target_linear is true, whatever lora_target_modules lists.
    keys.sort((a, b) => Number(b.key === 'lora_target_linear') - Number(a.key === 'lora_target_linear'));
    for (const source of keys) this.importKey(source);
    this.finish();
    return {
      ok: true,
      from: this.tool,
      text: this.render(),
      mapped: this.mapped,
      notMapped: this.notMapped.map(({ key, reason }) => ({ key, reason })),
    };
  }

  private sourceKeys(): SourceKey[] {
    const keys: SourceKey[] = [];
    const seen = new Set<string>();
    for (const item of (this.doc.contents as { items: unknown[] }).items) {
      if (!isPair(item)) continue;
      const pair = item as Pair<Node, Node | null>;
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (seen.has(key)) continue; // a repeated key: the value that won is in `root`
      seen.add(key);
      keys.push({ key, value: this.root[key], pair });
    }
    return keys;
  }

  // ---- recording ----

  private set(path: YamlPath, value: unknown, from: string, note?: string): boolean {
    const id = dotted(path);
    const existing = this.out.get(id);
    if (existing) {
      this.skip(from, `ModelFactory's ${id} is already set from ${this.sourceOf(id)}`);
      return false;
    }
    this.out.set(id, note === undefined ? { value } : { value, note });
    this.mapped.push({ key: from, to: id });
    return true;
  }

  private sourceOf(id: string): string {
    return this.mapped.find((m) => m.to === id)?.key ?? 'a default';
  }

  private has(path: YamlPath): boolean {
    return this.out.has(dotted(path));
  }

  private consumed(key: string, to: string): void {
    this.mapped.push({ key, to });
  }

  /** A key left as a comment; `shown` is how the comment shows the source (default: the key's own text). */
  private skip(key: string, reason: string, shown?: string[]): void {
    const source = this.shownSource(key);
    this.notMapped.push({ key, reason, shown: shown ?? source });
  }

  private shownSource(key: string): string[] {
    const item = (this.doc.contents as { items: unknown[] }).items.find(
      (i) => isPair(i) && isScalar(i.key) && String(i.key.value) === key,
    ) as Pair<Node, Node | null> | undefined;
    if (!item?.key?.range) return [`${key}: ${formatValue(this.root[key])}`];
    const value = item.value;
    const start = item.key.range[0];
    const end = value?.range ? value.range[1] : item.key.range[1];
    const raw = this.text.slice(start, end).replace(/\s+$/, '');
    if (!raw.includes('\n')) return [raw];
    const lineStart = this.text.lastIndexOf('\n', start - 1) + 1;
    const indent = start - lineStart;
    return this.text
      .slice(lineStart, end)
      .replace(/\s+$/, '')
      .split(/\r?\n/)
      .map((line) => line.slice(Math.min(indent, line.length - line.trimStart().length)));
  }

  // ---- the keys ----

  private importKey({ key, value }: SourceKey): void {
    if (value === null || value === undefined) {
      this.empty.push(key);
      return;
    }
    if (value === false && FLAGS.has(key)) {
      this.consumed(key, '(off)');
      return;
    }
    switch (key) {
      case 'base_model':
      case 'model_name_or_path':
        if (typeof value === 'string' && value.trim() !== '') this.set(['base_model'], value.trim(), key);
        else this.skip(key, 'the base model must be a Hugging Face id or a folder');
        return;
      case 'trust_remote_code':
        if (typeof value === 'boolean') this.set(['trust_remote_code'], value, key);
        else this.skip(key, 'trust_remote_code is true or false');
        return;
      case 'output_dir':
        if (typeof value === 'string' && value.trim() !== '') this.set(['output_dir'], this.relocate(value), key);
        else this.skip(key, 'output_dir is a folder path');
        return;
      case 'finetuning_type':
        return this.methodFrom(key, value, value === 'lora');
      case 'adapter':
        if (value === 'qlora') {
          this.quant4 = true;
          this.quantFrom ||= key;
        }
        return this.methodFrom(key, value, value === 'lora' || value === 'qlora');
      case 'quantization_bit':
      case 'load_in_4bit':
        return this.quantization(key, value);
      case 'load_in_8bit':
        return this.skip(key, EIGHT_BIT);
      case 'quantization_method':
        if (value === 'bnb' || value === 'bitsandbytes') this.consumed(key, 'quantization');
        else this.skip(key, 'ModelFactory quantizes with bitsandbytes (nf4 or fp4)');
        return;
      case 'quantization_type':
        if (value === 'nf4' || value === 'fp4') this.set(['quantization', 'type'], value, key);
        else this.skip(key, 'the 4-bit type is nf4 or fp4');
        return;
      case 'double_quantization':
        if (typeof value === 'boolean') this.set(['quantization', 'double_quant'], value, key);
        else this.skip(key, 'double_quantization is true or false');
        return;
      case 'bnb_config_kwargs':
        return this.bnbKwargs(key, value);
      case 'stage':
      case 'rl':
        return this.objective(key, value);
      case 'template':
      case 'chat_template':
        return this.chatTemplate(key, value);
      case 'dataset':
        return this.llamaFactoryDatasets(key, value);
      case 'dataset_dir':
        this.consumed(key, 'dataset.path');
        return;
      case 'datasets':
        return this.axolotlDatasets(key, value);
      case 'val_size':
      case 'val_set_size':
        this.evalSplit ??= { key, value };
        if (this.evalSplit.key !== key)
          this.skip(key, `the evaluation share is already set from ${this.evalSplit.key}`);
        return;
      case 'warmup_steps':
        return this.warmupSteps(key, value);
      case 'max_steps':
        if ((numberOf(value) ?? 0) <= 0) {
          this.consumed(key, '(default)');
          return;
        }
        break;
      case 'pure_bf16':
        if (value === true)
          this.set(['training', 'precision'], 'bf16', key, 'from pure_bf16: the trainer keeps fp32 master weights');
        else this.skip(key, 'pure_bf16 is true or false');
        return;
      case 'bf16':
        if (value === 'auto') {
          this.set(['training', 'precision'], 'bf16', key, 'from bf16: auto; fp32 where the GPU has no bf16');
          return;
        }
        break;
    }
    this.generic(key, value);
  }

  private generic(key: string, value: unknown): void {
    const alias = aliasOf(key);
    if (alias) {
      const converted = alias.convert?.(value);
      if (converted !== undefined) {
        this.set(alias.ours, converted, key);
        return;
      }
      this.skip(
        key,
        `this value has no equivalent: ours is ${dotted(alias.ours)}${alias.hint ? ` (${alias.hint})` : ''}`,
      );
      return;
    }
    const foreign = foreignSettingOf(key);
    this.skip(key, foreign ? foreign.reason : 'ModelFactory has no equivalent setting');
  }

  private relocate(path: string): string {
    return this.options.relocate ? this.options.relocate(path) : path;
  }

  private methodFrom(key: string, value: unknown, ok: boolean): void {
    if (ok) {
      this.consumed(key, 'method');
      return;
    }
    this.skip(
      key,
      `ModelFactory trains LoRA or QLoRA adapters only, so this imports as LoRA; the learning rate was chosen for ${String(value)} training`,
    );
  }

  private quantization(key: string, value: unknown): void {
    if (value === 4 || value === true) {
      this.quant4 = true;
      this.quantFrom ||= key;
      this.consumed(key, 'quantization');
    } else if (value === 8) {
      this.skip(key, EIGHT_BIT);
    } else {
      this.skip(key, 'ModelFactory quantizes to 4 bits only (method: qlora)');
    }
  }

  private bnbKwargs(key: string, value: unknown): void {
    const kwargs = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
    const rest: string[] = [];
    for (const [name, v] of Object.entries(kwargs)) {
      if (name === 'bnb_4bit_quant_type' && (v === 'nf4' || v === 'fp4'))
        this.set(['quantization', 'type'], v, `${key}.${name}`);
      else if (name === 'bnb_4bit_use_double_quant' && typeof v === 'boolean')
        this.set(['quantization', 'double_quant'], v, `${key}.${name}`);
      else rest.push(name);
    }
    if (rest.length > 0) this.skip(key, `ModelFactory sets no other bitsandbytes options (${rest.join(', ')})`);
  }

  private objective(key: string, value: unknown): void {
    const name = String(value);
    if (!schemaHas(['objective'])) {
      this.skip(key, `ModelFactory's config has no objective key: it trains supervised fine-tuning (sft)`);
      return;
    }
    if (name === 'sft' || name === 'dpo' || name === 'kto') {
      this.set(['objective'], name, key);
      return;
    }
    const reasons: Record<string, string> = {
      pt: 'continued pretraining on raw text: ModelFactory trains text records (dataset.format: text) with objective sft',
      rm: 'reward-model training is not supported: the objectives are sft, dpo and kto',
      ppo: 'PPO is not supported: the objectives are sft, dpo and kto',
    };
    this.skip(key, reasons[name] ?? `${name} is not supported: the objectives are sft, dpo and kto`);
  }

  private chatTemplate(key: string, value: unknown): void {
    if (typeof value !== 'string' || value.trim() === '') {
      this.skip(key, 'a chat template is named by a string');
    } else if (!schemaHas(['chat_template'])) {
      this.skip(key, "ModelFactory's config has no chat_template key: the base model's own template is used");
    } else if (value === 'tokenizer_default') {
      this.consumed(key, '(default)');
    } else if (value === 'jinja') {
      this.skip(
        key,
        'the template is the chat_template_jinja text: save it as a .jinja file next to this config and set chat_template to that file',
      );
    } else if (isOurTemplate(value)) {
      this.set(['chat_template'], /\.jinja$/i.test(value) ? this.relocate(value.trim()) : value.trim(), key);
    } else {
      // LLaMA-Factory's `qwen3_nothink`, axolotl's `llama3`: names in their own template registries.
      this.skip(
        key,
        `a ${this.tool} template name, not one of ModelFactory's (${[...BUILT_IN_TEMPLATES].join(', ')}): with chat_template left out the base model's own template (tokenizer_config.json) is used; set chat_template to chatml or a .jinja file to choose another`,
      );
    }
  }

  private llamaFactoryDatasets(key: string, value: unknown): void {
    if (typeof value !== 'string' && !Array.isArray(value)) {
      this.skip(key, 'LLaMA-Factory names datasets with a comma-separated string');
      return;
    }
    const names = llamaFactoryNames(value);
    const dir = typeof this.root['dataset_dir'] === 'string' ? this.root['dataset_dir'] : 'data';
    for (const name of names) {
      const resolved = this.options.datasets?.[name];
      const shown = [`${key}: ${name}`];
      const chosen = this.out.get('dataset.path');
      if (chosen) {
        this.skip(
          key,
          `ModelFactory trains on one file, or on the files a Datanet governs: merge this one into ${String(chosen.value)}, or list both in a Datanet`,
          shown,
        );
      } else if (resolved?.path) {
        this.set(['dataset', 'path'], resolved.path, key, `LLaMA-Factory dataset ${name}`);
      } else {
        this.skip(
          key,
          resolved?.problem ??
            `a LLaMA-Factory dataset name: its file is listed in ${dir}/dataset_info.json, which was not read; set dataset.path to the file`,
          shown,
        );
      }
    }
  }

  private axolotlDatasets(key: string, value: unknown): void {
    const entries = Array.isArray(value) ? value : [value];
    entries.forEach((entry, index) => {
      const label = entries.length > 1 || Array.isArray(value) ? `${key}[${index}]` : key;
      const shown = [`${label}: ${formatValue(entry)}`];
      const e: Record<string, unknown> =
        typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : { path: entry };
      const file = localDatasetFile(e);
      if (this.out.has('dataset.path')) {
        this.skip(
          label,
          `ModelFactory trains on one file, or on the files a Datanet governs: merge this one into ${String(this.out.get('dataset.path')!.value)}, or list both in a Datanet`,
          shown,
        );
        return;
      }
      if (!file) {
        const where = typeof e['path'] === 'string' ? `${e['path']} is a Hugging Face Hub dataset` : 'it names no file';
        this.skip(
          label,
          `${where}: ModelFactory trains on local files (nothing is downloaded); save it as JSONL and set dataset.path`,
          shown,
        );
        return;
      }
      if (!/\.jsonl?$/i.test(file)) {
        this.skip(label, 'ModelFactory reads JSONL or JSON files: convert it and set dataset.path', shown);
        return;
      }
      this.set(['dataset', 'path'], this.relocate(file), label);
      const format = recordFormatOf(e);
      if (format) this.set(['dataset', 'format'], format, `${label}.type`);
      const rest = Object.keys(e).filter((k) => !['path', 'type', 'ds_type', 'data_files', 'split'].includes(k));
      if (e['type'] !== undefined && !format) rest.unshift('type');
      if (rest.length > 0) {
        this.skip(
          label,
          `ModelFactory reads the record format from the records (alpaca, sharegpt, messages, text, preference) and maps no fields: ${rest.join(', ')} not carried over`,
          shown,
        );
      }
    });
  }

  private warmupSteps(key: string, value: unknown): void {
    const steps = numberOf(value);
    const maxSteps = numberOf(this.root['max_steps']);
    if (steps === 0) {
      if (!this.has(['training', 'warmup_ratio'])) this.set(['training', 'warmup_ratio'], 0, key);
      else this.consumed(key, '(default)');
    } else if (steps !== undefined && steps > 0 && maxSteps !== undefined && maxSteps >= steps) {
      const ratio = Math.round((steps / maxSteps) * 10_000) / 10_000;
      this.set(['training', 'warmup_ratio'], ratio, key, `warmup_steps ${steps} of max_steps ${maxSteps}`);
    } else {
      this.skip(
        key,
        'ours is training.warmup_ratio, a share of the optimizer steps: set it to warmup_steps / the total number of steps',
      );
    }
  }

  // ---- after every key ----

  private finish(): void {
    if (this.tool === 'axolotl' && this.root['adapter'] === undefined) {
      this.skip(
        'adapter',
        'the source sets no adapter, so axolotl would fine-tune every weight; ModelFactory trains adapters, so this imports as LoRA',
        ['adapter: (not set)'],
      );
    }
    if (this.quant4) {
      this.out.set('method', { value: 'qlora' });
      this.out.set('quantization.bits', { value: 4 });
      if (!this.has(['quantization', 'type'])) this.out.set('quantization.type', { value: 'nf4' });
      if (!this.has(['quantization', 'double_quant'])) this.out.set('quantization.double_quant', { value: true });
    } else {
      this.out.set('method', { value: 'lora' });
      for (const id of ['quantization.type', 'quantization.double_quant']) {
        if (!this.out.has(id)) continue;
        const from = this.sourceOf(id);
        this.out.delete(id);
        const index = this.mapped.findIndex((m) => m.to === id);
        if (index >= 0) this.mapped.splice(index, 1);
        this.skip(from.split('.')[0]!, 'the source trains no 4-bit quantized model, so there is no quantization block');
      }
    }
    if (this.evalSplit) {
      const { key, value } = this.evalSplit;
      const share = numberOf(value);
      if (!this.has(['dataset', 'path'])) {
        this.skip(key, 'no dataset file was mapped to hold out records from');
      } else if (share !== undefined && share >= 0 && share < 1) {
        this.set(['dataset', 'eval_split'], share, key);
      } else {
        this.skip(
          key,
          `a count of ${String(value)} records; ours is dataset.eval_split, a share below 1: set it to ${String(value)} / the number of records`,
        );
      }
    }
    const fallbacks = [...SOURCE_DEFAULTS[this.tool]];
    if (this.tool === 'LLaMA-Factory') {
      const rank = numberOf(this.out.get('lora.r')?.value) ?? 8;
      fallbacks.push({ path: ['lora', 'alpha'], value: rank * 2, note: "LLaMA-Factory's default: 2 x lora_rank" });
    }
    // The other tool's defaults where ours differ; a value equal to ours needs no line.
    for (const fallback of fallbacks) {
      if (this.has(fallback.path) || sameValue(defaultOf(fallback.path), fallback.value)) continue;
      if (fallback.path[0] === 'dataset' && (!this.has(['dataset', 'path']) || this.evalSplit)) continue;
      this.out.set(dotted(fallback.path), { value: fallback.value, note: fallback.note });
    }
  }

  // ---- output ----

  private render(): string {
    const lines: string[] = [];
    const article = this.tool === 'axolotl' ? 'an' : 'a';
    const source = this.options.sourceName
      ? `${this.options.sourceName} (${article} ${this.tool} config)`
      : `${article} ${this.tool} config`;
    lines.push(`# Imported from ${source} by \`modelfactory import\`.`);
    lines.push(`# Settings the source left to ${this.tool}'s defaults are written out where ours differ;`);
    lines.push('# keys with no ModelFactory equivalent are comments at the end, each with why.');
    if (!this.has(['base_model'])) lines.push('# base_model: the source names no model: set one.');
    if (!this.has(['dataset', 'path'])) {
      lines.push(
        '# dataset: no local dataset file could be mapped (see the end): set dataset.path or dataset.datanet.',
      );
    }
    const schema = finetuneSchema as { properties: Record<string, { properties?: Record<string, unknown> }> };
    for (const [name, node] of Object.entries(schema.properties)) {
      if (node.properties) {
        const children = Object.keys(node.properties).filter((child) => this.out.has(`${name}.${child}`));
        if (children.length === 0) continue;
        lines.push(`${name}:`);
        for (const child of children) lines.push(`  ${this.line(child, this.out.get(`${name}.${child}`)!)}`);
      } else if (this.out.has(name)) {
        lines.push(this.line(name, this.out.get(name)!));
      }
    }
    if (this.notMapped.length > 0) {
      lines.push('');
      lines.push(`# Not mapped from ${this.tool}:`);
      for (const { key, reason, shown } of this.notMapped) {
        if (shown.length === 1) lines.push(`# ${shown[0]} — not mapped: ${reason}`);
        else {
          lines.push(`# ${key} — not mapped: ${reason}`);
          for (const line of shown) lines.push(`#   ${line}`.trimEnd());
        }
      }
    }
    if (this.empty.length > 0) {
      lines.push('');
      lines.push(`# Empty in the source, nothing to map: ${this.empty.join(', ')}`);
    }
    return lines.join('\n') + '\n';
  }

  private line(key: string, entry: Entry): string {
    const value = formatValue(entry.value);
    return entry.note ? `${key}: ${value} # ${entry.note}` : `${key}: ${value}`;
  }
}

const EIGHT_BIT =
  'ModelFactory quantizes to 4 bits only: this imports as LoRA on the unquantized model, which needs about twice the weight memory of 8-bit; use method: qlora (with a quantization block) for 4-bit';

function defaultOf(path: YamlPath): unknown {
  type SchemaLike = { properties?: Record<string, SchemaLike>; default?: unknown };
  let node: SchemaLike | undefined = finetuneSchema as SchemaLike;
  for (const segment of path) node = node?.properties?.[String(segment)];
  return node?.default;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** LLaMA-Factory's `dataset: a,b` (or a list) as names. */
function llamaFactoryNames(value: unknown): string[] {
  const items = Array.isArray(value) ? value.map(String) : String(value).split(',');
  return items.map((n) => n.trim()).filter((n) => n !== '');
}

/** The local file an axolotl dataset entry reads, when it reads one (rather than a Hub dataset). */
function localDatasetFile(entry: Record<string, unknown>): string | undefined {
  const path = typeof entry['path'] === 'string' ? entry['path'] : undefined;
  const dataFiles = entry['data_files'];
  const firstFile =
    typeof dataFiles === 'string'
      ? dataFiles
      : Array.isArray(dataFiles) && typeof dataFiles[0] === 'string'
        ? dataFiles[0]
        : undefined;
  const fileType =
    typeof entry['ds_type'] === 'string' &&
    ['json', 'jsonl', 'parquet', 'csv', 'arrow', 'text'].includes(entry['ds_type']);
  if (firstFile && (fileType || !path || /^[./~]/.test(path))) return firstFile;
  if (!path) return undefined;
  if (fileType || /^[./~]/.test(path) || /\.(jsonl?|parquet|csv|arrow|txt)$/i.test(path)) return path;
  return undefined;
}

/** Our record format for an axolotl dataset `type`, when they are the same records. */
function recordFormatOf(entry: Record<string, unknown>): string | undefined {
  const type = entry['type'];
  if (type === 'alpaca' || type === 'sharegpt') return type;
  if (type === 'completion') return 'text';
  if (type === 'chat_template' && (entry['field_messages'] === undefined || entry['field_messages'] === 'messages'))
    return 'messages';
  return undefined;
}

// ---- reading LLaMA-Factory's dataset registry ----

/** The dataset names of a LLaMA-Factory config and its `dataset_dir`; undefined for other configs. */
export function llamaFactoryDatasetRefs(text: string): { names: string[]; datasetDir: string } | undefined {
  let data: unknown;
  try {
    data = parseDocument(text, { uniqueKeys: false }).toJS({ maxAliasCount: 100 });
  } catch {
    return undefined;
  }
  const root = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  const dataset = root['dataset'];
  if (typeof dataset !== 'string' && !Array.isArray(dataset)) return undefined;
  const datasetDir =
    typeof root['dataset_dir'] === 'string' && root['dataset_dir'] !== '' ? root['dataset_dir'] : 'data';
  return { names: llamaFactoryNames(dataset), datasetDir };
}

export interface ImportLocations {
  /** The source config, absolute. */
  sourcePath?: string | undefined;
  /** The working directory the other tool would run in (its relative paths start there). */
  cwd?: string | undefined;
  /** Where the new config will be written: its paths are relative to this folder. */
  outputDir?: string | undefined;
}

/**
 * LLaMA-Factory resolves `dataset_dir` against its working directory: look there, then next to the
 * config and in the folders above it (examples/train_lora/x.yaml and data/ at the repository root).
 */
export async function resolveLlamaFactoryDatasets(
  env: Environment,
  refs: { names: string[]; datasetDir: string },
  where: ImportLocations,
): Promise<Record<string, LlamaFactoryDataset>> {
  if (/^REMOTE:/i.test(refs.datasetDir)) {
    const problem = `its registry is on a dataset hub (dataset_dir: ${refs.datasetDir}): ModelFactory trains on local files (nothing is downloaded); save the records as JSONL and set dataset.path`;
    return Object.fromEntries(refs.names.map((name) => [name, { problem }]));
  }
  const candidates: string[] = [];
  if (isAbsolutePath(refs.datasetDir)) candidates.push(refs.datasetDir);
  else {
    if (where.cwd) candidates.push(joinPath(where.cwd, refs.datasetDir));
    let dir = where.sourcePath ? dirName(where.sourcePath) : undefined;
    for (let up = 0; dir && up < 4; up++) {
      candidates.push(joinPath(dir, refs.datasetDir));
      const parent = dirName(dir);
      dir = parent === dir ? undefined : parent;
    }
  }
  let registry: { dir: string; info: Record<string, unknown> } | undefined;
  for (const dir of [...new Set(candidates)]) {
    const bytes = await env.fs.readFile(joinPath(dir, 'dataset_info.json'));
    if (!bytes) continue;
    try {
      const info: unknown = JSON.parse(new TextDecoder().decode(bytes));
      if (typeof info === 'object' && info !== null && !Array.isArray(info)) {
        registry = { dir, info: info as Record<string, unknown> };
        break;
      }
    } catch {
      // not a registry; keep looking
    }
  }
  const out: Record<string, LlamaFactoryDataset> = {};
  for (const name of refs.names) {
    if (!registry) {
      out[name] = {
        problem: `a LLaMA-Factory dataset name, but ${refs.datasetDir}/dataset_info.json was not found (looked in ${[...new Set(candidates)].join(', ') || 'no folder'}): set dataset.path to its file`,
      };
      continue;
    }
    const entry = registry.info[name];
    const info = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : undefined;
    const registryFile = joinPath(registry.dir, 'dataset_info.json');
    const hub =
      info && ['hf_hub_url', 'ms_hub_url', 'om_hub_url', 'script_url'].find((k) => typeof info[k] === 'string');
    if (!info) {
      out[name] = { problem: `"${name}" is not listed in ${registryFile}` };
    } else if (typeof info['file_name'] === 'string') {
      const file = joinPath(registry.dir, info['file_name']);
      const stat = await env.fs.stat(file);
      if (stat?.isDirectory) {
        out[name] = {
          problem: `${info['file_name']} is a folder: ModelFactory trains on one JSONL or JSON file, or on the files a Datanet governs`,
        };
      } else if (!/\.jsonl?$/i.test(file)) {
        out[name] = {
          problem: `${info['file_name']}: ModelFactory reads JSONL or JSON files; convert it and set dataset.path`,
        };
      } else {
        out[name] = { path: where.outputDir ? relativePath(where.outputDir, file) : file };
      }
    } else if (hub) {
      out[name] = {
        problem: `a hub dataset (${hub}: ${String(info[hub])}): ModelFactory trains on local files (nothing is downloaded); save it as JSONL and set dataset.path`,
      };
    } else {
      out[name] = { problem: `its entry in ${registryFile} names no file_name` };
    }
  }
  return out;
}

/** `to` relative to the folder `from` (both absolute); `to` unchanged when either is relative. */
export function relativePath(from: string, to: string): string {
  if (!isAbsolutePath(from) || !isAbsolutePath(to)) return to;
  const a = joinPath(from)
    .split('/')
    .filter((s) => s !== '');
  const b = joinPath(to)
    .split('/')
    .filter((s) => s !== '');
  if (/^[A-Za-z]:$/.test(b[0] ?? '') && a[0]?.toLowerCase() !== b[0]?.toLowerCase()) return to;
  let common = 0;
  while (common < a.length && common < b.length && a[common] === b[common]) common++;
  const up = a.slice(common).map(() => '..');
  return [...up, ...b.slice(common)].join('/') || '.';
}

/**
 * The whole import as the CLI and the language server run it: dataset names looked up in
 * LLaMA-Factory's registry, and the other tool's working-directory paths made relative to the new
 * config's folder.
 */
export async function importConfigFile(env: Environment, text: string, where: ImportLocations): Promise<ImportResult> {
  const refs = llamaFactoryDatasetRefs(text);
  const base = where.cwd ?? (where.sourcePath ? dirName(where.sourcePath) : undefined);
  const options: ImportOptions = {};
  if (where.sourcePath)
    options.sourceName = where.sourcePath.slice(where.sourcePath.replace(/[\\/]+$/, '').lastIndexOf('/') + 1);
  if (refs) options.datasets = await resolveLlamaFactoryDatasets(env, refs, where);
  if (base && where.outputDir) {
    const outputDir = where.outputDir;
    options.relocate = (path) =>
      path.startsWith('~') ? path : relativePath(outputDir, isAbsolutePath(path) ? path : joinPath(base, path));
  }
  return importConfig(text, options);
}
