// The language service's open documents: one model per document, made by the handler its kind
// registers in DOCUMENT_KINDS. A model answers every feature for its document (validate, hover,
// complete, codeActions, symbols, stats, memoryEstimate); a feature it lacks answers nothing. The
// service (service.ts) owns the models and the parse cache, and the hosts (the LSP shell, the CLI)
// call the service without asking what kind a document is.
import { validateConfig, type ConfigContext } from './config/validate';
import { viewConfig } from './config/schema';
import { configHover } from './config/hover';
import { configCompletions } from './config/completion';
import { configCodeActions } from './config/codeActions';
import { configSymbols } from './config/symbols';
import { configMemoryEstimate, type ConfigMemoryEstimate } from './config/estimate';
import { manifestCompletions, manifestHover } from './datanet/assist';
import { validateManifest } from './datanet/validateManifest';
import { evalsCompletions, evalsHover, validateEvals } from './evals/evalsFile';
import {
  datasetCodeActions,
  jsonArrayCodeActions,
  removeAllDuplicates,
  removeAllJsonArrayDuplicates,
} from './dataset/codeActions';
import { datasetHover, jsonArrayHover } from './dataset/hover';
import { hardRecordFindings, recordLossHover, type RecordLossRun } from './dataset/recordLoss';
import { countRecordText, ExampleTokenCounter, type ExampleCount } from './dataset/exampleTokens';
import { recordAtOffset, sniffJsonDataset, type JsonArrayResult } from './dataset/jsonArray';
import type { DatasetValidatorOptions } from './dataset/context';
import { countLinesHere, type ExactTokenStats } from './dataset/validator';
import { tokenPercentiles, type DatasetStats } from './dataset/stats';
import { validateRegistry } from './dataset/registryLint';
import type { DocumentKind } from './documentKind';
import { dirName } from './hfCache';
import type { ReadKind } from './io';
import type { DatasetSession, ModelFactoryService } from './service';
import type { CodeAction, CompletionItem, DocumentSymbol, Finding, Hover, Position, TextDocumentLike } from './types';
import type { ParsedYaml } from './yaml/parse';

/** A document as the service reads it: its text, and its lines for the kinds that re-check by line. */
export interface ServiceDocument extends TextDocumentLike {
  readonly lineCount: number;
  lineAt(line: number): string;
  allLines(): readonly string[];
}

/** A document made of a text that does not change (the CLI's files). */
export function textDocument(uri: string, text: string, version = 1): ServiceDocument {
  let lines: string[] | undefined;
  const all = () => (lines ??= text.split(/\r\n|\r|\n/));
  return {
    uri,
    version,
    getText: () => text,
    get lineCount() {
      return all().length;
    },
    lineAt: (line) => all()[line] ?? '',
    allLines: all,
  };
}

/** Replace lines [start, start + deleteCount) with `lines`: an edit as the line model reports it. */
export interface LineSplice {
  start: number;
  deleteCount: number;
  lines: string[];
}

/**
 * Why a document is validated: `open` (first look, or settings, a manifest or a config changed: everything
 * afresh), `edit` (after its splices), `save` (what only the file on disk can tell).
 */
export type ValidationReason = 'open' | 'edit' | 'save';

/**
 * What the host does with the findings after a validation: publish them `now`, once per burst of edits
 * (`burst`: a large document re-checked incrementally), or not at all (`none`: nothing changed).
 */
export type PublishWhen = 'now' | 'burst' | 'none';

/** A dataset's statistics as the `modelfactory/datasetStats` request answers them. */
export type DocumentStats = DatasetStats & {
  uri: string;
  tokenizer: string;
  limit?: number;
  overLimit?: number;
  templateErrors?: number;
};

/** What a host gives the service: work it runs elsewhere, and where background errors are logged. */
export interface ServiceHost {
  /** An error in background work (reading a run's record-loss file) that is logged, not answered. */
  logError?(message: string): void;
  /** A batch counter for `lineCount` lines, or undefined to count on this thread. Closed when done. */
  lineCounter?(
    options: DatasetValidatorOptions,
    lineCount: number,
  ): Promise<
    | { countBatch: (texts: string[]) => Promise<(ExampleCount | null)[]>; batchLines: number; close(): Promise<void> }
    | undefined
  >;
}

export interface OpenOptions {
  /** The kind to check the file as, whatever its name (`modelfactory estimate` and `train` take any config file). */
  as?: DocumentKind;
  /** A `.json` file is checked as a dataset even when its content does not look like one (named on the command line). */
  forceDataset?: boolean;
}

export interface DocumentModel {
  validate(reason: ValidationReason): Promise<PublishWhen>;
  findings(): Finding[];
  /** Applies an edit's line splices (the kinds that re-check only what changed). */
  update?(splices: readonly LineSplice[]): void;
  hover?(position: Position): Promise<Hover | undefined>;
  complete?(position: Position): Promise<CompletionItem[]>;
  /** `inRange`: the findings the user asks about; fix-all actions may span `findings()`. */
  codeActions?(inRange: readonly Finding[], fixAll: boolean): CodeAction[];
  symbols?(): DocumentSymbol[];
  stats?(onProgress?: (done: number, total: number) => void): Promise<DocumentStats | undefined>;
  memoryEstimate?(): Promise<ConfigMemoryEstimate | undefined>;
  /** After validation: why this file is not one of ours after all (a `.json` file that holds no dataset). */
  skipped?(): string | undefined;
  /** After validation: the statistics a lint report gives for the file (datasets). */
  fileStats?(): DatasetStats | undefined;
}

/** One document kind: how files of it are read and what model checks them. */
export interface DocumentKindHandler {
  /** Saving a file of this kind can change other documents' findings (every open one is checked again). */
  affectsOthers: boolean;
  /** How a host reads a whole file of this kind (its size cap). */
  readKind: ReadKind;
  /** A lint run checks kinds in this order, lowest first. */
  lintOrder: number;
  /** Files a host streams through `lintDatasetFile` rather than reading them whole. */
  streams?(path: string): boolean;
  open(service: ModelFactoryService, path: string, doc: ServiceDocument, options: OpenOptions): DocumentModel;
}

/** The context a fine-tune config is checked in: the service's environment, settings and severities. */
export function configContext(service: ModelFactoryService, path: string): ConfigContext {
  return {
    env: service.env,
    severityOf: service.severityFor(),
    settings: service.currentSettings,
    configDir: dirName(path),
  };
}

/** Which tokenizer and template count a dataset's tokens, in words for hovers and statistics. */
export function counterName(options: DatasetValidatorOptions): string {
  const counter = options.tokenCounter;
  return counter instanceof ExampleTokenCounter && counter.exact
    ? `${counter.name}, rendered with ${counter.templateName}`
    : counter.name;
}

/** Documents with at least this many lines count their tokens on worker threads (when the host has them). */
const WORKER_MIN_LINES = 20_000;

/** A file of no kind of ours: no findings (an empty list is still published). */
export const NO_MODEL: DocumentModel = {
  validate: (reason) => Promise.resolve(reason === 'save' ? 'none' : 'now'),
  findings: () => [],
};

abstract class YamlModel implements DocumentModel {
  protected found: Finding[] = [];

  constructor(
    protected readonly service: ModelFactoryService,
    protected readonly path: string,
    protected readonly doc: ServiceDocument,
  ) {}

  abstract validate(reason: ValidationReason): Promise<PublishWhen>;

  findings(): Finding[] {
    return this.found;
  }

  protected parsed(): ParsedYaml {
    return this.service.parsedYaml(this.doc);
  }

  symbols(): DocumentSymbol[] {
    return configSymbols(this.parsed());
  }
}

class ConfigModel extends YamlModel {
  async validate(reason: ValidationReason): Promise<PublishWhen> {
    if (reason === 'save') return 'none';
    const parsed = this.parsed();
    this.found = await validateConfig(parsed, configContext(this.service, this.path));
    // The dataset it trains on is counted with its model's tokenizer, rendered with its template.
    const view = viewConfig(parsed.data);
    if (view.datasetPath && view.baseModel) {
      const chatTemplate = (parsed.data as Record<string, unknown> | undefined)?.['chat_template'];
      this.service.noteConfigDataset(this.path, view.datasetPath, view.baseModel, {
        maxSeqLength: view.maxSeqLength,
        ...(typeof chatTemplate === 'string' && chatTemplate ? { chatTemplate } : {}),
      });
    }
    return 'now';
  }

  hover(position: Position): Promise<Hover | undefined> {
    return configHover(this.parsed(), position, configContext(this.service, this.path));
  }

  complete(position: Position): Promise<CompletionItem[]> {
    return configCompletions(this.parsed(), position, configContext(this.service, this.path));
  }

  codeActions(inRange: readonly Finding[], fixAll: boolean): CodeAction[] {
    return fixAll ? [] : configCodeActions(this.parsed(), inRange);
  }

  memoryEstimate(): Promise<ConfigMemoryEstimate | undefined> {
    return configMemoryEstimate(this.parsed(), configContext(this.service, this.path));
  }
}

class ManifestModel extends YamlModel {
  async validate(reason: ValidationReason): Promise<PublishWhen> {
    if (reason === 'save') return 'none';
    this.service.datanets.invalidate(this.path);
    this.found = await validateManifest(this.parsed(), this.path, this.service.env, this.service.severityFor());
    return 'now';
  }

  hover(position: Position): Promise<Hover | undefined> {
    return Promise.resolve(manifestHover(this.parsed(), position));
  }

  complete(position: Position): Promise<CompletionItem[]> {
    return Promise.resolve(manifestCompletions(this.parsed(), position));
  }
}

class EvalsModel extends YamlModel {
  async validate(reason: ValidationReason): Promise<PublishWhen> {
    if (reason === 'save') return 'none';
    this.found = await validateEvals(this.parsed(), this.path, this.service.env, this.service.severityFor());
    return 'now';
  }

  hover(position: Position): Promise<Hover | undefined> {
    return Promise.resolve(evalsHover(this.parsed(), position));
  }

  complete(position: Position): Promise<CompletionItem[]> {
    return Promise.resolve(evalsCompletions(this.parsed(), position));
  }
}

class RegistryModel implements DocumentModel {
  private found: Finding[] = [];

  constructor(
    private readonly service: ModelFactoryService,
    private readonly path: string,
    private readonly doc: ServiceDocument,
  ) {}

  async validate(reason: ValidationReason): Promise<PublishWhen> {
    if (reason === 'save') return 'none';
    this.found = await validateRegistry(this.doc.getText(), this.path, this.service.env, this.service.severityFor());
    return 'now';
  }

  findings(): Finding[] {
    return this.found;
  }
}

/** A JSONL dataset: the incremental validation session, and the newest run that scored its records. */
class JsonlDatasetModel implements DocumentModel {
  private session?: DatasetSession;
  private recordLoss?: RecordLossRun;
  private hardRecords: Finding[] = [];
  /** The findings as last assembled, until an edit or a validation changes them (code actions ask often). */
  private assembled?: Finding[];
  /** Exact token statistics being computed (requests that arrive meanwhile share it). */
  private exactRun?: { session: DatasetSession; run: Promise<ExactTokenStats | undefined> };

  constructor(
    private readonly service: ModelFactoryService,
    private readonly path: string,
    private readonly doc: ServiceDocument,
  ) {}

  update(splices: readonly LineSplice[]): void {
    this.assembled = undefined;
    for (const s of splices) this.session?.update(s.start, s.deleteCount, s.lines);
  }

  async validate(reason: ValidationReason): Promise<PublishWhen> {
    this.assembled = undefined;
    if (reason === 'open' || !this.session) {
      this.session = await this.service.openDataset(this.path, this.doc.allLines().slice());
      await this.session.refreshFromDisk();
      await this.refreshHardRecords(this.session, true);
    } else if (reason === 'edit') {
      // Media files named by the edited lines are stat()ed once each (the rest are cached).
      await this.session.checkMedia();
      await this.refreshHardRecords(this.session, false);
    } else {
      await this.session.refreshFromDisk();
      await this.refreshHardRecords(this.session, true);
    }
    this.assembled = undefined;
    return 'burst';
  }

  findings(): Finding[] {
    if (!this.session) return [];
    this.assembled ??= [...this.session.findings(), ...this.hardRecords];
    return this.assembled;
  }

  /** The hardest records of the newest run that scored this dataset; `search` looks for runs again (cached briefly). */
  private async refreshHardRecords(session: DatasetSession, search: boolean): Promise<void> {
    try {
      if (search) this.recordLoss = await this.service.recordLoss.runFor(this.path);
      const doc = this.doc;
      this.hardRecords = await hardRecordFindings(
        this.recordLoss,
        (line) => (line < doc.lineCount ? doc.lineAt(line) : undefined),
        session.policy.severityOf('dataset/hard-record'),
      );
    } catch (err) {
      this.service.logError(`record-loss for ${this.path}: ${(err as Error)?.message ?? String(err)}`);
      this.hardRecords = [];
    }
  }

  async hover(position: Position): Promise<Hover | undefined> {
    const session = this.session;
    if (!session) return undefined;
    let hover = datasetHover(session.validator, position.line, this.doc.uri, counterName(session.policy.options));
    const text = position.line < this.doc.lineCount ? this.doc.lineAt(position.line) : undefined;
    const loss = text === undefined ? undefined : await recordLossHover(this.recordLoss, position.line, text);
    if (loss && hover) hover = { ...hover, contents: `${hover.contents}\n\n${loss}` };
    else if (loss) hover = { contents: loss };
    return hover;
  }

  codeActions(inRange: readonly Finding[], fixAll: boolean): CodeAction[] {
    if (!this.session) return [];
    const actions = fixAll ? [] : datasetCodeActions(this.session.validator, inRange);
    const all = removeAllDuplicates(this.session.validator, this.findings());
    if (all && (fixAll || inRange.some((f) => f.rule === 'dedup/exact'))) actions.push(all);
    return actions;
  }

  async stats(onProgress?: (done: number, total: number) => void): Promise<DocumentStats | undefined> {
    if (!this.session) return undefined;
    const { validator, policy } = this.session;
    const stats = {
      uri: this.doc.uri,
      tokenizer: counterName(policy.options),
      limit: policy.options.maxTokens,
      ...validator.stats(),
    };
    const exact = await this.exactStats(this.session, onProgress);
    return exact
      ? { ...stats, tokens: exact.tokens, overLimit: exact.overLimit, templateErrors: exact.templateErrors }
      : stats;
  }

  /**
   * Exact token statistics, one computation at a time per session. Lines are counted once per version;
   * many uncounted lines go to the host's worker threads, a few are counted here between other requests.
   */
  private exactStats(
    session: DatasetSession,
    onProgress?: (done: number, total: number) => void,
  ): Promise<ExactTokenStats | undefined> {
    if (this.exactRun?.session === session) return this.exactRun.run;
    const counter = session.policy.options.tokenCounter;
    if (!(counter instanceof ExampleTokenCounter) || !counter.exact) return Promise.resolve(undefined);
    const run = (async () => {
      const validator = session.validator;
      let workers: Awaited<ReturnType<NonNullable<ServiceHost['lineCounter']>>>;
      try {
        const lineCounter = this.service.host.lineCounter;
        if (lineCounter && validator.lineCount() >= WORKER_MIN_LINES) {
          workers = await lineCounter(session.policy.options, validator.lineCount()).catch(() => undefined);
        }
        return await validator.exactTokenStats(
          workers?.countBatch ?? countLinesHere(counter),
          onProgress,
          workers ? workers.batchLines : 256,
        );
      } finally {
        await workers?.close();
        if (this.exactRun?.session === session) this.exactRun = undefined;
      }
    })();
    this.exactRun = { session, run };
    return run;
  }
}

/** A `.json` dataset: one array of records, validated whole; its last result serves hover, fixes and stats. */
class JsonArrayDatasetModel implements DocumentModel {
  private result?: JsonArrayResult;
  private notDataset?: string;
  /** Exact token counts of its elements, by element text. */
  private counts?: Map<string, ExampleCount | null>;

  constructor(
    private readonly service: ModelFactoryService,
    private readonly path: string,
    private readonly doc: ServiceDocument,
    private readonly force: boolean,
  ) {}

  /**
   * A `.json` file is a dataset when forced, governed by a Datanet, or an array whose first records are of a
   * known format (`sniffJsonDataset`); other JSON (package.json, settings) is none of our business.
   */
  async validate(reason: ValidationReason): Promise<PublishWhen> {
    if (reason === 'save') return 'none';
    const text = this.doc.getText();
    this.result = undefined;
    this.notDataset = undefined;
    if (!this.force && !(await this.service.datanets.governing(this.path))) {
      const verdict = sniffJsonDataset(text);
      if (!verdict.dataset) {
        this.notDataset = verdict.reason;
        return 'now';
      }
    }
    this.result = await this.service.validateJsonDataset(this.path, text);
    return 'now';
  }

  findings(): Finding[] {
    return this.result?.findings ?? [];
  }

  skipped(): string | undefined {
    return this.notDataset;
  }

  fileStats(): DatasetStats | undefined {
    return this.result?.stats;
  }

  async hover(position: Position): Promise<Hover | undefined> {
    if (!this.result) return undefined;
    await this.countRecordAt(this.result, position);
    return jsonArrayHover(this.result, position, this.doc.uri);
  }

  codeActions(inRange: readonly Finding[], fixAll: boolean): CodeAction[] {
    if (!this.result) return [];
    const actions = fixAll ? [] : jsonArrayCodeActions(this.result, inRange);
    const all = removeAllJsonArrayDuplicates(this.result, this.findings());
    if (all && (fixAll || inRange.some((f) => f.rule === 'dedup/exact'))) actions.push(all);
    return actions;
  }

  async stats(): Promise<DocumentStats | undefined> {
    const result = this.result;
    if (!result) return undefined;
    const stats = { uri: this.doc.uri, tokenizer: result.tokenizer, ...result.stats };
    const exact = await this.exactStats(result);
    return exact
      ? { ...stats, tokenizer: exact.tokenizer, limit: exact.limit, tokens: exact.tokens, overLimit: exact.overLimit }
      : stats;
  }

  /**
   * Exact token statistics: each element's text counted once (kept by its text, so an edit re-counts only
   * the elements it changed), with a pause every few hundred.
   */
  private async exactStats(result: JsonArrayResult) {
    const policy = await this.service.datasetPolicy(this.path);
    const counter = policy.options.tokenCounter;
    if (!(counter instanceof ExampleTokenCounter) || !counter.exact) return undefined;
    const cache = (this.counts ??= new Map());
    const fresh = new Map<string, ExampleCount | null>();
    const text = this.doc.getText();
    const tokens: number[] = [];
    for (const [i, record] of result.records.entries()) {
      if (!record.format) continue;
      const slice = text.slice(record.start, record.end);
      let count = cache.get(slice);
      if (count === undefined) count = countRecordText(slice, counter) ?? null;
      fresh.set(slice, count);
      if (count && count.error === undefined) tokens.push(count.tokens);
      if (i % 256 === 255) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    this.counts = fresh;
    const limit = policy.options.maxTokens;
    return {
      tokenizer: counterName(policy.options),
      limit,
      overLimit: tokens.filter((n) => n > limit).length,
      tokens: tokenPercentiles(tokens, true),
    };
  }

  /** With a tokenizer, the exact count of the element under `position`, for its hover. */
  private async countRecordAt(result: JsonArrayResult, position: Position): Promise<void> {
    const record = result.records[recordAtOffset(result.records, result.offsetAt(position))];
    if (!record?.format || record.tokensExact) return;
    const counter = (await this.service.datasetPolicy(this.path)).options.tokenCounter;
    if (!(counter instanceof ExampleTokenCounter) || !counter.exact) return;
    const count = countRecordText(this.doc.getText().slice(record.start, record.end), counter);
    if (!count || count.error !== undefined) return;
    record.tokens = count.tokens;
    record.tokensExact = true;
  }
}

const isJsonl = (path: string) => path.toLowerCase().endsWith('.jsonl');

/**
 * Every document kind the service checks, by the name `documentKindOf` gives it. A new kind is one entry
 * here (and its name test in documentKind.ts, which the extension client reads without this module).
 */
export const DOCUMENT_KINDS: Readonly<Record<DocumentKind, DocumentKindHandler>> = {
  // Configs first in a lint run: a config that trains on a dataset lends it its model's tokenizer.
  config: {
    affectsOthers: true,
    readKind: 'yaml',
    lintOrder: 0,
    open: (service, path, doc) => new ConfigModel(service, path, doc),
  },
  manifest: {
    affectsOthers: true,
    readKind: 'yaml',
    lintOrder: 1,
    open: (service, path, doc) => new ManifestModel(service, path, doc),
  },
  registry: {
    affectsOthers: true,
    readKind: 'modelConfig',
    lintOrder: 2,
    open: (service, path, doc) => new RegistryModel(service, path, doc),
  },
  // Golden prompts name a config beside them; nothing else reads them.
  evals: {
    affectsOthers: false,
    readKind: 'yaml',
    lintOrder: 2,
    open: (service, path, doc) => new EvalsModel(service, path, doc),
  },
  dataset: {
    affectsOthers: false,
    readKind: 'jsonDataset',
    lintOrder: 3,
    streams: isJsonl,
    open: (service, path, doc, options) =>
      isJsonl(path)
        ? new JsonlDatasetModel(service, path, doc)
        : new JsonArrayDatasetModel(service, path, doc, options.forceDataset === true),
  },
};

export function handlerOf(kind: DocumentKind | undefined): DocumentKindHandler | undefined {
  return kind === undefined ? undefined : DOCUMENT_KINDS[kind];
}
