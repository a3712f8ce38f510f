// Validation of a fine-tune config: YAML syntax, the schema, then model-aware and file-aware
// checks. Every finding points at the offending key or value and says how to fix it.
import { getNodeValue, parseTree } from 'jsonc-parser';
import { leadingElementValues, tooDeepForTree } from '../dataset/jsonArraySplit';
import { contractWords, hasMedia, objectiveProblem, toExample } from '../dataset/contract';
import type { ErrorObject } from 'ajv';
import { detectRecordFormat } from '../dataset/formats';
import { mapRegistryRecord } from '../dataset/registryEntry';
import type { RegistryReading } from '../dataset/registryEntry';
import { lookUpEntry, readRegistry, resolveEntry } from '../dataset/registryFile';
import type { RecordFormat } from '../dataset/formats';
import { joinPath, isAbsolutePath } from '../hfCache';
import type { Environment } from '../io';
import { configTokenizerFindings } from '../tokenizerCheck';
import type { CoreSettings } from '../settings';
import type { Finding, Range, Severity } from '../types';
import { filterSuppressed } from '../yaml/suppression';
import { syntaxFindings } from '../yaml/parse';
import type { ParsedYaml } from '../yaml/parse';
import { locatePath, rangeOfPath } from '../yaml/paths';
import type { YamlPath } from '../yaml/paths';
import { validateYaml } from '../yaml/validate';
import { canEstimate, estimateMemory, formatBytes, GIB, memoryBreakdown, memoryConfigOf } from './memory';
import type { MemoryConfig, MemoryModel } from './memory';
import { resolveModel } from './modelInfo';
import { configSchemaMessage } from './placement';
import type { ResolvedModel } from './modelInfo';
import { finetuneValidator, viewConfig } from './schema';
import type { ConfigView } from './schema';

export interface ConfigContext {
  env: Environment;
  /** The effective severity of a rule; undefined when the user turned it off. */
  severityOf(rule: string): Severity | undefined;
  settings: CoreSettings;
  /** The folder of the config file: dataset paths and local models are relative to it. */
  configDir: string;
}

/** Learning rates outside this band rarely work for LoRA adapters. */
export const LORA_LR_MIN = 1e-6;
export const LORA_LR_MAX = 1e-2;
/** beta of dpo, orpo and kto outside this band rarely works. */
export const PREFERENCE_BETA_MIN = 0.01;
export const PREFERENCE_BETA_MAX = 1;
/** How much of a dataset file is read to check its record format. */
const FORMAT_SAMPLE_BYTES = 16 * 1024;

/** Checks a parsed config (the caller parses once per document version: the language service's cache). */
export async function validateConfig(parsed: ParsedYaml, ctx: ConfigContext): Promise<Finding[]> {
  const syntax = syntaxFindings(parsed, 'config/schema', ctx.severityOf('config/schema') ?? 'error');
  if (syntax.length > 0) return filterSuppressed(ctx.severityOf('config/schema') ? syntax : [], parsed.lines);
  const findings = validateYaml(parsed, finetuneValidator(), {
    ruleFor: schemaRule,
    severityOf: (rule) => ctx.severityOf(rule),
    messageFor: (error, path) =>
      error.keyword === 'pattern' && path.join('.') === 'target'
        ? 'target must be local or remote:<name>, where <name> is an endpoint added with "ModelFactory: Add Remote Endpoint" (letters, digits, _ . -).'
        : configSchemaMessage(parsed, error, path),
  });
  const checks = new ConfigChecks(parsed, ctx, findings);
  await checks.run();
  findings.push(...(await configTokenizerFindings(parsed, ctx.configDir, ctx.env, ctx.severityOf)));
  return filterSuppressed(findings, parsed.lines);
}

/**
 * PEFT also puts adapters on the output head and the token embeddings (when new tokens are added,
 * or for small models), which the catalog's list of linear layers leaves out. Their names by
 * architecture; weights read from disk list them anyway.
 */
export function headAndEmbeddingNames(architecture: string | undefined): string[] {
  switch (architecture) {
    case 'ChatGLMModel':
    case 'ChatGLMForConditionalGeneration':
      return ['output_layer', 'word_embeddings'];
    case 'BloomForCausalLM':
      return ['lm_head', 'word_embeddings'];
    case 'GPT2LMHeadModel':
    case 'QWenLMHeadModel':
      return ['lm_head', 'wte'];
    default:
      return ['lm_head', 'embed_tokens'];
  }
}

function schemaRule(error: ErrorObject): string {
  if (error.keyword === 'additionalProperties') return 'config/unknown-key';
  if (error.keyword === 'required') return 'config/missing-key';
  const aboutKeys =
    error.keyword === 'oneOf' &&
    error.params['passingSchemas'] == null &&
    Array.isArray(error.schema) &&
    error.schema.every((s: object) => 'required' in s);
  return aboutKeys ? 'config/missing-key' : 'config/schema';
}

/** A Hugging Face Hub id (org/name), as the trainer's job server accepts one. */
const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}\/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$/;

class ConfigChecks {
  private readonly view: ConfigView;

  constructor(
    private readonly parsed: ParsedYaml,
    private readonly ctx: ConfigContext,
    private readonly findings: Finding[],
  ) {
    this.view = viewConfig(parsed.data);
  }

  private range(path: YamlPath, which: 'key' | 'value'): Range {
    return rangeOfPath(this.parsed.doc, this.parsed.lines, path, which);
  }

  private has(path: YamlPath): boolean {
    return locatePath(this.parsed.doc, path).depth === path.length;
  }

  private report(rule: string, range: Range, message: string, data?: Record<string, unknown>): void {
    const severity = this.ctx.severityOf(rule);
    if (!severity) return;
    this.findings.push({ rule, severity, range, message, ...(data ? { data } : {}) });
  }

  async run(): Promise<void> {
    this.checkQuantization();
    this.checkLearningRate();
    this.checkPreference();
    await Promise.all([this.checkModel(), this.checkDataset()]);
  }

  private checkQuantization(): void {
    const { view } = this;
    if (view.method === 'qlora' && !view.hasQuantization) {
      this.report(
        'config/qlora-requires-quantization',
        this.range(['method'], 'value'),
        'method: qlora trains on a 4-bit quantized model, but there is no quantization block. Add one (bits: 4, type: nf4, double_quant: true) or use method: lora.',
      );
    }
    if (view.method === 'lora' && view.hasQuantization) {
      this.report(
        'config/lora-with-quantization',
        this.range(['quantization'], 'key'),
        `method: ${view.methodGiven ? 'lora' : 'lora (the default)'} trains on an unquantized model, but a quantization block is set: that is QLoRA. Switch to method: qlora, or remove the quantization block.`,
      );
    }
  }

  private checkLearningRate(): void {
    const lr = this.view.learningRate;
    if (lr === undefined) return;
    const range = this.range(['training', 'learning_rate'], 'value');
    if (lr < LORA_LR_MIN) {
      this.report(
        'config/lr-range',
        range,
        `learning_rate ${lr} is below ${LORA_LR_MIN}: the adapters would barely move from their zero start. LoRA usually trains at 1e-5 to 1e-3; 2e-4 is a common start.`,
      );
    } else if (lr > LORA_LR_MAX) {
      this.report(
        'config/lr-range',
        range,
        `learning_rate ${lr} is above ${LORA_LR_MAX}: the loss is likely to diverge (NaN) or the model to forget. LoRA usually trains at 1e-5 to 1e-3; 2e-4 is a common start.`,
      );
    }
  }

  /** The preference objectives' settings: beta in range, no adapter on the output head (TRL refuses it). */
  private checkPreference(): void {
    const { objective, beta } = this.view;
    const preference = objective === 'dpo' || objective === 'orpo' || objective === 'kto';
    if (beta !== undefined && this.has(['training', 'beta'])) {
      const range = this.range(['training', 'beta'], 'value');
      if (!preference) {
        this.report(
          'config/beta-range',
          range,
          `training.beta only affects the preference objectives (dpo, orpo, kto); objective ${objective} ignores it.`,
        );
      } else if (beta < PREFERENCE_BETA_MIN || beta > PREFERENCE_BETA_MAX) {
        this.report(
          'config/beta-range',
          range,
          `beta ${beta} is outside ${PREFERENCE_BETA_MIN}-${PREFERENCE_BETA_MAX}: ${beta < PREFERENCE_BETA_MIN ? 'the model may drift far from the reference and forget' : 'the preference barely moves the model'}. ${objective} usually trains at beta 0.05-0.5; 0.1 is the default.`,
        );
      }
    }
    const targets = this.view.targetModules;
    if (!preference || targets === 'all-linear' || !this.has(['lora', 'target_modules'])) return;
    targets.forEach((target, index) => {
      if (target !== 'lm_head' && target !== 'output_layer') return;
      this.report(
        'config/objective-lora-head',
        this.range(['lora', 'target_modules', index], 'value'),
        `objective ${objective} computes its log-probabilities from the output head's weight directly, so an adapter on ${target} would never train (TRL refuses it). Remove ${target} from target_modules.`,
      );
    });
  }

  private async checkModel(): Promise<void> {
    const { view } = this;
    if (view.baseModel === undefined || view.baseModel.trim() === '') return;
    const model = await resolveModel(view.baseModel, this.ctx.configDir, this.ctx.env);
    const modelRange = this.range(['base_model'], 'value');
    if (!model.facts) {
      const problems = model.disk?.problems.length ? ` Problems: ${model.disk.problems.join(' ')}` : '';
      this.report(
        'config/model-unknown',
        modelRange,
        model.disk
          ? `"${view.baseModel}" was found at ${model.disk.dir}, but it has no readable config.json or safetensors weights; model-aware checks are skipped.${problems}`
          : HUB_ID.test(view.baseModel)
            ? `"${view.baseModel}" is not in the model catalog nor in this machine's Hugging Face cache. A trainer allowed to download (\`serve --allow-download\`; modelfactory.trainer.allowDownload for the local one) fetches it from the Hub before training; otherwise download it first (\`hf download ${view.baseModel}\`) or check the id. Model-aware checks are skipped.`
            : `"${view.baseModel}" is not in the model catalog and was not found on disk (as a folder relative to this file or in the Hugging Face cache). Download it first or check the id; model-aware checks are skipped.`,
      );
      return;
    }
    const facts = model.facts;
    if (model.disk?.problems.length) {
      this.report(
        'config/model-files',
        modelRange,
        `Some of ${view.baseModel}'s files were refused or hold implausible values; the checks use what could be read. ${model.disk.problems.slice(0, 5).join(' ')}${model.disk.problems.length > 5 ? ` (and ${model.disk.problems.length - 5} more)` : ''}`,
      );
    }
    if (facts.remoteCode && !view.trustRemoteCode) {
      this.report(
        'config/remote-code',
        modelRange,
        `${view.baseModel} runs its own Python code from the model repository. If you trust it, set trust_remote_code: true; otherwise pick a model that transformers supports natively.`,
      );
    }
    this.checkTargets(model);
    const context = facts.contextLength;
    if (context !== undefined && view.maxSeqLength > context && this.has(['training', 'max_seq_length'])) {
      this.report(
        'config/context-length',
        this.range(['training', 'max_seq_length'], 'value'),
        `max_seq_length ${view.maxSeqLength} exceeds ${view.baseModel}'s context window of ${context} tokens: positions past it were never trained and quality collapses. Use ${context} or less.`,
        { contextLength: context },
      );
    }
    this.checkMemory(model);
  }

  private checkTargets(model: ResolvedModel): void {
    const facts = model.facts!;
    const targets = this.view.targetModules;
    if (targets === 'all-linear' || facts.moduleNames.length === 0 || !this.has(['lora', 'target_modules'])) return;
    const headAndEmbeddings = headAndEmbeddingNames(facts.architecture);
    targets.forEach((target, index) => {
      if (facts.moduleNames.includes(target) || headAndEmbeddings.includes(target)) return;
      const where = model.disk && model.disk.linearModules.length > 0 ? 'in its weights' : 'in its architecture';
      this.report(
        'config/target-module',
        this.range(['lora', 'target_modules', index], 'value'),
        `${this.view.baseModel} has no module named "${target}" ${where}. Its linear modules are: ${facts.moduleNames.join(', ')} (or use all-linear).`,
        { module: target, valid: facts.moduleNames, defaults: facts.defaultTargets },
      );
    });
  }

  private checkMemory(model: ResolvedModel): void {
    const facts = model.facts!;
    if (!canEstimate(facts)) return;
    const cfg = memoryConfigOf(this.view);
    const estimate = estimateMemory(cfg, facts);
    const budget = this.ctx.settings.gpuMemoryGb * GIB;
    if (estimate.totalBytes <= budget) return;
    const parts = memoryBreakdown(estimate)
      .slice(0, 4)
      .map((p) => `${p.label} ${formatBytes(p.bytes)}`)
      .join(', ');
    const advice = memoryAdvice(cfg, facts, budget);
    this.report(
      'config/memory',
      this.range([this.has(['method']) ? 'method' : 'base_model'], 'value'),
      `Estimated GPU memory ${formatBytes(estimate.totalBytes)} exceeds the ${this.ctx.settings.gpuMemoryGb} GiB set in modelfactory.gpuMemoryGb (${parts}). ${advice}`,
      { totalBytes: estimate.totalBytes, parts: estimate.parts },
    );
  }

  /**
   * A Hub dataset cannot be read offline: say where its records are checked instead. Its own keys
   * (split, subset, revision) without `hub` are refused, in the trainer's words (config.py).
   */
  private checkHubDataset(): void {
    const raw = (this.parsed.data as Record<string, unknown> | undefined)?.['dataset'];
    const dataset = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
    const hub = dataset['hub'];
    if (hub === undefined) {
      for (const key of ['split', 'subset', 'revision'].filter((k) => k in dataset)) {
        this.report(
          'config/schema',
          this.range(['dataset', key], 'key'),
          `dataset.${key} applies to a Hub dataset: add "hub" (org/name) or remove it.`,
        );
      }
      return;
    }
    if (typeof hub !== 'string' || hub === '') return;
    this.report(
      'config/dataset-hub',
      this.range(['dataset', 'hub'], 'value'),
      `The records of the Hub dataset ${hub} are not read in the editor, which works offline: the trainer loads them (from its cache, or downloaded where it may) and checks every record against the record contract at pre-flight (\`python -m modelfactory_trainer check CONFIG\`) before training.`,
    );
  }

  private async checkDataset(): Promise<void> {
    await this.checkRegistry();
    this.checkHubDataset();
    for (const key of ['path', 'datanet'] as const) {
      const relative = key === 'path' ? this.view.datasetPath : this.view.datanet;
      if (relative === undefined || relative === '') continue;
      const absolute = isAbsolutePath(relative) ? relative : joinPath(this.ctx.configDir, relative);
      const stat = await this.ctx.env.fs.stat(absolute);
      const range = this.range(['dataset', key], 'value');
      if (!stat?.isFile) {
        const what = key === 'path' ? 'Dataset file' : 'Datanet manifest';
        this.report(
          'config/dataset-missing',
          range,
          `${what} "${relative}" ${stat?.isDirectory ? 'is a folder, not a file' : 'does not exist'} (resolved to ${absolute}, relative to this config file). Fix the path or create the file.`,
          { path: absolute },
        );
      } else if (key === 'path') {
        await this.checkFormat(absolute, stat.size, this.view.datasetPath!, 'path');
      }
    }
  }

  /** `dataset: {registry, name}`: the registry, the entry (as the trainer resolves it), then its records. */
  private async checkRegistry(): Promise<void> {
    const relative = this.view.registry;
    if (relative === undefined || relative === '') return;
    const absolute = isAbsolutePath(relative) ? relative : joinPath(this.ctx.configDir, relative);
    const registry = await readRegistry(this.ctx.env, absolute);
    if ('problem' in registry) {
      this.report(
        'config/dataset-missing',
        this.range(['dataset', 'registry'], 'value'),
        `Dataset registry "${relative}" ${registry.problem} (resolved to ${absolute}, relative to this config file).${registry.missing ? ' Fix the path or create the file.' : ''}`,
        { path: absolute },
      );
      return;
    }
    const name = this.view.registryName;
    if (name === undefined) return;
    const found = lookUpEntry(registry.info, name);
    if ('problem' in found) {
      this.report('config/dataset-missing', this.range(['dataset', 'name'], 'value'), `${relative} ${found.problem}`, {
        path: absolute,
        name,
      });
      return;
    }
    const entry = await resolveEntry(this.ctx.env, absolute, found.entry);
    if (!entry.ok) {
      this.report(
        'config/dataset-missing',
        this.range(['dataset', 'name'], 'value'),
        `${relative}: entry '${name}'${entry.key === 'file_name' ? ':' : ''} ${entry.problem}.`,
        { path: absolute, name },
      );
      return;
    }
    await this.checkFormat(entry.file, entry.size, `${relative} '${name}'`, 'name', entry.reading);
    await this.checkRegisteredRecords(entry.file, entry.size, `${relative} '${name}'`, entry.reading);
  }

  /**
   * The entry's first records, mapped through its columns and tags, as the trainer converts them: the
   * dataset linter sees the file's own keys, so a refusal that only the mapping causes is said here.
   */
  private async checkRegisteredRecords(path: string, size: number, label: string, reading: RegistryReading) {
    const sample = await this.ctx.env.fs.readRange(path, 0, Math.min(size, FORMAT_SAMPLE_BYTES));
    if (!sample) return;
    const records = sampleRecords(new TextDecoder().decode(sample), size <= FORMAT_SAMPLE_BYTES);
    const refusals = records.flatMap((record) => {
      const conversion = toExample(mapRegistryRecord(reading, record), reading.format);
      return conversion.ok ? [] : [conversion.refusals[0]!];
    });
    if (refusals.length === 0) return;
    const first = refusals[0]!;
    this.report(
      'config/dataset-format-mismatch',
      this.range(['dataset', 'name'], 'value'),
      `${label}: ${refusals.length} of the first ${records.length} record(s), read through the entry's columns and tags, are refused: ${first.message} [${first.rule}]`,
      { rule: first.rule, refused: refusals.length },
    );
  }

  private async checkFormat(
    path: string,
    size: number,
    label: string,
    key: 'path' | 'name',
    reading?: RegistryReading,
  ): Promise<void> {
    const declared = this.view.format;
    const sample = await this.ctx.env.fs.readRange(path, 0, Math.min(size, FORMAT_SAMPLE_BYTES));
    if (!sample) return;
    const detected = detectSampleFormat(new TextDecoder().decode(sample), size <= FORMAT_SAMPLE_BYTES, reading);
    // The objective against the records' format, in the record contract's words (the trainer says the same).
    const format = declared !== 'auto' ? (declared as RecordFormat) : detected?.format;
    const problem = format && objectiveProblem(this.view.objective, format);
    if (detected && detected.withMedia > 0) {
      this.report(
        'config/dataset-format-mismatch',
        this.range(['dataset', key], 'value'),
        `${label}: in its first records, ${contractWords('media-text-only', { count: detected.withMedia })}`,
        { media: detected.withMedia },
      );
    }
    if (problem) {
      const at = this.has(['objective']) ? this.range(['objective'], 'value') : this.range(['dataset', key], 'value');
      this.report('config/dataset-format-mismatch', at, `${label}: ${problem}`, {
        objective: this.view.objective,
        format,
      });
    }
    if (declared === 'auto' || !this.has(['dataset', 'format'])) return;
    if (!detected || detected.format === declared) return;
    this.report(
      'config/dataset-format-mismatch',
      this.range(['dataset', 'format'], 'value'),
      `dataset.format is ${declared}, but the first ${detected.records} record(s) of ${label} are ${detected.format} records. Set format: ${detected.format} (or auto), or convert the file.`,
      { declared, detected: detected.format },
    );
  }
}

/**
 * The complete elements at the start of a JSON array's text, which may be cut anywhere (jsonc-parser's
 * tolerant tree; the last element of a cut text may be partial, so it is left out).
 */
function leadingArrayElements(text: string, complete: boolean, limit: number): unknown[] {
  // jsonc-parser recurses per level: text nested deeper than a record may be is split by a flat scan.
  if (tooDeepForTree(text)) return leadingElementValues(text, limit, complete);
  const root = parseTree(text, [], { disallowComments: true, allowTrailingComma: false });
  if (root?.type !== 'array') return [];
  const children = root.children ?? [];
  return (complete ? children : children.slice(0, -1)).slice(0, limit).map(getNodeValue);
}

/**
 * The most common format among the complete records at the start of a JSONL or JSON-array file, and how
 * many of those records carry media (images, videos, audio).
 */
export function detectSampleFormat(
  sample: string,
  complete: boolean,
  reading?: RegistryReading,
): { format: RecordFormat; records: number; withMedia: number } | undefined {
  const records = sampleRecords(sample, complete).map((r) => (reading ? mapRegistryRecord(reading, r) : r));
  const counts = new Map<RecordFormat, number>();
  let withMedia = 0;
  for (const record of records) {
    // Read through a registry entry, every record is of the entry's format.
    const format =
      reading && typeof record === 'object' && record !== null ? reading.format : detectRecordFormat(record);
    if (format) counts.set(format, (counts.get(format) ?? 0) + 1);
    if (hasMedia(record)) withMedia++;
  }
  let best: RecordFormat | undefined;
  for (const [format, count] of counts) if (!best || count > counts.get(best)!) best = format;
  return best ? { format: best, records: counts.get(best)!, withMedia } : undefined;
}

/** The complete records at the start of a JSONL or JSON-array file's text (broken ones left out). */
export function sampleRecords(sample: string, complete: boolean): unknown[] {
  const text = sample.replace(/^\uFEFF/, '');
  let records: unknown[] = [];
  if (text.trimStart().startsWith('[')) {
    records = leadingArrayElements(text, complete, 50);
  } else {
    const end = complete ? text.length : text.lastIndexOf('\n');
    for (const line of text.slice(0, Math.max(0, end)).split(/\r?\n/)) {
      if (line.trim() === '') continue;
      try {
        records.push(JSON.parse(line));
      } catch {
        // Broken lines are the dataset validator's business; they say nothing about the format.
      }
    }
  }
  return records;
}

/** Concrete changes, each with the estimate it would give, cheapest in quality first. */
function memoryAdvice(cfg: MemoryConfig, model: MemoryModel, budget: number): string {
  const options: { change: string; cfg: MemoryConfig }[] = [];
  if (!cfg.gradientCheckpointing) {
    options.push({ change: 'gradient_checkpointing: true', cfg: { ...cfg, gradientCheckpointing: true } });
  }
  if (cfg.method === 'lora') {
    options.push({
      change: 'method: qlora (with a 4-bit quantization block)',
      cfg: { ...cfg, method: 'qlora', doubleQuant: true },
    });
  }
  if (cfg.batchSize > 1) {
    const half = Math.max(1, Math.floor(cfg.batchSize / 2));
    options.push({
      change: `batch_size: ${half} (double gradient_accumulation_steps to keep the effective batch)`,
      cfg: { ...cfg, batchSize: half },
    });
  }
  if (cfg.seqLength > 512) {
    const half = Math.floor(cfg.seqLength / 2);
    options.push({ change: `max_seq_length: ${half}`, cfg: { ...cfg, seqLength: half } });
  }
  if (options.length === 0) return 'Use a smaller model or a GPU with more memory.';
  const described = options.map((o) => `${o.change} -> ${formatBytes(estimateMemory(o.cfg, model).totalBytes)}`);
  const fits = options.some((o) => estimateMemory(o.cfg, model).totalBytes <= budget);
  return `Try: ${described.join('; ')}${fits ? '.' : '; or combine them, or use a smaller model.'}`;
}
