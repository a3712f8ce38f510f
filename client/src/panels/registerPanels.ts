// Wires the three webview panels to the extension: their commands, their serializers (so they come
// back after a reload) and the dependencies each host needs, implemented on the job manager and the
// language client. Panel hosts never reach the trainer or the file system except through these.
import { documentKindOf } from '../../../server/src/core/documentKind';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { MemoryEstimateRequest, type MemoryEstimateParams } from '../../../server/src/protocol';
import { MODEL_CATALOG } from '../../../server/src/core/config/catalog';
import { jobRefOf } from '../jobs/describe';
import { showTensorBoard } from '../jobs/tensorboard';
import type { JobManager } from '../jobs/jobManager';
import { cachedHubModels, modelFolders } from '../localModels';
import { openDashboard, registerDashboardSerializer, type DashboardDeps } from './dashboardPanel';
import type { MessagesRecord, PreferenceRecord } from './exportRecord';
import {
  openHyperparametersPanel,
  registerHyperparametersSerializer,
  type HyperparametersDeps,
} from './hyperparametersPanel';
import { openPlayground, registerPlaygroundSerializer, type PlaygroundDeps } from './playgroundPanel';
import { isOpenAITarget, type OpenAIEndpoints } from '../openaiEndpoints';
import { registerEvaluation } from '../evaluation/register';

export interface PanelWiring {
  log: vscode.LogOutputChannel;
  jobs: JobManager;
  languageClient: () => LanguageClient | undefined;
  requireTrust: () => void;
  /** OpenAI-compatible endpoints: more playground targets. */
  openai: OpenAIEndpoints;
}

async function localModels(): Promise<string[]> {
  const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
  const folders = (await Promise.all(roots.map((r) => modelFolders(r)))).flat();
  return [...(await cachedHubModels()), ...folders];
}

/**
 * "Export as record": appends the record as one JSONL line to a dataset file the user picks, through a
 * WorkspaceEdit (undo works; nothing is saved behind the editor's back), then shows it, so the Datanet
 * validates it like any other contribution.
 */
async function exportRecord(record: MessagesRecord | PreferenceRecord): Promise<void> {
  const files = await vscode.workspace.findFiles('**/*.jsonl', '{**/node_modules/**,**/.modelfactory/**}', 500);
  const pick = await vscode.window.showQuickPick(
    [
      ...files.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
      { label: 'New file…', uri: undefined as vscode.Uri | undefined },
    ],
    { title: 'Export the conversation as a record: append to which dataset file?' },
  );
  if (!pick) return;
  let uri = pick.uri;
  if (!uri) {
    uri = await vscode.window.showSaveDialog({
      title: 'New dataset file',
      filters: { 'JSON Lines': ['jsonl'] },
      ...(vscode.workspace.workspaceFolders?.[0] ? { defaultUri: vscode.workspace.workspaceFolders[0].uri } : {}),
    });
    if (!uri) return;
    const create = new vscode.WorkspaceEdit();
    create.createFile(uri, { ignoreIfExists: true });
    await vscode.workspace.applyEdit(create);
  }
  const doc = await vscode.workspace.openTextDocument(uri);
  const end = doc.lineAt(doc.lineCount - 1).range.end;
  // A last line with text means the file does not end with a line break: the record starts a new line.
  const needsBreak = end.character > 0;
  const recordLine = end.line + (needsBreak ? 1 : 0);
  const eol = doc.eol === vscode.EndOfLine.CRLF ? '\r\n' : '\n';
  const edit = new vscode.WorkspaceEdit();
  edit.insert(uri, end, `${needsBreak ? eol : ''}${JSON.stringify(record)}${eol}`);
  if (!(await vscode.workspace.applyEdit(edit)))
    throw new Error(`Could not append to ${vscode.workspace.asRelativePath(uri)}.`);
  const editor = await vscode.window.showTextDocument(doc, { preview: false });
  const range = doc.lineAt(recordLine).range;
  editor.revealRange(range, vscode.TextEditorRevealType.InCenter);
  editor.selection = new vscode.Selection(range.start, range.end);
}

export function registerPanels(context: vscode.ExtensionContext, w: PanelWiring): void {
  const hyperparameters: HyperparametersDeps = {
    log: w.log,
    memoryEstimate: async (uri) => {
      const lc = w.languageClient();
      if (!lc?.isRunning()) return null;
      const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      const params: MemoryEstimateParams = { uri: uri.toString(), ...(doc ? { version: doc.version } : {}) };
      return lc.sendRequest(MemoryEstimateRequest, params);
    },
    localModels,
  };
  const dashboard: DashboardDeps = {
    log: w.log,
    jobs: () => w.jobs.allJobs(),
    onDidChangeJob: (listener) => w.jobs.onDidChangeJob(listener),
    pastRuns: () => w.jobs.pastRuns(),
    cancel: async (target, jobId) => {
      w.requireTrust();
      await w.jobs.cancel(target, jobId);
    },
    openAdapterFolder: (job) => {
      if (job.adapterDir) void vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(job.adapterDir));
    },
    openTensorBoard: (job) => void showTensorBoard(job),
  };
  const playground: PlaygroundDeps = {
    log: w.log,
    targets: () => [...w.jobs.targets(), ...w.openai.targets()],
    adapters: async (target) =>
      isOpenAITarget(target)
        ? w.openai.choices(target)
        : w.jobs
            .jobs(target)
            // A done training job has an adapter to chat with; an evaluation job has none.
            .filter((j) => j.state === 'done' && j.method !== 'eval')
            .sort((a, b) => b.created - a.created)
            .map((j) => ({
              jobId: j.jobId,
              name: j.name,
              baseModel: j.baseModel,
              systemPrompt: w.jobs.trainedSystemPrompt(target, j.jobId),
            })),
    baseModels: async () => [...MODEL_CATALOG.map((m) => m.id), ...(await localModels())],
    chat: (target, request, onToken, signal) => {
      w.requireTrust();
      if (isOpenAITarget(target)) return w.openai.chat(target, request, onToken, signal);
      return w.jobs.chat(target, request, onToken, signal);
    },
    exportRecord,
  };

  registerEvaluation(context, { log: w.log, jobs: w.jobs, exportRecord });
  context.subscriptions.push(
    registerHyperparametersSerializer(context, hyperparameters),
    registerDashboardSerializer(context, dashboard),
    registerPlaygroundSerializer(context, playground),
    vscode.commands.registerCommand('modelfactory.openHyperparameters', async (arg: unknown) => {
      const uri =
        arg instanceof vscode.Uri
          ? arg
          : (vscode.window.activeTextEditor?.document.uri ??
            (await vscode.workspace.findFiles('**/*.finetune.{yaml,yml}', '**/node_modules/**', 1))[0]);
      if (!uri || documentKindOf(uri.path) !== 'config') {
        void vscode.window.showInformationMessage('ModelFactory: open a fine-tune config (*.finetune.yaml) first.');
        return;
      }
      openHyperparametersPanel(context, uri, hyperparameters);
    }),
    vscode.commands.registerCommand('modelfactory.openDashboard', (arg: unknown) => {
      const focus = jobRefOf(arg);
      if (focus) void w.jobs.ensureFollowed(focus.target, focus.jobId);
      openDashboard(context, dashboard, focus);
    }),
    vscode.commands.registerCommand('modelfactory.openPlayground', async (arg: unknown) => {
      const ref = jobRefOf(arg);
      const preset = ref ? { target: ref.target, adapterJobId: ref.jobId } : undefined;
      // The playground lists the trainer's finished jobs: connect (never in an untrusted workspace).
      if (vscode.workspace.isTrusted)
        await w.jobs.connect(preset?.target ?? w.jobs.defaultTarget(), false).catch(() => undefined);
      openPlayground(context, playground, preset);
    }),
  );
}
