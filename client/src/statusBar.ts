// One status bar item for the active editor: a dataset's records and issues, or a fine-tune config's
// memory estimate against the GPU budget and where it would train. Both come from the language server.
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  DatasetStatsRequest,
  MemoryEstimateRequest,
  type DatasetStatsParams,
  type MemoryEstimateParams,
} from '../../server/src/protocol';
import { documentKindOf } from '../../server/src/core/documentKind';

const GIB = 1024 ** 3;

export function formatGiB(bytes: number): string {
  return `${(bytes / GIB).toFixed(bytes < 10 * GIB ? 1 : 0)} GiB`;
}

export class ActiveFileStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    'modelfactory.activeFile',
    vscode.StatusBarAlignment.Right,
    100,
  );
  private readonly disposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  private generation = 0;

  constructor(
    private readonly client: LanguageClient,
    private readonly target: () => string,
  ) {
    this.item.name = 'ModelFactory';
    this.disposables.push(
      this.item,
      vscode.window.onDidChangeActiveTextEditor(() => this.schedule(0)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document === vscode.window.activeTextEditor?.document) this.schedule(300);
      }),
      vscode.languages.onDidChangeDiagnostics(() => this.schedule(150)),
    );
    this.schedule(0);
  }

  /** Debounced: typing in a large file must not queue a request per keystroke. */
  schedule(delayMs: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.refresh(), delayMs);
  }

  private async refresh(): Promise<void> {
    const generation = ++this.generation;
    const doc = vscode.window.activeTextEditor?.document;
    const kind = doc && doc.uri.scheme !== 'output' ? documentKindOf(doc.uri.path) : undefined;
    // Datasets show their statistics, configs their memory estimate; other kinds show nothing.
    if (!doc || (kind !== 'dataset' && kind !== 'config') || !this.client.isRunning()) {
      this.item.hide();
      return;
    }
    try {
      if (kind === 'dataset') {
        const params: DatasetStatsParams = { uri: doc.uri.toString() };
        const stats = await this.client.sendRequest(DatasetStatsRequest, params);
        if (generation !== this.generation) return;
        if (!stats) return this.item.hide();
        const issues = Object.values(stats.findingsByRule).reduce((a, b) => a + b, 0);
        this.item.text = `$(database) ${stats.records.toLocaleString()} records · ${issues ? `$(warning) ${issues}` : '$(check) no'} issues`;
        this.item.tooltip = `${Math.round(stats.acceptance * 100)}% of records pass (no error). Tokens counted with ${stats.tokenizer ?? 'an estimate'}.`;
        this.item.command = 'workbench.actions.view.problems';
      } else {
        const params: MemoryEstimateParams = { uri: doc.uri.toString(), version: doc.version };
        const est = await this.client.sendRequest(MemoryEstimateRequest, params);
        if (generation !== this.generation) return;
        const where = this.target();
        if (!est) {
          this.item.text = `$(chip) memory: unknown model · ${where}`;
          this.item.tooltip = 'The base model is not in the catalog or on disk, so its memory cannot be estimated.';
        } else {
          const over = est.estimate.totalBytes > est.gpuMemoryBytes;
          this.item.text = `$(chip) ${formatGiB(est.estimate.totalBytes)} / ${formatGiB(est.gpuMemoryBytes)}${over ? ' $(warning)' : ''} · ${where}`;
          this.item.tooltip = `Estimated peak GPU memory of ${est.model} for this config, against modelfactory.gpuMemoryGb. Jobs go to: ${where}.`;
        }
        this.item.command = {
          title: 'Open Hyperparameter Panel',
          command: 'modelfactory.openHyperparameters',
          arguments: [doc.uri],
        };
      }
      this.item.show();
    } catch {
      if (generation === this.generation) this.item.hide();
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const d of this.disposables) d.dispose();
  }
}
