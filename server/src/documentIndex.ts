// Open documents and what the server knows about each: the line model, the kind of file, and for
// datasets the incremental validation session. Work on one document is serialised (a change that
// arrives while the file is still being opened waits for the open), and diagnostics are published
// once per burst of changes.
import { openBoundedStream } from './boundedRead';
import type {
  CodeAction as LspCodeAction,
  Diagnostic,
  Hover as LspHover,
  Position,
  Range,
  TextEdit,
} from 'vscode-languageserver/node';
import { CodeActionKind } from 'vscode-languageserver/node';
import { toCompletionItem, toDocumentSymbol, uriToPath } from './convert';
import { LineDocument, type ContentChange } from './documents';
import type { ValidateFileParams, ValidateFileResult } from './protocol';
import * as config from './core/config';
import { configMemoryEstimate } from './core/config/estimate';
import { manifestCompletions, manifestHover } from './core/datanet/assist';
import { evalsCompletions, evalsHover, validateEvals } from './core/evals/evalsFile';
import {
  datasetCodeActions,
  jsonArrayCodeActions,
  removeAllDuplicates,
  removeAllJsonArrayDuplicates,
} from './core/dataset/codeActions';
import { datasetHover, jsonArrayHover } from './core/dataset/hover';
import { hardRecordFindings, recordLossHover, RecordLossIndex, type RecordLossRun } from './core/dataset/recordLoss';
import { countRecordText, ExampleTokenCounter, type ExampleCount } from './core/dataset/exampleTokens';
import { tokenPercentiles } from './core/dataset/stats';
import { recordAtOffset, type JsonArrayResult } from './core/dataset/jsonArray';
import type { DatasetValidatorOptions } from './core/dataset/context';
import { countLinesHere, type ExactTokenStats } from './core/dataset/validator';
import { dirName } from './core/hfCache';
import { documentKindOf, type DatasetSession, type DocumentKind, type ModelFactoryService } from './core/service';
import type { CodeAction, Finding } from './core/types';
import { WORKER_BATCH_LINES, workerLineCounter } from './parallel/exactCounts';
import { defaultJobs, lintDatasetFileOnNode } from './parallel/lintFile';

interface OpenDocument {
  doc: LineDocument;
  path: string | undefined;
  kind: DocumentKind | undefined;
  session?: DatasetSession;
  /** A `.json` array dataset: its last full validation (records, positions), for hover, fixes and stats. */
  jsonArray?: JsonArrayResult;
  /** Exact token counts of its elements, by element text. */
  jsonCounts?: Map<string, ExampleCount | null>;
  /** The tail of this document's queue of work. */
  pending: Promise<void>;
  publishScheduled: boolean;
  findings: Finding[];
  /** The workspace's newest run that scored this dataset (record-loss.jsonl), and its hardest-record findings. */
  recordLoss?: RecordLossRun;
  hardRecords?: Finding[];
}

export class DocumentIndex {
  private readonly docs = new Map<string, OpenDocument>();
  /** Exact token statistics being computed, per dataset session. */
  private readonly exactRuns = new WeakMap<DatasetSession, Promise<ExactTokenStats | undefined>>();
  private readonly recordLoss: RecordLossIndex;

  constructor(
    private readonly service: ModelFactoryService,
    private readonly publish: (uri: string, version: number, findings: Finding[]) => void,
    private readonly logError: (message: string) => void,
  ) {
    this.recordLoss = new RecordLossIndex(service.env);
  }

  get(uri: string): OpenDocument | undefined {
    return this.docs.get(uri);
  }

  /** The current lines of the open document at `path`, if one is open. */
  linesOf(path: string): readonly string[] | undefined {
    for (const entry of this.docs.values()) if (entry.path === path) return entry.doc.allLines();
    return undefined;
  }

  private enqueue(entry: OpenDocument, work: () => Promise<void> | void): Promise<void> {
    entry.pending = entry.pending.then(work).catch((err: unknown) => {
      this.logError(`${entry.doc.uri}: ${(err as Error)?.stack ?? String(err)}`);
    });
    return entry.pending;
  }

  async open(uri: string, languageId: string, version: number, text: string): Promise<void> {
    const path = uriToPath(uri) ?? new URL(uri).pathname;
    const entry: OpenDocument = {
      doc: new LineDocument(uri, languageId, version, text),
      path,
      kind: documentKindOf(path),
      pending: Promise.resolve(),
      publishScheduled: false,
      findings: [],
    };
    this.docs.set(uri, entry);
    await this.enqueue(entry, () => this.validateFully(entry, true));
  }

  async change(uri: string, version: number, changes: ContentChange[]): Promise<void> {
    const entry = this.docs.get(uri);
    if (!entry) return;
    await this.enqueue(entry, async () => {
      entry.doc.version = version;
      for (const change of changes) {
        const splice = entry.doc.apply(change);
        entry.session?.update(splice.start, splice.deleteCount, splice.lines);
      }
      // Media files named by the edited lines are stat()ed once each (the rest are cached).
      if (entry.session) await entry.session.checkMedia();
      if (entry.session) await this.refreshHardRecords(entry, false);
      if (entry.session) this.schedulePublish(entry);
      else await this.validateFully(entry, false);
    });
  }

  close(uri: string): void {
    this.docs.delete(uri);
  }

  async saved(uri: string): Promise<void> {
    const entry = this.docs.get(uri);
    if (!entry) return;
    await this.enqueue(entry, async () => {
      if (entry.session) {
        await entry.session.refreshFromDisk();
        await this.refreshHardRecords(entry, true);
        this.schedulePublish(entry);
      }
    });
    if (entry.kind === 'manifest' || entry.kind === 'config' || entry.kind === 'registry') await this.revalidateAll();
  }

  /** Settings, a manifest or a governed file changed: every open document is checked afresh. */
  async revalidateAll(): Promise<void> {
    await Promise.all([...this.docs.values()].map((e) => this.enqueue(e, () => this.validateFully(e, true))));
  }

  private schedulePublish(entry: OpenDocument): void {
    if (entry.publishScheduled) return;
    entry.publishScheduled = true;
    setImmediate(() => {
      entry.publishScheduled = false;
      if (this.docs.get(entry.doc.uri) !== entry || !entry.session) return;
      entry.findings = [...entry.session.findings(), ...(entry.hardRecords ?? [])];
      this.publish(entry.doc.uri, entry.doc.version, entry.findings);
    });
  }

  private async validateFully(entry: OpenDocument, reopenSession: boolean): Promise<void> {
    const { doc, path } = entry;
    if (!path) return;
    if (entry.kind === 'dataset' && isLineDataset(path)) {
      if (reopenSession || !entry.session) {
        entry.session = await this.service.openDataset(path, entry.doc.allLines().slice());
        await entry.session.refreshFromDisk();
      }
      await this.refreshHardRecords(entry, true);
      this.schedulePublish(entry);
      return;
    }
    let findings: Finding[] = [];
    if (entry.kind === 'config') {
      findings = await config.validateConfig(doc.getText(), doc.uri, doc.version, this.configContext(path));
      this.noteDataset(entry);
    } else if (entry.kind === 'manifest') {
      findings = await this.service.validateManifest(doc, path);
    } else if (entry.kind === 'registry') {
      findings = await this.service.validateRegistry(doc, path);
    } else if (entry.kind === 'evals') {
      const parsed = this.service.yamlCache.get(doc.uri, doc.version, doc.getText());
      findings = await validateEvals(parsed, path, this.service.env, this.service.severityFor());
    }
    entry.jsonArray = undefined;
    if (entry.kind === 'dataset' && (await this.service.isJsonDataset(path, doc.getText()))) {
      entry.jsonArray = await this.service.validateJsonDataset(path, doc.getText());
      findings = entry.jsonArray.findings;
    }
    entry.findings = findings;
    this.publish(doc.uri, doc.version, findings);
  }

  /** The hardest records of the newest run that scored this dataset; `search` looks for runs again (cached briefly). */
  private async refreshHardRecords(entry: OpenDocument, search: boolean): Promise<void> {
    if (!entry.path || !entry.session) return;
    try {
      if (search) entry.recordLoss = await this.recordLoss.runFor(entry.path);
      const lines = entry.doc;
      entry.hardRecords = await hardRecordFindings(
        entry.recordLoss,
        (line) => (line < lines.lineCount ? lines.lineAt(line) : undefined),
        entry.session.policy.severityOf('dataset/hard-record'),
      );
    } catch (err) {
      this.logError(`record-loss for ${entry.path}: ${(err as Error)?.message ?? String(err)}`);
      entry.hardRecords = [];
    }
  }

  private noteDataset(entry: OpenDocument): void {
    const data = config.parseConfig(entry.doc.getText(), entry.doc.uri, entry.doc.version).data;
    const view = config.viewConfig(data);
    if (entry.path && view.datasetPath && view.baseModel) {
      const chatTemplate = (data as Record<string, unknown> | undefined)?.['chat_template'];
      this.service.noteConfigDataset(entry.path, view.datasetPath, view.baseModel, {
        maxSeqLength: view.maxSeqLength,
        ...(typeof chatTemplate === 'string' && chatTemplate ? { chatTemplate } : {}),
      });
    }
  }

  private configContext(path: string): config.ConfigContext {
    return {
      env: this.service.env,
      severityOf: this.service.severityFor(),
      settings: this.service.currentSettings,
      configDir: dirName(path),
    };
  }

  async hover(uri: string, position: Position): Promise<LspHover | null> {
    const entry = this.docs.get(uri);
    if (!entry?.path) return null;
    await entry.pending;
    let hover;
    if (entry.session) {
      hover = datasetHover(entry.session.validator, position.line, uri, counterName(entry.session.policy.options));
      const text = position.line < entry.doc.lineCount ? entry.doc.lineAt(position.line) : undefined;
      const loss = text === undefined ? undefined : await recordLossHover(entry.recordLoss, position.line, text);
      if (loss && hover) hover = { ...hover, contents: `${hover.contents}\n\n${loss}` };
      else if (loss) hover = { contents: loss };
    } else if (entry.jsonArray) {
      await this.countJsonRecordAt(entry, entry.jsonArray, position);
      hover = jsonArrayHover(entry.jsonArray, position, uri);
    } else if (entry.kind === 'manifest') {
      hover = manifestHover(this.service.yamlCache.get(uri, entry.doc.version, entry.doc.getText()), position);
    } else if (entry.kind === 'evals') {
      hover = evalsHover(this.service.yamlCache.get(uri, entry.doc.version, entry.doc.getText()), position);
    } else if (entry.kind === 'config') {
      hover = await config.configHover(
        entry.doc.getText(),
        uri,
        entry.doc.version,
        position,
        this.configContext(entry.path),
      );
    }
    if (!hover) return null;
    return { contents: { kind: 'markdown', value: hover.contents }, ...(hover.range ? { range: hover.range } : {}) };
  }

  async complete(uri: string, position: Position) {
    const entry = this.docs.get(uri);
    if (!entry?.path || (entry.kind !== 'config' && entry.kind !== 'manifest' && entry.kind !== 'evals')) return [];
    await entry.pending;
    if (entry.kind === 'evals') {
      const parsed = this.service.yamlCache.get(uri, entry.doc.version, entry.doc.getText());
      return evalsCompletions(parsed, position).map(toCompletionItem);
    }
    if (entry.kind === 'manifest') {
      const parsed = this.service.yamlCache.get(uri, entry.doc.version, entry.doc.getText());
      return manifestCompletions(parsed, position).map(toCompletionItem);
    }
    const items = await config.configCompletions(
      entry.doc.getText(),
      uri,
      entry.doc.version,
      position,
      this.configContext(entry.path),
    );
    return items.map(toCompletionItem);
  }

  async symbols(uri: string) {
    const entry = this.docs.get(uri);
    if (!entry || (entry.kind !== 'config' && entry.kind !== 'manifest')) return [];
    await entry.pending;
    return config.configSymbols(entry.doc.getText(), uri, entry.doc.version).map(toDocumentSymbol);
  }

  async codeActions(uri: string, range: Range, diagnostics: Diagnostic[], only?: string[]): Promise<LspCodeAction[]> {
    const entry = this.docs.get(uri);
    if (!entry?.path) return [];
    await entry.pending;
    const inRange = entry.findings.filter(
      (f) => overlaps(f.range, range) && diagnostics.some((d) => d.code === f.rule),
    );
    const actions: CodeAction[] = [];
    const wantsFixAll = only?.some((k) => k.startsWith(CodeActionKind.SourceFixAll)) ?? false;
    if (entry.session) {
      if (!wantsFixAll) actions.push(...datasetCodeActions(entry.session.validator, inRange));
      const all = removeAllDuplicates(entry.session.validator, entry.findings);
      if (all && (wantsFixAll || inRange.some((f) => f.rule === 'dedup/exact'))) actions.push(all);
    } else if (entry.jsonArray) {
      if (!wantsFixAll) actions.push(...jsonArrayCodeActions(entry.jsonArray, inRange));
      const all = removeAllJsonArrayDuplicates(entry.jsonArray, entry.findings);
      if (all && (wantsFixAll || inRange.some((f) => f.rule === 'dedup/exact'))) actions.push(all);
    } else if (entry.kind === 'config' && !wantsFixAll) {
      actions.push(...config.configCodeActions(entry.doc.getText(), uri, entry.doc.version, inRange));
    }
    return actions.map((a) => toLspAction(a, uri, diagnostics, wantsFixAll));
  }

  async datasetStats(uri: string, onProgress?: (done: number, total: number) => void) {
    const entry = this.docs.get(uri);
    if (!entry) throw new Error(`${uri} is not open`);
    await entry.pending;
    if (entry.jsonArray) {
      const stats = { uri, tokenizer: entry.jsonArray.tokenizer, ...entry.jsonArray.stats };
      const exact = entry.path ? await this.exactJsonStats(entry, entry.path, entry.jsonArray) : undefined;
      return exact
        ? { ...stats, tokenizer: exact.tokenizer, limit: exact.limit, tokens: exact.tokens, overLimit: exact.overLimit }
        : stats;
    }
    if (!entry.session) throw new Error(`${uri} is not a dataset`);
    const { validator, policy } = entry.session;
    const stats = {
      uri,
      tokenizer: counterName(policy.options),
      limit: policy.options.maxTokens,
      ...validator.stats(),
    };
    const exact = await this.exactStats(entry.session, onProgress);
    return exact
      ? { ...stats, tokens: exact.tokens, overLimit: exact.overLimit, templateErrors: exact.templateErrors }
      : stats;
  }

  /**
   * Exact token statistics of a JSONL document, one computation at a time per session (requests that
   * arrive meanwhile share it). Lines are counted once per version; many uncounted lines go to worker
   * threads, a few are counted here between other requests.
   */
  private exactStats(
    session: DatasetSession,
    onProgress?: (done: number, total: number) => void,
  ): Promise<ExactTokenStats | undefined> {
    const running = this.exactRuns.get(session);
    if (running) return running;
    const counter = session.policy.options.tokenCounter;
    if (!(counter instanceof ExampleTokenCounter) || !counter.exact) return Promise.resolve(undefined);
    const run = (async () => {
      const validator = session.validator;
      let workers: Awaited<ReturnType<typeof workerLineCounter>>;
      try {
        if (validator.lineCount() >= WORKER_MIN_LINES && defaultJobs() > 1) {
          workers = await workerLineCounter(session.policy.options, defaultJobs()).catch(() => undefined);
        }
        return await validator.exactTokenStats(
          workers?.countBatch ?? countLinesHere(counter),
          onProgress,
          workers ? WORKER_BATCH_LINES : 256,
        );
      } finally {
        await workers?.close();
        this.exactRuns.delete(session);
      }
    })();
    this.exactRuns.set(session, run);
    return run;
  }

  /**
   * Exact token statistics of a `.json` array document: each element's text counted once (kept by its
   * text, so an edit re-counts only the elements it changed), with a pause every few hundred.
   */
  private async exactJsonStats(entry: OpenDocument, path: string, result: JsonArrayResult) {
    const policy = await this.service.datasetPolicy(path);
    const counter = policy.options.tokenCounter;
    if (!(counter instanceof ExampleTokenCounter) || !counter.exact) return undefined;
    const cache = (entry.jsonCounts ??= new Map());
    const fresh = new Map<string, ExampleCount | null>();
    const text = entry.doc.getText();
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
    entry.jsonCounts = fresh;
    const limit = policy.options.maxTokens;
    return {
      tokenizer: counterName(policy.options),
      limit,
      overLimit: tokens.filter((n) => n > limit).length,
      tokens: tokenPercentiles(tokens, true),
    };
  }

  /** With a tokenizer, the exact count of the `.json` array element under `position`, for its hover. */
  private async countJsonRecordAt(entry: OpenDocument, result: JsonArrayResult, position: Position): Promise<void> {
    const record = result.records[recordAtOffset(result.records, result.offsetAt(position))];
    if (!entry.path || !record?.format || record.tokensExact) return;
    const counter = (await this.service.datasetPolicy(entry.path)).options.tokenCounter;
    if (!(counter instanceof ExampleTokenCounter) || !counter.exact) return;
    const count = countRecordText(entry.doc.getText().slice(record.start, record.end), counter);
    if (!count || count.error !== undefined) return;
    record.tokens = count.tokens;
    record.tokensExact = true;
  }

  /**
   * `minVersion`: the client's document version when it asked. The client may send a custom request
   * before the change notification it has buffered, so wait (briefly) for that text to arrive.
   */
  async memoryEstimate(uri: string, minVersion?: number) {
    const deadline = Date.now() + 2000;
    while (
      minVersion !== undefined &&
      (this.docs.get(uri)?.doc.version ?? Infinity) < minVersion &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const entry = this.docs.get(uri);
    if (!entry?.path || entry.kind !== 'config') throw new Error(`${uri} is not an open fine-tune config`);
    await entry.pending;
    return configMemoryEstimate(entry.doc.getText(), uri, entry.doc.version, this.configContext(entry.path));
  }

  async validateFileOnDisk(
    params: ValidateFileParams,
    progress: (doneBytes: number, totalBytes: number) => void,
  ): Promise<ValidateFileResult> {
    const max = params.maxFindings ?? 1000;
    const findings: ValidateFileResult['findings'] = [];
    let total = 0;
    // Through the bounded reader: /dev/zero, a FIFO or a folder is refused at once (an error answer).
    const { stream, size } = await openBoundedStream(params.path);
    try {
      const summary = await lintDatasetFileOnNode(
        this.service,
        params.path,
        size,
        stream,
        (f) => {
          total++;
          if (findings.length < max) {
            findings.push({
              rule: f.rule,
              severity: f.severity,
              line: f.range.start.line,
              character: f.range.start.character,
              message: f.message,
            });
          }
        },
        progress,
      );
      return { path: params.path, bytes: size, findings, summary: { ...summary }, truncated: total > findings.length };
    } finally {
      stream.destroy();
    }
  }
}

/** Documents with at least this many lines count their tokens on worker threads. */
const WORKER_MIN_LINES = 20_000;

/** Which tokenizer and template count a dataset's tokens, in words for hovers and statistics. */
function counterName(options: DatasetValidatorOptions): string {
  const counter = options.tokenCounter;
  return counter instanceof ExampleTokenCounter && counter.exact
    ? `${counter.name}, rendered with ${counter.templateName}`
    : counter.name;
}

function isLineDataset(path: string): boolean {
  return path.toLowerCase().endsWith('.jsonl');
}

function overlaps(a: Range, b: Range): boolean {
  const before = (p: Position, q: Position) => p.line < q.line || (p.line === q.line && p.character < q.character);
  return !before(a.end, b.start) && !before(b.end, a.start);
}

function toLspAction(a: CodeAction, uri: string, diagnostics: Diagnostic[], fixAll: boolean): LspCodeAction {
  const edits: TextEdit[] = a.edits.map((e) => ({ range: e.range, newText: e.newText }));
  const action: LspCodeAction = {
    title: a.title,
    kind: fixAll ? CodeActionKind.SourceFixAll : CodeActionKind.QuickFix,
    edit: { changes: { [uri]: edits } },
    diagnostics: diagnostics.filter((d) => d.code === a.rule),
  };
  if (a.isPreferred) action.isPreferred = true;
  return action;
}
