// "ModelFactory: Open Evaluation Results": the evaluation view on an `eval` output folder (a folder or its
// results.jsonl from the explorer, a finished evaluation job of any trainer, or one picked), and the
// view opening by itself when an evaluation this window watched finishes.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { statPath } from '../../../server/src/boundedRead';
import { jobRefOf, type JobRef } from '../jobs/describe';
import type { JobManager } from '../jobs/jobManager';
import type { MessagesRecord, PreferenceRecord } from '../panels/exportRecord';
import { openEvaluation } from '../panels/evaluationPanel';
import type { JobView } from '../trainer/api';
import { RESULTS_FILE } from './results';

export interface EvaluationWiring {
  log: vscode.LogOutputChannel;
  jobs: JobManager;
  exportRecord(record: MessagesRecord | PreferenceRecord): Promise<void>;
}

/**
 * Where an evaluation job of the local trainer wrote its results: the server's state folder
 * (`<globalStorage>/local-server/jobs`, its `jobs/<id>/output/eval`). A remote server's are downloaded into
 * the workspace's run folder (`.modelfactory/runs/<target>-<job>/eval`) when opened.
 */
export function localEvaluationDir(globalStoragePath: string, jobId: string): string {
  return path.join(globalStoragePath, 'local-server', 'jobs', 'jobs', jobId, 'output', 'eval');
}

async function hasResults(dir: string): Promise<boolean> {
  return (await statPath(path.join(dir, RESULTS_FILE)))?.isFile ?? false;
}

export function registerEvaluation(context: vscode.ExtensionContext, w: EvaluationWiring): void {
  const deps = { log: w.log, exportRecord: w.exportRecord };

  // A remote trainer's results are downloaded (verified) into the workspace first; undefined when that
  // failed, which the download has already said.
  const dirOfJob = async (ref: JobRef, interactive = true): Promise<string | undefined> => {
    if (ref.target !== 'local') return w.jobs.downloadEvaluation(ref.target, ref.jobId, interactive);
    const dir = localEvaluationDir(context.globalStorageUri.fsPath, ref.jobId);
    if (!(await hasResults(dir))) throw new Error(`job ${ref.jobId} wrote no evaluation results (${dir})`);
    return dir;
  };

  const pick = async (): Promise<string | undefined> => {
    const evalJobs = w.jobs
      .allJobs()
      .filter((j) => j.method === 'eval' && j.state === 'done')
      .sort((a, b) => b.created - a.created);
    const files = await vscode.workspace.findFiles(`**/${RESULTS_FILE}`, '**/node_modules/**', 100);
    type Item = vscode.QuickPickItem & { dir?: string; job?: JobView };
    const items: Item[] = [
      ...evalJobs.map((job) => ({
        label: job.name,
        description: `evaluation job ${job.jobId}${job.target === 'local' ? '' : ` on ${job.target}`}`,
        job,
      })),
      ...files.map((uri) => ({
        label: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)),
        dir: path.dirname(uri.fsPath),
      })),
      { label: 'Browse…', description: 'a folder holding results.jsonl' },
    ];
    const chosen = await vscode.window.showQuickPick(items, { title: 'ModelFactory: Open Evaluation Results' });
    if (!chosen) return undefined;
    if (chosen.job) return dirOfJob({ target: chosen.job.target, jobId: chosen.job.jobId });
    if (chosen.dir) return chosen.dir;
    const folder = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
    });
    return folder?.[0]?.fsPath;
  };

  const open = async (arg: unknown): Promise<void> => {
    const ref = jobRefOf(arg);
    // With no argument, an open results.jsonl or summary.json is the one meant.
    const active = vscode.window.activeTextEditor?.document.uri;
    const activeResults =
      active?.scheme === 'file' && /(^|\/)(results\.jsonl|summary\.json)$/.test(active.path)
        ? active.fsPath
        : undefined;
    const where =
      arg instanceof vscode.Uri ? arg.fsPath : ref ? await dirOfJob(ref) : (activeResults ?? (await pick()));
    if (where) await openEvaluation(context, deps, where);
  };

  // Evaluations this window saw queued or running open their results when they finish.
  const watched = new Set<string>();
  context.subscriptions.push(
    vscode.commands.registerCommand('modelfactory.openEvaluation', async (arg: unknown) => {
      try {
        await open(arg);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        w.log.error(`modelfactory.openEvaluation: ${message}`);
        void vscode.window.showErrorMessage(`ModelFactory: ${message}`);
      }
    }),
    w.jobs.onDidChangeJob((job) => {
      if (job.method !== 'eval') return;
      const key = `${job.target}\0${job.jobId}`;
      if (job.state === 'queued' || job.state === 'running') watched.add(key);
      else if (watched.delete(key) && job.state === 'done') {
        void open({ target: job.target, jobId: job.jobId }).catch((err: unknown) =>
          w.log.warn(`Evaluation ${job.jobId}: ${err instanceof Error ? err.message : String(err)}`),
        );
      }
    }),
  );
}
