// The "Hardest Records" view: the records the workspace's runs found hardest (record-loss.jsonl, read by the
// language server's modelfactory/hardestRecords request: newest run per dataset, only lines unchanged since),
// sorted by loss (the default) or by loss − base_loss. A click opens the record's line. Trusted workspaces only:
// the language server does not run in an untrusted one.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import {
  HardestRecordsRequest,
  type HardestRecord,
  type HardestRecordsParams,
  type HardestRecordsResult,
} from '../../../server/src/protocol';

export const HARDEST_RECORDS_VIEW = 'modelfactory.hardestRecords';
/** Records listed at most. */
const LIMIT = 500;

type Sort = 'loss' | 'delta';

function signed(value: number): string {
  return `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}`;
}

export class HardestRecordsProvider implements vscode.TreeDataProvider<HardestRecord> {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  sort: Sort = 'loss';
  private last: HardestRecordsResult | null = null;

  constructor(
    private readonly client: () => LanguageClient | undefined,
    private readonly log: vscode.LogOutputChannel,
    private readonly setMessage: (message: string | undefined) => void,
  ) {}

  refresh(): void {
    this.changed.fire();
  }

  async getChildren(element?: HardestRecord): Promise<HardestRecord[]> {
    if (element) return [];
    const lc = this.client();
    if (!vscode.workspace.isTrusted || !lc?.isRunning()) {
      this.setMessage('The language server is not running (trusted workspaces only).');
      return [];
    }
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    const params: HardestRecordsParams = { roots, sort: this.sort, limit: LIMIT };
    try {
      this.last = await lc.sendRequest(HardestRecordsRequest, params);
    } catch (err) {
      this.log.warn(`Hardest records: ${err instanceof Error ? err.message : String(err)}`);
      this.last = null;
    }
    const result = this.last;
    if (!result || result.records.length === 0) {
      this.setMessage(
        result && result.runs > 0
          ? `No record of ${result.runs} run(s) is unchanged since it was scored.`
          : 'No run of this workspace wrote record-loss.jsonl yet: train a config, or run `python -m modelfactory_trainer record-loss CONFIG --adapter DIR`.',
      );
      return [];
    }
    const changed = result.changed ? `; ${result.changed} changed since their run (not shown)` : '';
    this.setMessage(
      `Sorted by ${this.sort === 'loss' ? 'loss' : 'loss − base loss'}: ${result.records.length}${result.truncated ? '+' : ''} record(s) of ${result.runs} run(s)${changed}.`,
    );
    return result.records;
  }

  getTreeItem(record: HardestRecord): vscode.TreeItem {
    const name = `${path.basename(record.file)}:${record.line}`;
    const item = new vscode.TreeItem(`${name}  loss ${record.loss.toFixed(2)}`, vscode.TreeItemCollapsibleState.None);
    item.id = `${record.file}:${record.line}`;
    item.description = [record.delta !== null ? `${signed(record.delta)} vs base` : null, `run ${record.run}`]
      .filter(Boolean)
      .join(' · ');
    const base = record.baseLoss !== null ? ` (base model ${record.baseLoss.toFixed(2)})` : '';
    item.tooltip = new vscode.MarkdownString().appendText(
      `${vscode.workspace.asRelativePath(record.file)}, line ${record.line}\nloss ${record.loss.toFixed(3)}${base} under run ${record.run}: ${record.verdict}`,
    );
    item.iconPath = new vscode.ThemeIcon(record.loss >= 1.5 ? 'flame' : record.loss >= 0.5 ? 'warning' : 'pass');
    item.contextValue = 'hardest-record';
    const line = Math.max(0, record.line - 1);
    item.command = {
      title: 'Open Record',
      command: 'vscode.open',
      arguments: [vscode.Uri.file(record.file), { selection: new vscode.Range(line, 0, line, 0), preview: true }],
    };
    return item;
  }
}

/** Registers the view, its refresh and sort commands, and refreshes it when a run or a dataset changes. */
export function registerHardestRecords(
  context: vscode.ExtensionContext,
  client: () => LanguageClient | undefined,
  log: vscode.LogOutputChannel,
): HardestRecordsProvider {
  const holder: { view?: vscode.TreeView<HardestRecord> } = {};
  const provider = new HardestRecordsProvider(client, log, (message) => {
    if (holder.view) holder.view.message = message;
  });
  const view = vscode.window.createTreeView(HARDEST_RECORDS_VIEW, {
    treeDataProvider: provider,
    showCollapseAll: false,
  });
  holder.view = view;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => provider.refresh(), 500);
  };
  const runs = vscode.workspace.createFileSystemWatcher('**/record-loss.jsonl');
  context.subscriptions.push(
    view,
    runs,
    runs.onDidCreate(soon),
    runs.onDidChange(soon),
    runs.onDidDelete(soon),
    vscode.workspace.onDidSaveTextDocument((doc) => doc.uri.path.endsWith('.jsonl') && soon()),
    vscode.workspace.onDidGrantWorkspaceTrust(soon),
    { dispose: () => clearTimeout(timer) },
    vscode.commands.registerCommand('modelfactory.refreshHardestRecords', () => provider.refresh()),
    vscode.commands.registerCommand('modelfactory.sortHardestRecords', async (sort?: unknown) => {
      const chosen =
        sort === 'loss' || sort === 'delta'
          ? sort
          : (
              await vscode.window.showQuickPick(
                [
                  { label: 'Loss', description: 'the highest loss first', sort: 'loss' as Sort },
                  { label: 'Loss − base loss', description: 'what training made hardest first', sort: 'delta' as Sort },
                ],
                { title: 'Sort the hardest records by' },
              )
            )?.sort;
      if (!chosen) return;
      provider.sort = chosen;
      provider.refresh();
    }),
  );
  return provider;
}
