// The language service: one object the LSP shell and the CLI both call. It decides what a file is,
// which Datanet governs it, which tokenizer counts its tokens and which severities apply, and answers
// every feature of every open document through the model its kind made (documentModels.ts), with one
// parse cache for them all. It holds no connection and does no I/O of its own beyond the injected
// Environment.
import { templateSetFor } from './chatTemplate';
import { viewConfig } from './config/schema';
import type { ConfigMemoryEstimate } from './config/estimate';
import {
  handlerOf,
  NO_MODEL,
  textDocument,
  type DocumentKindHandler,
  type DocumentModel,
  type DocumentStats,
  type LineSplice,
  type OpenOptions,
  type PublishWhen,
  type ServiceDocument,
  type ServiceHost,
  type ValidationReason,
} from './documentModels';
import { documentKindOf } from './documentKind';
import { RecordLossIndex } from './dataset/recordLoss';
import { DatanetIndex, type GoverningDatanet } from './datanet/governance';
import { manifestRuleOverrides } from './datanet/manifest';
import { validateManifest } from './datanet/validateManifest';
import { checkEncoding } from './dataset/encoding';
import { validateJsonArrayDataset, type JsonArrayResult } from './dataset/jsonArray';
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
import type {
  CodeAction,
  CompletionItem,
  DocumentSymbol,
  Finding,
  Hover,
  Position,
  Range,
  Severity,
  TextDocumentLike,
} from './types';
import { parseYaml, type ParsedYaml } from './yaml/parse';

export { documentKindOf, type DocumentKind } from './documentKind';
export {
  textDocument,
  type DocumentStats,
  type LineSplice,
  type PublishWhen,
  type ServiceDocument,
  type ServiceHost,
  type ValidationReason,
} from './documentModels';

/** What checking one whole file found (`lintText`). */
export interface TextLint {
  findings: Finding[];
  /** A dataset's statistics. */
  stats?: DatasetStats;
  /** Why the file is not one of ours after all (a `.json` file that holds no dataset). */
  skipped?: string;
}

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
  /** The workspace's runs that scored datasets (record-loss.jsonl), found on demand. */
  readonly recordLoss: RecordLossIndex;
  /** Dataset file -> the fine-tune config that trains on it (its tokenizer, template and limit). */
  private readonly modelOfDataset = new Map<string, ConfigTraining>();
  /** Open documents by URI, each with the model its kind made (see documentModels.ts), and that kind. */
  private readonly models = new Map<string, DocumentModel>();
  private readonly kinds = new Map<string, DocumentKindHandler>();
  /** The parse cache: one YAML parse per open document version, dropped when the document closes. */
  private readonly parses = new Map<string, { version: number; parsed: ParsedYaml }>();

  constructor(
    readonly env: Environment,
    private settings: CoreSettings,
    /** Work the host runs elsewhere (worker threads), and where it logs what goes wrong in the background. */
    readonly host: ServiceHost = {},
  ) {
    this.datanets = new DatanetIndex(env);
    this.recordLoss = new RecordLossIndex(env);
  }

  logError(message: string): void {
    this.host.logError?.(message);
  }

  // ---- Documents: every feature of every kind, through the model the kind's handler made. ----

  /** Paths of kinds the service checks, in the order a lint run takes them (configs before their datasets). */
  lintOrder(paths: readonly string[]): string[] {
    const order = (p: string) => handlerOf(documentKindOf(p))?.lintOrder ?? -1;
    return paths.filter((p) => order(p) >= 0).sort((a, b) => order(a) - order(b));
  }

  /** Whether a host streams this file through `lintDatasetFile` (any size) rather than reading it whole. */
  streams(path: string): boolean {
    return handlerOf(documentKindOf(path))?.streams?.(path) ?? false;
  }

  /** How a host reads this file whole: the ReadKind whose cap applies. */
  readKindOf(path: string) {
    return handlerOf(documentKindOf(path))?.readKind ?? 'yaml';
  }

  /** Whether saving this open document can change other documents' findings. */
  affectsOthers(uri: string): boolean {
    return this.kinds.get(uri)?.affectsOthers ?? false;
  }

  /** Starts tracking a document (`doc` stays the host's: the service reads its current text and lines). */
  open(doc: ServiceDocument, path: string, options: OpenOptions = {}): void {
    this.parses.delete(doc.uri);
    const handler = handlerOf(options.as ?? documentKindOf(path));
    this.models.set(doc.uri, handler ? handler.open(this, path, doc, options) : NO_MODEL);
    if (handler) this.kinds.set(doc.uri, handler);
    else this.kinds.delete(doc.uri);
  }

  close(uri: string): void {
    this.models.delete(uri);
    this.kinds.delete(uri);
    this.parses.delete(uri);
  }

  /** An edit, as the line splices the host applied to the document. */
  update(uri: string, splices: readonly LineSplice[]): void {
    this.models.get(uri)?.update?.(splices);
  }

  /** Brings an open document's findings up to date; says when the host should publish them. */
  async validate(uri: string, reason: ValidationReason): Promise<PublishWhen> {
    const model = this.models.get(uri);
    return model ? model.validate(reason) : 'none';
  }

  findings(uri: string): Finding[] {
    return this.models.get(uri)?.findings() ?? [];
  }

  async hover(uri: string, position: Position): Promise<Hover | undefined> {
    return this.models.get(uri)?.hover?.(position);
  }

  async complete(uri: string, position: Position): Promise<CompletionItem[]> {
    return (await this.models.get(uri)?.complete?.(position)) ?? [];
  }

  symbols(uri: string): DocumentSymbol[] {
    return this.models.get(uri)?.symbols?.() ?? [];
  }

  /**
   * Fixes for the document's findings in `range` whose rule is among `rules` (the diagnostics the editor
   * sent back); `fixAll`: only the fixes that apply to the whole document.
   */
  codeActions(uri: string, range: Range, rules: readonly unknown[], fixAll: boolean): CodeAction[] {
    const model = this.models.get(uri);
    if (!model?.codeActions) return [];
    const inRange = model.findings().filter((f) => overlaps(f.range, range) && rules.includes(f.rule));
    return model.codeActions(inRange, fixAll);
  }

  /** A dataset's statistics, with exact token counts when its tokenizer is on disk. */
  async stats(uri: string, onProgress?: (done: number, total: number) => void): Promise<DocumentStats> {
    const stats = await this.models.get(uri)?.stats?.(onProgress);
    if (!stats) throw new Error(`${uri} is not a dataset`);
    return stats;
  }

  async memoryEstimate(uri: string): Promise<ConfigMemoryEstimate | undefined> {
    const model = this.models.get(uri);
    if (!model?.memoryEstimate) throw new Error(`${uri} is not an open fine-tune config`);
    return model.memoryEstimate();
  }

  /** Checks one whole file's text as the kind its name says (opened, validated, closed). */
  async lintText(path: string, text: string, options: OpenOptions = {}): Promise<TextLint> {
    const doc = textDocument(path, text);
    this.open(doc, path, options);
    try {
      await this.validate(doc.uri, 'open');
      const model = this.models.get(doc.uri)!;
      const skipped = model.skipped?.();
      if (skipped !== undefined) return { findings: [], skipped };
      const stats = model.fileStats?.();
      return stats ? { findings: model.findings(), stats } : { findings: model.findings() };
    } finally {
      this.close(doc.uri);
    }
  }

  /** The parse of a YAML document: cached per version while the document is open, parsed afresh otherwise. */
  parsedYaml(doc: TextDocumentLike): ParsedYaml {
    if (!this.models.has(doc.uri)) return parseYaml(doc.getText());
    const text = doc.getText();
    const hit = this.parses.get(doc.uri);
    // Text is compared too: hosts may reuse a version number.
    if (hit && hit.version === doc.version && hit.parsed.text === text) return hit.parsed;
    const parsed = parseYaml(text);
    this.parses.set(doc.uri, { version: doc.version, parsed });
    return parsed;
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
    const data = parseYaml(new TextDecoder().decode(bytes)).data;
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
    const decodeAscii = this.env.decodeAscii;
    const options: DatasetStreamOptions = {
      ...adjusted,
      ...(mediaSeverity ? { onMediaRefs: (refs: LineMediaRef[]) => media.push(...refs) } : {}),
      ...(decodeAscii ? { decodeAscii } : {}),
    };
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

  async validateManifest(doc: TextDocumentLike, path: string): Promise<Finding[]> {
    this.datanets.invalidate(path);
    return validateManifest(this.parsedYaml(doc), path, this.env, this.severityFor());
  }
}

function overlaps(a: Range, b: Range): boolean {
  const before = (p: Position, q: Position) => p.line < q.line || (p.line === q.line && p.character < q.character);
  return !before(a.end, b.start) && !before(b.end, a.start);
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
