// Host of the evaluation view: one panel at a time, showing one `eval` run's folder (summary.json and
// results.jsonl, read by client/src/evaluation/results.ts). Messages from the webview name an example by
// index and models by name; the host looks the source record and the answers up in what it read, so no path
// or text from the webview reaches the disk. Exports go through the playground's WorkspaceEdit path.
import * as vscode from 'vscode';
import { basename, sep } from 'node:path';
import type { EvaluationHostMessage, EvaluationWebviewMessage } from '../../../webviews/src/protocol/evaluation';
import { EVALUATION_LIMITS, parseEvaluationWebviewMessage } from '../../../webviews/src/protocol/evaluation';
import { statPath } from '../../../server/src/boundedRead';
import { loadEvaluation, type ExampleSource, type LoadedEvaluation } from '../evaluation/results';
import { preferenceRecordOf, sftRecordOf } from '../evaluation/exportRows';
import type { MessagesRecord, PreferenceRecord } from './exportRecord';
import { receiveValidated, renderInto, revealOrCreate } from './webviewHost';

export const EVALUATION_VIEW_TYPE = 'modelfactory.evaluation';

export interface EvaluationDeps {
  log: vscode.LogOutputChannel;
  exportRecord(record: MessagesRecord | PreferenceRecord): Promise<void>;
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length <= EVALUATION_LIMITS.message ? text : `${text.slice(0, EVALUATION_LIMITS.message - 1)}…`;
}

function insideWorkspace(file: string): boolean {
  return (vscode.workspace.workspaceFolders ?? []).some((f) => file.startsWith(f.uri.fsPath + sep));
}

/**
 * The workspace file a result's record came from. The trainer names the file it read: in the workspace
 * when `eval` ran there, in the job server's folder when an uploaded copy was evaluated; then the workspace
 * file of the same name is meant (asked when there are several).
 */
async function sourceUri(source: ExampleSource): Promise<vscode.Uri | undefined> {
  if (!source.file) return undefined;
  if (insideWorkspace(source.file) && (await statPath(source.file))?.isFile) return vscode.Uri.file(source.file);
  const name = basename(source.file).replace(/[[\]{}*?!]/g, '');
  const found = name
    ? await vscode.workspace.findFiles(`**/${name}`, '{**/node_modules/**,**/.modelfactory/**}', 50)
    : [];
  if (found.length === 1) return found[0];
  if (found.length > 1) {
    const pick = await vscode.window.showQuickPick(
      found.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
      { title: `Which ${name} did the evaluated record come from?` },
    );
    return pick?.uri;
  }
  return (await statPath(source.file))?.isFile ? vscode.Uri.file(source.file) : undefined;
}

class EvaluationPanel {
  static current: EvaluationPanel | undefined;

  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;

  constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly deps: EvaluationDeps,
    private loaded: LoadedEvaluation,
  ) {
    renderInto(panel.webview, extensionUri, 'evaluation', 'Evaluation');
    this.disposables.push(
      receiveValidated(panel.webview, parseEvaluationWebviewMessage, (m) => this.onMessage(m), deps.log),
    );
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
  }

  show(loaded: LoadedEvaluation): void {
    this.loaded = loaded;
    this.sendResults();
  }

  private post(message: EvaluationHostMessage): void {
    if (!this.disposed) void this.panel.webview.postMessage(message);
  }

  private sendResults(): void {
    const { title, models, examples, note } = this.loaded;
    this.panel.title = `Evaluation: ${basename(this.loaded.dir)}`;
    this.post({ type: 'results', title, models, examples, note });
  }

  private async onMessage(m: EvaluationWebviewMessage): Promise<void> {
    if (m.type === 'ready') return this.sendResults();
    const source = this.loaded.sources.get(m.example);
    if (!source) return this.deps.log.warn(`Evaluation: no example ${m.example} in ${this.loaded.dir}`);
    switch (m.type) {
      case 'openSource': {
        const uri = await sourceUri(source);
        if (!uri) {
          this.post({ type: 'exported', ok: false, message: `The source record's file was not found: ${source.file}` });
          return;
        }
        const doc = await vscode.workspace.openTextDocument(uri);
        const line = Math.min(Math.max(0, (source.line ?? 1) - 1), doc.lineCount - 1);
        const range = doc.lineAt(line).range;
        await vscode.window.showTextDocument(doc, { selection: range, preview: false });
        return;
      }
      case 'exportRecord':
      case 'exportPair': {
        const built =
          m.type === 'exportRecord' ? sftRecordOf(source, m.model) : preferenceRecordOf(source, m.chosen, m.rejected);
        if (!built.ok) return this.post({ type: 'exported', ok: false, message: built.reason });
        try {
          await this.deps.exportRecord(built.record);
          const what =
            m.type === 'exportRecord' ? `a record answered by ${m.model}` : `a pair (${m.chosen} over ${m.rejected})`;
          this.post({ type: 'exported', ok: true, message: `Exported ${what} from example ${m.example + 1}.` });
        } catch (err) {
          this.post({ type: 'exported', ok: false, message: `Export failed: ${errorText(err)}` });
        }
        return;
      }
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (EvaluationPanel.current === this) EvaluationPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** Opens (or reuses) the evaluation view on the `eval` output folder at `path` (or its results.jsonl). */
export async function openEvaluation(
  context: vscode.ExtensionContext,
  deps: EvaluationDeps,
  path: string,
): Promise<void> {
  const loaded = await loadEvaluation(path);
  EvaluationPanel.current = revealOrCreate(
    EvaluationPanel.current,
    { viewType: EVALUATION_VIEW_TYPE, title: 'Evaluation', extensionUri: context.extensionUri },
    (panel) => new EvaluationPanel(panel, context.extensionUri, deps, loaded),
    (open) => open.show(loaded),
  );
}
