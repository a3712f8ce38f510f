// The host of the hyperparameter panel: one panel per fine-tune config. The form's edits become
// `WorkspaceEdit`s on the document (undo works; nothing is saved behind the user's back), and every
// change of the text or of its diagnostics is posted back to the form at once.
import { documentKindOf } from '../../../server/src/core/documentKind';
import * as vscode from 'vscode';
import { formChoices } from '../config/formChoices';
import { editForField, fieldPathAt, readForm } from '../config/formModel';
import { toMemoryView } from '../config/memoryView';
import { parseWebviewMessage } from '../../../webviews/src/protocol/hyperparameters';
import type {
  DiagnosticView,
  FieldPath,
  FieldValue,
  MemoryView,
  StateMessage,
  WebviewMessage,
} from '../../../webviews/src/protocol/hyperparameters';
import { isObj, isStr } from '../../../webviews/src/protocol/validate';
import { receiveValidated, renderInto, webviewOptions } from './webviewHost';
import { getSetting } from '../settings';

export interface HyperparametersDeps {
  log: vscode.LogOutputChannel;
  /** The language server's `modelfactory/memoryEstimate` for the document (null when it has none). */
  memoryEstimate(uri: vscode.Uri): Promise<unknown>;
  /** Local model folders the base model field offers. */
  localModels(): Promise<string[]>;
}

export const HYPERPARAMETERS_VIEW_TYPE = 'modelfactory.hyperparameters';
/** The only command the panel runs, always with its own document: never one named by the webview. */
const TRAIN_COMMAND = 'modelfactory.train';
const MAX_MESSAGE = 10_000;

const openPanels = new Map<string, HyperparametersPanel>();

/** Opens the panel for the config at `uri`, or reveals it when it is already open. */
export function openHyperparametersPanel(
  context: vscode.ExtensionContext,
  uri: vscode.Uri,
  deps: HyperparametersDeps,
): void {
  const existing = openPanels.get(uri.toString());
  if (existing) {
    existing.reveal();
    return;
  }
  if (documentKindOf(uri.path) !== 'config') {
    void vscode.window.showErrorMessage('The hyperparameter panel edits fine-tune configs (*.finetune.yaml).');
    return;
  }
  const panel = vscode.window.createWebviewPanel(
    HYPERPARAMETERS_VIEW_TYPE,
    panelTitle(uri),
    { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false },
    webviewOptions(context.extensionUri),
  );
  new HyperparametersPanel(panel, uri, context, deps);
}

/** Restores hyperparameter panels after a reload, for configs inside the workspace only. */
export function registerHyperparametersSerializer(
  context: vscode.ExtensionContext,
  deps: HyperparametersDeps,
): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(HYPERPARAMETERS_VIEW_TYPE, {
    async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown) {
      const uri = restoredUri(state);
      if (
        !uri ||
        documentKindOf(uri.path) !== 'config' ||
        !vscode.workspace.getWorkspaceFolder(uri) ||
        openPanels.has(uri.toString())
      ) {
        deps.log.warn('Closed a restored hyperparameter panel: its config is not a fine-tune config in this workspace');
        panel.dispose();
        return;
      }
      new HyperparametersPanel(panel, uri, context, deps);
    },
  });
}

/** The config URI the webview kept in its state (untrusted: it comes from the webview). */
function restoredUri(state: unknown): vscode.Uri | undefined {
  if (!isObj(state) || !isObj(state['state']) || !isStr(state['state']['uri'], 4096)) return undefined;
  try {
    const uri = vscode.Uri.parse(state['state']['uri'], true);
    return uri.scheme === 'file' || uri.scheme === 'vscode-remote' || uri.scheme === 'vscode-vfs' ? uri : undefined;
  } catch {
    return undefined;
  }
}

function panelTitle(uri: vscode.Uri): string {
  return `Hyperparameters: ${uri.path.slice(uri.path.lastIndexOf('/') + 1)}`;
}

const SEVERITIES: Record<vscode.DiagnosticSeverity, DiagnosticView['severity']> = {
  [vscode.DiagnosticSeverity.Error]: 'error',
  [vscode.DiagnosticSeverity.Warning]: 'warning',
  [vscode.DiagnosticSeverity.Information]: 'information',
  [vscode.DiagnosticSeverity.Hint]: 'hint',
};

function ruleIdOf(code: vscode.Diagnostic['code']): string | null {
  if (code === undefined) return null;
  const value = typeof code === 'object' ? code.value : code;
  return String(value).slice(0, 200);
}

class HyperparametersPanel {
  private readonly key: string;
  private readonly disposables: vscode.Disposable[] = [];
  private memory: MemoryView | null = null;
  private localModels: string[] = [];
  /** Bumped per memory request, so a slow answer for an older text never overwrites a newer one. */
  private memoryRequest = 0;

  constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly uri: vscode.Uri,
    context: vscode.ExtensionContext,
    private readonly deps: HyperparametersDeps,
  ) {
    this.key = uri.toString();
    openPanels.set(this.key, this);
    panel.title = panelTitle(uri);
    renderInto(panel.webview, context.extensionUri, 'hyperparameters', panel.title);
    this.disposables.push(
      receiveValidated(panel.webview, parseWebviewMessage, (message) => this.onMessage(message), deps.log),
      vscode.workspace.onDidChangeTextDocument((event) => {
        if (event.document.uri.toString() === this.key && event.contentChanges.length > 0) void this.postState(true);
      }),
      vscode.languages.onDidChangeDiagnostics((event) => {
        if (event.uris.some((changed) => changed.toString() === this.key)) void this.postState(false);
      }),
      vscode.workspace.onDidChangeConfiguration((event) => {
        if (event.affectsConfiguration('modelfactory')) void this.postState(true);
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  reveal(): void {
    this.panel.reveal();
  }

  private async onMessage(message: WebviewMessage): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.localModels = await this.deps.localModels().catch(() => []);
        await this.postState(true);
        return;
      case 'set':
        await this.applySet(message.path, message.value ?? undefined);
        return;
      case 'train':
        await vscode.commands.executeCommand(TRAIN_COMMAND, this.uri);
        return;
      case 'reveal':
        await this.revealLine(message.line);
        return;
    }
  }

  private async document(): Promise<vscode.TextDocument> {
    return (
      vscode.workspace.textDocuments.find((d) => d.uri.toString() === this.key) ??
      (await vscode.workspace.openTextDocument(this.uri))
    );
  }

  private async applySet(path: FieldPath, value: FieldValue | undefined): Promise<void> {
    const document = await this.document();
    const edits = editForField(document.getText(), path, value);
    if (edits.length === 0) {
      // Nothing to change (or the YAML cannot be edited safely): show the form what the file says.
      await this.postState(false);
      return;
    }
    const workspaceEdit = new vscode.WorkspaceEdit();
    for (const edit of edits) {
      const range = new vscode.Range(document.positionAt(edit.start), document.positionAt(edit.end));
      workspaceEdit.replace(this.uri, range, edit.newText);
    }
    if (!(await vscode.workspace.applyEdit(workspaceEdit))) {
      this.deps.log.warn(`Could not apply the form's edit of ${path} to ${this.uri.fsPath}`);
      await this.postState(false);
    }
  }

  private async revealLine(line: number): Promise<void> {
    const document = await this.document();
    const target = Math.min(line, Math.max(0, document.lineCount - 1));
    const column = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === this.key)?.viewColumn;
    const position = new vscode.Position(target, 0);
    await vscode.window.showTextDocument(document, {
      viewColumn: column ?? vscode.ViewColumn.One,
      selection: new vscode.Range(position, position),
    });
  }

  private diagnostics(text: string): DiagnosticView[] {
    return vscode.languages.getDiagnostics(this.uri).map((d) => ({
      path: fieldPathAt(text, d.range.start.line, d.range.start.character),
      line: d.range.start.line,
      severity: SEVERITIES[d.severity],
      message: d.message.slice(0, MAX_MESSAGE),
      ruleId: ruleIdOf(d.code),
    }));
  }

  private endpointNames(): string[] {
    const endpoints = getSetting('modelfactory.trainer.endpoints');
    if (!Array.isArray(endpoints)) return [];
    return endpoints.flatMap((e: unknown) => (isObj(e) && isStr(e['name'], 200) ? [e['name']] : []));
  }

  /** Posts the form's state now; with `refreshMemory`, asks the language server again and posts once more. */
  private async postState(refreshMemory: boolean): Promise<void> {
    try {
      await this.panel.webview.postMessage(await this.currentState());
      if (!refreshMemory) return;
      const request = ++this.memoryRequest;
      const memory = toMemoryView(await this.deps.memoryEstimate(this.uri));
      if (request !== this.memoryRequest || JSON.stringify(memory) === JSON.stringify(this.memory)) return;
      this.memory = memory;
      await this.panel.webview.postMessage(await this.currentState());
    } catch (err) {
      this.deps.log.warn(`Hyperparameter panel update failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async currentState(): Promise<StateMessage> {
    const document = await this.document();
    const text = document.getText();
    const { values, parseError } = readForm(text);
    return {
      type: 'state',
      uri: this.key,
      fileName: this.uri.path.slice(this.uri.path.lastIndexOf('/') + 1),
      values,
      parseError,
      choices: formChoices(values, { localModels: this.localModels, endpointNames: this.endpointNames() }),
      diagnostics: this.diagnostics(text),
      memory: this.memory,
    };
  }

  private dispose(): void {
    openPanels.delete(this.key);
    for (const disposable of this.disposables.splice(0)) disposable.dispose();
  }
}
