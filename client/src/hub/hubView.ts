// The Datanets view: per Datanet on the hub, my rank and acceptance rate, today's quota left as bars,
// my contributions and their status, and (for curators) the review queue. Data comes from
// `GET /v1/datanets/:name/me`; datanetsModel.ts renders it.
import * as vscode from 'vscode';
import type { HubClient, MyDatanetView, Receipt } from './hubClient';
import { contributionLine, quotaLines, rankLine } from './datanetsModel';

export type DatanetsNode =
  | { kind: 'message'; text: string; detail?: string }
  | { kind: 'datanet'; view: MyDatanetView; version: number }
  | { kind: 'line'; label: string; description: string; tooltip?: string; icon: string; command?: vscode.Command }
  | { kind: 'mine'; view: MyDatanetView }
  | { kind: 'queue'; datanet: string; count: number }
  | { kind: 'contribution'; receipt: Receipt; pending: boolean };

export class DatanetsTreeProvider implements vscode.TreeDataProvider<DatanetsNode> {
  private readonly changed = new vscode.EventEmitter<DatanetsNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private roots: DatanetsNode[] = [];
  /** The latest views, for the hub ledger sent to the language server. */
  views: MyDatanetView[] = [];

  constructor(
    private readonly client: () => Promise<HubClient | undefined>,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Fetches everything again; the views it read, or undefined when not signed in. */
  async refresh(): Promise<MyDatanetView[] | undefined> {
    const hub = await this.client();
    if (!hub) {
      this.roots = [];
      this.views = [];
      this.changed.fire(undefined);
      return undefined;
    }
    try {
      const list = await hub.datanets();
      const views = await Promise.all(list.map((d) => hub.myDatanet(d.name)));
      this.views = views;
      this.roots = views.map((view, i) => ({ kind: 'datanet', view, version: list[i]!.version }));
      if (this.roots.length === 0) this.roots = [{ kind: 'message', text: `No Datanets on ${hub.base} yet` }];
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      this.log.warn(`Datanets view: ${text}`);
      this.roots = [{ kind: 'message', text: 'The hub did not answer', detail: text }];
      this.views = [];
    }
    this.changed.fire(undefined);
    return this.views;
  }

  getChildren(node?: DatanetsNode): DatanetsNode[] | Promise<DatanetsNode[]> {
    if (!node) return this.roots;
    if (node.kind === 'queue') return this.queueChildren(node);
    if (node.kind === 'datanet') {
      const v = node.view;
      const rank = rankLine(v);
      const out: DatanetsNode[] = [
        {
          kind: 'line',
          label: rank.label,
          description: rank.description,
          icon: 'graph',
          command: { command: 'modelfactory.openLeaderboard', title: 'Open Leaderboard', arguments: [v.datanet] },
        },
        ...quotaLines(v.quota).map((q): DatanetsNode => ({
          kind: 'line',
          label: q.label,
          description: q.description,
          tooltip: q.tooltip,
          icon: 'dashboard',
        })),
      ];
      if (v.pending_review !== null) out.push({ kind: 'queue', datanet: v.datanet, count: v.pending_review });
      out.push({ kind: 'mine', view: v });
      return out;
    }
    if (node.kind === 'mine')
      return node.view.contributions.map((receipt) => ({ kind: 'contribution', receipt, pending: false }));
    return [];
  }

  /** The review queue is fetched when it is expanded. */
  private async queueChildren(node: DatanetsNode & { kind: 'queue' }): Promise<DatanetsNode[]> {
    const hub = await this.client();
    if (!hub) return [];
    try {
      const pending = await hub.pending(node.datanet);
      if (pending.length === 0) return [{ kind: 'message', text: 'Nothing waits for review' }];
      return pending.map((receipt) => ({ kind: 'contribution', receipt, pending: true }));
    } catch (err) {
      return [
        {
          kind: 'message',
          text: 'The review queue did not load',
          detail: err instanceof Error ? err.message : String(err),
        },
      ];
    }
  }

  getTreeItem(node: DatanetsNode): vscode.TreeItem {
    const None = vscode.TreeItemCollapsibleState.None;
    switch (node.kind) {
      case 'message': {
        const item = new vscode.TreeItem(node.text, None);
        item.tooltip = node.detail;
        item.description = node.detail;
        item.iconPath = new vscode.ThemeIcon('info');
        return item;
      }
      case 'datanet': {
        const item = new vscode.TreeItem(node.view.datanet, vscode.TreeItemCollapsibleState.Expanded);
        const r = node.view.rank;
        item.description = `manifest v${node.version}${r ? ` · rank ${r.rank}/${node.view.contributors}` : ''} · ${node.view.role}`;
        item.iconPath = new vscode.ThemeIcon('database');
        item.contextValue = 'hubDatanet';
        item.id = `datanet:${node.view.datanet}`;
        return item;
      }
      case 'line': {
        const item = new vscode.TreeItem(node.label, None);
        item.description = node.description;
        item.tooltip = node.tooltip ?? `${node.label} — ${node.description}`;
        item.iconPath = new vscode.ThemeIcon(node.icon);
        if (node.command) item.command = node.command;
        return item;
      }
      case 'queue': {
        const item = new vscode.TreeItem(
          `Review queue (${node.count})`,
          node.count > 0 ? vscode.TreeItemCollapsibleState.Collapsed : None,
        );
        item.iconPath = new vscode.ThemeIcon('checklist');
        item.id = `queue:${node.datanet}:${node.count}`;
        return item;
      }
      case 'mine': {
        const n = node.view.contributions.length;
        const item = new vscode.TreeItem(
          `My contributions (${n})`,
          n > 0 ? vscode.TreeItemCollapsibleState.Expanded : None,
        );
        item.iconPath = new vscode.ThemeIcon('cloud-upload');
        return item;
      }
      case 'contribution': {
        const line = contributionLine(node.receipt);
        const item = new vscode.TreeItem(
          node.pending ? `${node.receipt.contributor}: ${line.label}` : line.label,
          None,
        );
        item.description = line.description;
        item.tooltip = line.tooltip;
        item.iconPath = new vscode.ThemeIcon(line.icon);
        item.contextValue = node.pending ? 'hubPending' : `hubContribution-${node.receipt.verdict}`;
        return item;
      }
    }
  }
}
