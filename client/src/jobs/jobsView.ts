// The Jobs view: one node per target (the local trainer, each remote endpoint) with its jobs under it,
// newest first. Text from the server (names, reasons) is shown as plain labels, never as markdown.
import * as vscode from 'vscode';
import type { JobState, JobView, TargetRef } from '../trainer/api';
import { describeJob, describePlacement } from './describe';

export type ConnectionState = 'connected' | 'connecting' | 'reconnecting' | 'closed' | 'unavailable';

export interface JobsSource {
  targets(): TargetRef[];
  jobs(target: string): JobView[];
  connectionState(target: string): { state: ConnectionState; detail?: string };
  readonly onDidChange: vscode.Event<void>;
}

export type JobsNode = { kind: 'target'; target: TargetRef } | { kind: 'job'; job: JobView };

const ICONS: Record<JobState, vscode.ThemeIcon> = {
  queued: new vscode.ThemeIcon('clock'),
  running: new vscode.ThemeIcon('sync~spin'),
  done: new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  cancelled: new vscode.ThemeIcon('circle-slash'),
};

export class JobsTreeProvider implements vscode.TreeDataProvider<JobsNode> {
  readonly onDidChangeTreeData: vscode.Event<void>;

  constructor(private readonly source: JobsSource) {
    this.onDidChangeTreeData = source.onDidChange;
  }

  getChildren(node?: JobsNode): JobsNode[] {
    if (!node) return this.source.targets().map((target) => ({ kind: 'target', target }));
    if (node.kind === 'target') {
      return this.source
        .jobs(node.target.id)
        .slice()
        .sort((a, b) => b.created - a.created)
        .map((job) => ({ kind: 'job', job }));
    }
    return [];
  }

  getTreeItem(node: JobsNode): vscode.TreeItem {
    if (node.kind === 'target') {
      const { state, detail } = this.source.connectionState(node.target.id);
      const item = new vscode.TreeItem(node.target.label, vscode.TreeItemCollapsibleState.Expanded);
      item.id = `target:${node.target.id}`;
      item.description = state === 'connected' ? undefined : state;
      item.tooltip =
        detail ?? `${node.target.kind === 'local' ? 'Local trainer on loopback' : 'Remote endpoint'}: ${state}`;
      item.iconPath = new vscode.ThemeIcon(
        node.target.kind === 'local' ? 'vm' : 'cloud',
        state === 'connected' ? undefined : new vscode.ThemeColor('disabledForeground'),
      );
      item.contextValue = `target-${node.target.kind}`;
      return item;
    }
    const job = node.job;
    const item = new vscode.TreeItem(job.name || job.jobId, vscode.TreeItemCollapsibleState.None);
    item.id = `job:${job.target}:${job.jobId}`;
    item.description = describeJob(job);
    item.tooltip = [
      `${job.name} (${job.jobId})`,
      `${job.baseModel} · ${job.method}${job.device ? ` · ${job.device}` : ''}${job.precision ? ` ${job.precision}` : ''}`,
      `State: ${describeJob(job)}`,
      typeof job.queuePosition === 'number' ? `Queue position: ${job.queuePosition + 1}` : '',
      describePlacement(job) ? `Runs on: ${describePlacement(job)}` : '',
      job.adapterDir ? `Adapter: ${job.adapterDir}` : '',
    ]
      .filter(Boolean)
      .join('\n');
    item.iconPath = ICONS[job.state];
    item.contextValue = `job-${job.state}${job.method === 'eval' ? '-eval' : ''}`;
    item.command = {
      title: 'Open Job Dashboard',
      command: 'modelfactory.openDashboard',
      arguments: [{ target: job.target, jobId: job.jobId }],
    };
    return item;
  }
}
