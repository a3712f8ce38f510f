// Open documents as the LSP sees them: the line model, and a queue of work per document. Every
// feature is the language service's (core/service.ts), which holds what it knows about each document
// by kind; this shell applies edits to the lines, serialises work on one document (a change that
// arrives while the file is still being opened waits for the open), and publishes diagnostics (once
// per burst of changes where the service says so).
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
import type { LineSplice, ModelFactoryService, PublishWhen, ValidationReason } from './core/service';
import type { CodeAction, Finding } from './core/types';
import { lintDatasetFileOnNode } from './parallel/lintFile';

interface OpenDocument {
  doc: LineDocument;
  /** The tail of this document's queue of work. */
  pending: Promise<void>;
  publishScheduled: boolean;
}

export class DocumentIndex {
  private readonly docs = new Map<string, OpenDocument>();

  constructor(
    private readonly service: ModelFactoryService,
    private readonly publish: (uri: string, version: number, findings: Finding[]) => void,
    private readonly logError: (message: string) => void,
  ) {}

  get(uri: string): OpenDocument | undefined {
    return this.docs.get(uri);
  }

  /** The current lines of the open document at `path`, if one is open. */
  linesOf(path: string): readonly string[] | undefined {
    for (const [uri, entry] of this.docs) if (uriToPath(uri) === path) return entry.doc.allLines();
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
      pending: Promise.resolve(),
      publishScheduled: false,
    };
    this.docs.set(uri, entry);
    this.service.open(entry.doc, path);
    await this.enqueue(entry, () => this.validate(entry, 'open'));
  }

  async change(uri: string, version: number, changes: ContentChange[]): Promise<void> {
    const entry = this.docs.get(uri);
    if (!entry) return;
    await this.enqueue(entry, async () => {
      entry.doc.version = version;
      const splices: LineSplice[] = changes.map((change) => entry.doc.apply(change));
      this.service.update(uri, splices);
      await this.validate(entry, 'edit');
    });
  }

  close(uri: string): void {
    this.docs.delete(uri);
    this.service.close(uri);
  }

  async saved(uri: string): Promise<void> {
    const entry = this.docs.get(uri);
    if (!entry) return;
    await this.enqueue(entry, () => this.validate(entry, 'save'));
    if (this.service.affectsOthers(uri)) await this.revalidateAll();
  }

  /** Settings, a manifest or a governed file changed: every open document is checked afresh. */
  async revalidateAll(): Promise<void> {
    await Promise.all([...this.docs.values()].map((e) => this.enqueue(e, () => this.validate(e, 'open'))));
  }

  private async validate(entry: OpenDocument, reason: ValidationReason): Promise<void> {
    const when: PublishWhen = await this.service.validate(entry.doc.uri, reason);
    // Closed (and perhaps opened again) meanwhile: this entry's findings are no longer anyone's.
    if (this.docs.get(entry.doc.uri) !== entry) return;
    if (when === 'now') this.publish(entry.doc.uri, entry.doc.version, this.service.findings(entry.doc.uri));
    else if (when === 'burst') this.schedulePublish(entry);
  }

  private schedulePublish(entry: OpenDocument): void {
    if (entry.publishScheduled) return;
    entry.publishScheduled = true;
    setImmediate(() => {
      entry.publishScheduled = false;
      if (this.docs.get(entry.doc.uri) !== entry) return;
      this.publish(entry.doc.uri, entry.doc.version, this.service.findings(entry.doc.uri));
    });
  }

  async hover(uri: string, position: Position): Promise<LspHover | null> {
    const entry = this.docs.get(uri);
    if (!entry) return null;
    await entry.pending;
    const hover = await this.service.hover(uri, position);
    if (!hover) return null;
    return { contents: { kind: 'markdown', value: hover.contents }, ...(hover.range ? { range: hover.range } : {}) };
  }

  async complete(uri: string, position: Position) {
    const entry = this.docs.get(uri);
    if (!entry) return [];
    await entry.pending;
    return (await this.service.complete(uri, position)).map(toCompletionItem);
  }

  async symbols(uri: string) {
    const entry = this.docs.get(uri);
    if (!entry) return [];
    await entry.pending;
    return this.service.symbols(uri).map(toDocumentSymbol);
  }

  async codeActions(uri: string, range: Range, diagnostics: Diagnostic[], only?: string[]): Promise<LspCodeAction[]> {
    const entry = this.docs.get(uri);
    if (!entry) return [];
    await entry.pending;
    const wantsFixAll = only?.some((k) => k.startsWith(CodeActionKind.SourceFixAll)) ?? false;
    const rules = diagnostics.map((d) => d.code);
    const actions = this.service.codeActions(uri, range, rules, wantsFixAll);
    return actions.map((a) => toLspAction(a, uri, diagnostics, wantsFixAll));
  }

  async datasetStats(uri: string, onProgress?: (done: number, total: number) => void) {
    const entry = this.docs.get(uri);
    if (!entry) throw new Error(`${uri} is not open`);
    await entry.pending;
    return this.service.stats(uri, onProgress);
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
    if (!entry) throw new Error(`${uri} is not an open fine-tune config`);
    await entry.pending;
    return this.service.memoryEstimate(uri);
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
