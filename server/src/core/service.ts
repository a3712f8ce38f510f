// The language-service facade: one object the LSP shell and the CLI both call. It decides what a
// file is, which Datanet governs it, which tokenizer counts its tokens and which severities apply,
// then hands the work to the feature modules. It holds no connection and does no I/O of its own
// beyond the injected Environment.
import { templateSetFor } from './chatTemplate';
import { parseConfig, viewConfig } from './config/schema';
import { DatanetIndex, type GoverningDatanet } from './datanet/governance';
import { manifestRuleOverrides } from './datanet/manifest';
import { validateManifest } from './datanet/validateManifest';
import { validateRegistry } from './dataset/registryLint';
import { checkEncoding } from './dataset/encoding';
import { sniffJsonDataset, validateJsonArrayDataset, type JsonArrayResult } from './dataset/jsonArray';
import type { DatasetStats } from './dataset/stats';
import { DatasetStream, type DatasetChunkSink, type DatasetStreamOptions } from './dataset/stream';
import { ExampleTokenCounter } from './dataset/exampleTokens';
import { checkMediaRefs, mediaFinding, mediaPaths, MediaFileChecker, type LineMediaRef } from './dataset/mediaFiles';
import { DatasetValidator, type DatasetValidatorOptions } from './dataset/validator';
import { dirName, isAbsolutePath, joinPath } from './hfCache';
import { READ_CAPS, readChecked, type Environment } from './io';
import { LineCapSink, utf16Finding } from './dataset/lineCap';
import { effectiveSeverity, type RuleOverrides } from './rules';
import type { CoreSettings } from './settings';
import { estimateTokenCounter, loadTokenCounter } from './tokenizer';
import type { Finding, Severity, TextDocumentLike } from './types';
import { YamlParseCache } from './yaml';

export { documentKindOf, type DocumentKind } from './documentKind';

/** Everything that decides how one dataset file is checked. */
export interface DatasetPolicy {
  options: DatasetValidatorOptions;
  datanet?: GoverningDatanet;
  severityOf(rule: string): Severity | undefined;
  /** Where `options.maxTokens` comes from, in words. */
  limitSource: string;
}

/** What a fine-tune config that trains on a dataset says about it. */
export interface ConfigTraining {
  /** The config file. */
  configPath: string;
  baseModel: string;
  /** `training.max_seq_length` (the schema's default when the config leaves it out). */
  maxSeqLength?: number;
  /** `chat_template:`, a built-in name or a .jinja file relative to the config. */
  chatTemplate?: string;
  /** `training.epochs`. */
  epochs?: number;
}

export class ModelFactoryService {
  readonly datanets: DatanetIndex;
  readonly yamlCache = new YamlParseCache();
  /** Dataset file -> the fine-tune config that trains on it (its tokenizer, template and limit). */
  private readonly modelOfDataset = new Map<string, ConfigTraining>();

  constructor(
    readonly env: Environment,
    private settings: CoreSettings,
  ) {
    this.datanets = new DatanetIndex(env);
  }

  get currentSettings(): CoreSettings {
    return this.settings;
  }

  updateSettings(settings: CoreSettings): void {
    this.settings = settings;
  }

  /** Severity lookup with the user's settings, then the Datanet's own rules, layered. */
  severityFor(extra?: RuleOverrides): (rule: string) => Severity | undefined {
    const userRules = this.settings.rules;
    return (rule) => effectiveSeverity(rule, userRules, extra);
  }

  /**
   * Remembers that a fine-tune config trains `base_model` on a dataset: its tokenizer counts the
   * dataset's tokens, its chat template renders the records, its max_seq_length is their limit.
   */
  noteConfigDataset(
    configPath: string,
    datasetPath: string,
    baseModel: string,
    details: Omit<ConfigTraining, 'configPath' | 'baseModel'> = {},
  ): void {
    const configDir = dirName(configPath);
    const abs = isAbsolutePath(datasetPath) ? datasetPath : joinPath(configDir, datasetPath);
    this.modelOfDataset.set(abs, { ...details, configPath, baseModel });
  }

  /**
   * The config noted as training on `path`, if any. A config noted without its details (the CLI's lint
   * notes what it lints) has them read from its file once: its max_seq_length and chat_template.
   */
  async configTrainingOf(path: string): Promise<ConfigTraining | undefined> {
    const training = this.modelOfDataset.get(path);
    if (!training || training.maxSeqLength !== undefined) return training;
    const bytes = await this.env.fs.readFile(training.configPath, 'yaml');
    if (!bytes) return training;
    const data = parseConfig(new TextDecoder().decode(bytes), training.configPath, 0).data;
    const view = viewConfig(data);
    training.maxSeqLength = view.maxSeqLength;
    const chatTemplate = (data as Record<string, unknown> | undefined)?.['chat_template'];
    if (training.chatTemplate === undefined && typeof chatTemplate === 'string' && chatTemplate) {
      training.chatTemplate = chatTemplate;
    }
    return training;
  }

  /**
   * The counter of a dataset's tokens in its model's terms: the first tokenizer found of the Datanet's
   * `tokenizer`, the base model of a config that trains on the file, the setting; its records rendered
   * with the config's `chat_template`, else the model's own, else the built-in fallback. Without a
   * tokenizer on disk, the documented estimate.
   */
  async tokenCounterFor(path: string, datanet?: GoverningDatanet): Promise<ExampleTokenCounter> {
    const candidates: { model: string; baseDir: string }[] = [];
    if (datanet?.manifest.tokenizer) candidates.push({ model: datanet.manifest.tokenizer, baseDir: datanet.dir });
    const hint = await this.configTrainingOf(path);
    if (hint) candidates.push({ model: hint.baseModel, baseDir: dirName(hint.configPath) });
    if (this.settings.tokenizer) candidates.push({ model: this.settings.tokenizer, baseDir: dirName(path) });
    for (const c of candidates) {
      const counter = await loadTokenCounter(c.model, c.baseDir, this.env);
      if (!counter) continue;
      const choice = hint
        ? { configDir: dirName(hint.configPath), ...(hint.chatTemplate ? { chatTemplate: hint.chatTemplate } : {}) }
        : undefined;
      return new ExampleTokenCounter(counter, await templateSetFor(counter, choice, this.env));
    }
    return new ExampleTokenCounter(estimateTokenCounter(), undefined);
  }

  async datasetPolicy(path: string): Promise<DatasetPolicy> {
    const datanet = await this.datanets.governing(path);
    const manifest = datanet?.manifest;
    const severityOf = this.severityFor(manifest ? manifestRuleOverrides(manifest) : undefined);
    const training = await this.configTrainingOf(path);
    // The limit is what training truncates at: the config's max_seq_length, else the Datanet's, else the setting.
    let maxTokens = this.settings.maxTokens;
    let limitSource = 'the modelfactory.dataset.maxTokens setting';
    if (training?.maxSeqLength !== undefined) {
      maxTokens = training.maxSeqLength;
      limitSource = `training.max_seq_length of ${training.configPath}`;
    } else if (manifest?.rules?.max_tokens !== undefined && datanet) {
      maxTokens = manifest.rules.max_tokens;
      limitSource = `rules.max_tokens of ${datanet.manifestPath}`;
    }
    const options: DatasetValidatorOptions = {
      severityOf,
      maxTokens,
      minChars: manifest?.rules?.min_chars ?? 1,
      nearThreshold: manifest?.rules?.dedup?.threshold ?? this.settings.nearDuplicateThreshold,
      tokenCounter: await this.tokenCounterFor(path, datanet),
    };
    if (manifest?.format && manifest.format !== 'auto') options.format = manifest.format;
    if (datanet && manifest?.record_schema) {
      const schemaPath = isAbsolutePath(manifest.record_schema)
        ? manifest.record_schema
        : joinPath(datanet.dir, manifest.record_schema);
      const read = await readChecked(this.env, schemaPath, 'schema', datanet.dir);
      const bytes = 'bytes' in read ? read.bytes : undefined;
      try {
        if (bytes) options.recordSchema = JSON.parse(new TextDecoder().decode(bytes)) as object;
      } catch {
        // An unreadable record schema is reported on the manifest itself (datanet/manifest).
      }
    }
    return datanet ? { options, datanet, severityOf, limitSource } : { options, severityOf, limitSource };
  }

  /** A validator for an open dataset document, loaded with its lines. */
  async openDataset(path: string, lines: string[]): Promise<DatasetSession> {
    const policy = await this.datasetPolicy(path);
    const validator = new DatasetValidator(policy.options);
    validator.update(0, 0, lines);
    return new DatasetSession(this, path, policy, validator);
  }

  /**
   * Validates a dataset file of any size from its bytes, streamed (the CLI, and the editor's command
   * for files VS Code will not open). Findings are handed over as they are found. A host may supply
   * `openStream` to run the validation elsewhere (worker threads) with the same results.
   */
  async lintDatasetFile(
    path: string,
    sizeBytes: number,
    chunks: AsyncIterable<Uint8Array>,
    onFinding: (finding: Finding) => void,
    onProgress?: (doneBytes: number, totalBytes: number) => void,
    openStream?: (
      options: DatasetStreamOptions,
      onFinding: (finding: Finding) => void,
    ) => DatasetChunkSink | Promise<DatasetChunkSink>,
    /** Changes the file's options before it is read (the statistics count every record exactly). */
    adjust?: (options: DatasetStreamOptions) => DatasetStreamOptions,
  ): Promise<DatasetStats> {
    const policy = await this.datasetPolicy(path);
    if (policy.datanet) {
      for (const f of await this.datanets.capFindings(path, sizeBytes, policy.datanet, policy.severityOf)) onFinding(f);
    }
    const adjusted = adjust ? adjust(policy.options) : policy.options;
    // The files records name are gathered while the file streams by and checked on disk at the end.
    const mediaSeverity = adjusted.severityOf('media/missing-file');
    const media: LineMediaRef[] = [];
    const errorLines = new Set<number>();
    const options: DatasetStreamOptions = mediaSeverity
      ? { ...adjusted, onMediaRefs: (refs) => media.push(...refs) }
      : adjusted;
    const sink = mediaSeverity
      ? (f: Finding) => {
          if (f.severity === 'error') errorLines.add(f.range.start.line);
          onFinding(f);
        }
      : onFinding;
    const inner = openStream ? await openStream(options, sink) : new DatasetStream(options, sink);
    const utf16 = options.severityOf('encoding/utf16');
    const stream = new LineCapSink(inner, this.env.readCaps?.line ?? READ_CAPS.line, () => {
      if (utf16) sink(utf16Finding(utf16));
    });
    let done = 0;
    for await (const chunk of chunks) {
      await stream.push(chunk);
      done += chunk.length;
      onProgress?.(done, sizeBytes);
    }
    await stream.end();
    const stats = stream.stats();
    if (!mediaSeverity || media.length === 0) return stats;
    const found = await checkMediaRefs(media, dirName(path), new MediaFileChecker(this.env), mediaSeverity);
    for (const f of found) onFinding(f);
    return withMediaFindings(stats, found, (line) => errorLines.has(line));
  }

  /**
   * Whether a `.json` file is a dataset: governed by a Datanet, or an array whose first records are of
   * a known format (`sniffJsonDataset`, which also reads an array with syntax errors). Other JSON
   * (package.json, settings) is none of our business.
   */
  async isJsonDataset(path: string, text: string): Promise<boolean> {
    if (await this.datanets.governing(path)) return true;
    return sniffJsonDataset(text).dataset;
  }

  /** A `.json` dataset: one array of records. `adjust` as for lintDatasetFile. */
  async validateJsonDataset(
    path: string,
    text: string,
    adjust?: (options: DatasetValidatorOptions) => DatasetValidatorOptions,
  ): Promise<JsonArrayResult> {
    const policy = await this.datasetPolicy(path);
    const options = adjust ? adjust(policy.options) : policy.options;
    const result = validateJsonArrayDataset(text, options);
    const mediaSeverity = options.severityOf('media/missing-file');
    const media = mediaSeverity ? result.records.flatMap((r) => r.media ?? []) : [];
    if (mediaSeverity && media.length > 0) {
      const found = await checkMediaRefs(media, dirName(path), new MediaFileChecker(this.env), mediaSeverity);
      const hadError = new Set<number>();
      for (const r of result.records) {
        if (r.hasError) for (const ref of r.media ?? []) hadError.add(ref.line);
      }
      result.findings.push(...found);
      result.stats = withMediaFindings(result.stats, found, (line) => hadError.has(line));
    }
    if (policy.datanet) {
      const size = (await this.env.fs.stat(path))?.size ?? new TextEncoder().encode(text).length;
      result.findings.unshift(...(await this.datanets.capFindings(path, size, policy.datanet, policy.severityOf)));
    }
    return result;
  }

  /** A dataset registry (dataset_info.json): its entries, their files and the columns they name. */
  async validateRegistry(doc: TextDocumentLike, path: string): Promise<Finding[]> {
    return validateRegistry(doc.getText(), path, this.env, this.severityFor());
  }

  async validateManifest(doc: TextDocumentLike, path: string): Promise<Finding[]> {
    this.datanets.invalidate(path);
    const parsed = this.yamlCache.get(doc.uri, doc.version, doc.getText());
    return validateManifest(parsed, path, this.env, this.severityFor());
  }
}

/**
 * The statistics with media/missing-file findings added: counted by rule, and the records they fall on
 * no longer accepted unless `hadError` says an earlier error already excluded them.
 */
function withMediaFindings(stats: DatasetStats, found: Finding[], hadError: (line: number) => boolean): DatasetStats {
  if (found.length === 0) return stats;
  const findingsByRule = { ...stats.findingsByRule };
  const lines = new Set<number>();
  for (const f of found) {
    findingsByRule[f.rule] = (findingsByRule[f.rule] ?? 0) + 1;
    if (f.severity === 'error' && !hadError(f.range.start.line)) lines.add(f.range.start.line);
  }
  const accepted = Math.max(0, Math.round(stats.acceptance * stats.records) - lines.size);
  return { ...stats, findingsByRule, acceptance: stats.records === 0 ? 1 : accepted / stats.records };
}

/** One open dataset: the incremental validator plus the findings that come from the file on disk. */
export class DatasetSession {
  private diskFindings: Finding[] = [];
  /** Answers about the files records name, kept until the document is opened or saved again. */
  private readonly media: MediaFileChecker;

  constructor(
    private readonly service: ModelFactoryService,
    readonly path: string,
    readonly policy: DatasetPolicy,
    readonly validator: DatasetValidator,
  ) {
    this.media = new MediaFileChecker(service.env);
  }

  update(start: number, deleteCount: number, lines: string[]): void {
    this.validator.update(start, deleteCount, lines);
  }

  findings(): Finding[] {
    const own = this.validator.findings();
    const media = this.mediaFindings();
    const all = this.diskFindings.length ? this.diskFindings.concat(own) : own;
    if (media.length === 0) return all;
    // Both lists are in line order: merge them, media findings after the line's own.
    const out: Finding[] = [];
    let m = 0;
    for (const f of all) {
      while (m < media.length && (media[m] as Finding).range.start.line < f.range.start.line)
        out.push(media[m++] as Finding);
      out.push(f);
    }
    while (m < media.length) out.push(media[m++] as Finding);
    return out;
  }

  /** media/missing-file findings from what has been checked so far (see checkMedia). */
  private mediaFindings(): Finding[] {
    const severity = this.policy.severityOf('media/missing-file');
    if (!severity) return [];
    const dir = dirName(this.path);
    const out: Finding[] = [];
    for (const ref of this.validator.mediaRefs()) {
      const f = mediaFinding(ref, dir, this.media, severity);
      if (f) out.push(f);
    }
    return out;
  }

  /**
   * stat()s the media files records name that have not been checked yet (bounded in count and time);
   * true when something was checked, so the findings may have changed.
   */
  async checkMedia(): Promise<boolean> {
    if (!this.policy.severityOf('media/missing-file')) return false;
    const paths = mediaPaths(this.validator.mediaRefs(), dirName(this.path));
    return (await this.media.check(paths)).checked > 0;
  }

  /**
   * Re-reads what only the file on disk can tell: its byte encoding (VS Code decodes before it hands
   * text over), its size against the Datanet's caps, and whether the media files its records name
   * exist (asked afresh). Called on open and on save.
   */
  async refreshFromDisk(): Promise<void> {
    const env = this.service.env;
    this.media.clear();
    await this.checkMedia();
    const st = await env.fs.stat(this.path);
    const out: Finding[] = [];
    if (st?.isFile) {
      const bytes = await env.fs.readFile(this.path, 'jsonDataset');
      if (bytes) out.push(...checkEncoding(bytes, this.policy.severityOf));
      if (this.policy.datanet) {
        out.push(
          ...(await this.service.datanets.capFindings(this.path, st.size, this.policy.datanet, this.policy.severityOf)),
        );
      }
    }
    this.diskFindings = out;
  }
}
