// The job UI flows on the extension host: the Train/Cancel/Resume/Move/Evaluate/Download/Export commands
// with their progress and notifications, adapters downloaded into the workspace, past runs recorded
// there, and which jobs this workspace submitted. The connections they use (targets, protocol clients,
// the local server, trackers) are in connections.ts.
import { existsSync } from 'node:fs';
import { openRegularFile } from '../../../server/src/boundedRead';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import type { EndpointSecrets } from '../endpoints';
import type { ChatRequest, ChatResult, JobView, TargetRef } from '../trainer/api';
import type { ExportDoneFrame } from '../trainer/protocol';
import type { ProtocolClient, SubmitRequest, UploadedDataset } from '../trainer/protocolClient';
import { setupLocalTrainer, venvPython } from '../trainer/python';
import { adapterFolder, evaluationFolder, listRuns, RunRecorder } from '../trainer/runStore';
import { describeJob } from './describe';
import type { ConnectionState, JobsSource } from './jobsView';
import { systemPromptOf } from './datasetOf';
import { preflight } from './preflight';
import { getSetting } from '../settings';
import { messageOf, NotTrustedError, TERMINAL, TrainerConnections } from './connections';

export { messageOf, NotTrustedError } from './connections';

/** workspaceState: `<target>/<jobId>` -> what this workspace knows of the jobs it submitted. */
const SUBMITTED_KEY = 'modelfactory.jobsSubmittedHere';

interface Submission {
  /** The system prompt of the job's training records, for the playground to offer; null if none. */
  systemPrompt: string | null;
}

export class JobManager implements JobsSource, vscode.Disposable {
  private readonly connections: TrainerConnections;
  readonly onDidChange: vscode.Event<void>;
  readonly onDidChangeJob: vscode.Event<JobView>;
  private readonly recorder: RunRecorder | undefined;
  private readonly downloads = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    secrets: EndpointSecrets,
    private readonly languageClient: () => LanguageClient | undefined,
  ) {
    const ws = this.workspaceRoot();
    this.recorder = ws ? new RunRecorder(ws, 2000, (e) => log.warn(`Could not save a run: ${e.message}`)) : undefined;
    this.connections = new TrainerConnections(context, log, secrets, { noPython: () => this.offerPythonSetup() });
    this.onDidChange = this.connections.onDidChange;
    this.onDidChangeJob = this.connections.onDidChangeJob;
    this.disposables.push(
      this.connections.onDidChangeJob((view) => {
        // A trainer serves every workspace of the machine (or of the team): only the jobs submitted from
        // this one become its runs and bring their adapters into it.
        const ours = this.submission(view.target, view.jobId) !== undefined;
        if (ours) this.recorder?.record(view);
        // After every listener has seen this view: the download updates the view again.
        if (ours && view.state === 'done' && !view.adapterDir)
          queueMicrotask(() => void this.downloadAdapter(view.target, view.jobId, false));
      }),
    );
  }

  // ---- JobsSource and connections (connections.ts) -------------------------------------------

  targets(): TargetRef[] {
    return this.connections.targets();
  }

  jobs(target: string): JobView[] {
    return this.connections.jobs(target);
  }

  allJobs(): JobView[] {
    return this.connections.allJobs();
  }

  connectionState(target: string): { state: ConnectionState; detail?: string } {
    return this.connections.connectionState(target);
  }

  /** Connected client of `targetId`, connecting (and for local, starting the server) when needed. */
  connect(targetId: string, interactive: boolean): Promise<ProtocolClient> {
    return this.connections.connect(targetId, interactive);
  }

  /** The local server's OpenAI-compatible API, once it was started with it (`modelfactory.trainer.openai`). */
  localOpenAIEndpoint(): { baseUrl: string; apiKey: string } | undefined {
    return this.connections.localOpenAIEndpoint();
  }

  /** On start: reconnect to a running local trainer and to remote endpoints that have a token. */
  reconnectIfRunning(): Promise<void> {
    return this.connections.reconnectIfRunning();
  }

  /** Lists the target's jobs and follows those still moving plus the newest finished ones. */
  refresh(targetId: string): Promise<void> {
    return this.connections.refresh(targetId);
  }

  /** Makes sure the job's events are followed (the dashboard calls this for an older finished job). */
  ensureFollowed(targetId: string, jobId: string): Promise<void> {
    return this.connections.ensureFollowed(targetId, jobId);
  }

  /** The notification when connecting at the user's request found no Python with the trainer. */
  private offerPythonSetup(): void {
    void vscode.window
      .showErrorMessage(
        "ModelFactory: no Python with the trainer's packages (torch, transformers, peft) was found.",
        'Set Up Local Trainer',
        'Choose Python…',
      )
      .then((choice) => {
        if (choice === 'Set Up Local Trainer') void vscode.commands.executeCommand('modelfactory.setupLocalTrainer');
        if (choice === 'Choose Python…') {
          void vscode.commands.executeCommand('workbench.action.openSettings', 'modelfactory.trainer.pythonPath');
        }
      });
  }

  // ---- commands ---------------------------------------------------------------------------------

  defaultTarget(): string {
    const wanted = getSetting('modelfactory.trainer.defaultTarget');
    return this.connections.has(wanted) ? wanted : 'local';
  }

  /** Train: pre-flight, upload, submit, follow. Resolves with the new job, or undefined if stopped. */
  async train(configUri: vscode.Uri, targetId = this.defaultTarget()): Promise<JobView | undefined> {
    if (!vscode.workspace.isTrusted) throw new NotTrustedError();
    const lc = this.languageClient();
    if (!lc) throw new Error('The language server is not running; it checks the config before training.');
    const ready = await preflight(lc, configUri, this.log);
    if (!ready) return undefined;
    const ref = this.connections.ref(targetId)!;
    return vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `ModelFactory: ${ready.name} → ${ref.label}`,
        cancellable: true,
      },
      async (progress, token) => {
        progress.report({ message: 'connecting…' });
        const client = await this.connect(targetId, true);
        if (token.isCancellationRequested) return undefined;
        const datasetPath = ready.datasetPath;
        let dataset: SubmitRequest['dataset'] = { hub: true };
        if (datasetPath !== null) {
          dataset = { uploadId: (await uploadReporting(client, datasetPath, progress)).uploadId };
        }
        if (token.isCancellationRequested) return undefined;
        progress.report({ message: 'submitting…' });
        const summary = await client.submit({ configYaml: ready.configYaml, dataset, name: ready.name });
        if (datasetPath !== null) await this.rememberSubmission(targetId, summary.job_id, datasetPath);
        const view = this.connections.tracker(targetId)!.applySummary(summary);
        await this.connections.followJob(targetId, summary.job_id);
        this.log.info(`[${ref.label}] submitted ${ready.name} as job ${summary.job_id}`);
        void this.trackInWindow(view.target, view.jobId);
        return view;
      },
    );
  }

  /** A window progress (status bar) while the job runs, then a notification with what to do next. */
  private trackInWindow(targetId: string, jobId: string): Thenable<void> {
    return vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: 'ModelFactory' },
      (progress) =>
        new Promise<void>((resolve) => {
          const show = (view: JobView): boolean => {
            progress.report({ message: `${view.name}: ${describeJob(view)}` });
            if (!TERMINAL.has(view.state)) return false;
            sub.dispose();
            resolve();
            void this.announce(view);
            return true;
          };
          const sub = this.onDidChangeJob((view) => {
            if (view.target === targetId && view.jobId === jobId) show(view);
          });
          const now = this.connections.tracker(targetId)?.get(jobId);
          if (now) show(now);
        }),
    );
  }

  private async announce(view: JobView): Promise<void> {
    if (view.state === 'done' && view.method === 'eval') {
      // An evaluation has results to read, not an adapter to chat with.
      const choice = await vscode.window.showInformationMessage(
        `ModelFactory: ${view.name} is done.`,
        'Open Evaluation Results',
        'Open Dashboard',
      );
      const command =
        choice === 'Open Evaluation Results' ? 'modelfactory.openEvaluation' : 'modelfactory.openDashboard';
      if (choice) await vscode.commands.executeCommand(command, { target: view.target, jobId: view.jobId });
    } else if (view.state === 'done') {
      const choice = await vscode.window.showInformationMessage(
        `ModelFactory: ${view.name} is done (${describeJob(view)}).`,
        'Open Chat Playground',
        'Open Dashboard',
      );
      if (choice === 'Open Chat Playground') {
        await vscode.commands.executeCommand('modelfactory.openPlayground', { target: view.target, jobId: view.jobId });
      } else if (choice === 'Open Dashboard') {
        await vscode.commands.executeCommand('modelfactory.openDashboard', { target: view.target, jobId: view.jobId });
      }
    } else if (view.state === 'failed') {
      const choice = await vscode.window.showErrorMessage(
        `ModelFactory: ${view.name} failed: ${view.reason ?? 'see the dashboard'}.`,
        'Open Dashboard',
        'Resume Job',
      );
      if (choice === 'Open Dashboard') {
        await vscode.commands.executeCommand('modelfactory.openDashboard', { target: view.target, jobId: view.jobId });
      } else if (choice === 'Resume Job') {
        await this.resume(view.target, view.jobId);
      }
    }
  }

  /** Records that this workspace submitted the job, with the system prompt of its training data. */
  private async rememberSubmission(targetId: string, jobId: string, datasetPath: string): Promise<void> {
    let systemPrompt: string | null = null;
    try {
      // Through the bounded reader: a FIFO or a device named as the dataset is refused, never waited on.
      const { handle } = await openRegularFile(datasetPath);
      try {
        const head = Buffer.alloc(64 * 1024);
        const { bytesRead } = await handle.read(head, 0, head.length, 0);
        systemPrompt = systemPromptOf(head.subarray(0, bytesRead).toString('utf8'));
      } finally {
        await handle.close();
      }
    } catch (err) {
      this.log.info(`Could not read the system prompt of ${datasetPath}: ${messageOf(err)}`);
    }
    const all = this.context.workspaceState.get<Record<string, Submission>>(SUBMITTED_KEY, {});
    await this.context.workspaceState.update(SUBMITTED_KEY, { ...all, [`${targetId}/${jobId}`]: { systemPrompt } });
  }

  private submission(targetId: string, jobId: string): Submission | undefined {
    return this.context.workspaceState.get<Record<string, Submission>>(SUBMITTED_KEY, {})[`${targetId}/${jobId}`];
  }

  /** The system prompt job `jobId` trained with, when this workspace submitted it. */
  trainedSystemPrompt(targetId: string, jobId: string): string | null {
    return this.submission(targetId, jobId)?.systemPrompt ?? null;
  }

  async cancel(targetId: string, jobId: string): Promise<void> {
    const client = await this.connect(targetId, true);
    const state = await client.cancel(jobId);
    this.log.info(`[${targetId}] cancel ${jobId}: the job was ${state ?? 'unknown'}`);
    await this.connections.refresh(targetId); // the queue positions behind it moved up
  }

  /** Moves a queued job `delta` places in its target's queue (negative: sooner), then lists the queue again. */
  async moveJob(targetId: string, jobId: string, delta: number): Promise<void> {
    const client = await this.connect(targetId, true);
    const position = this.connections.tracker(targetId)?.get(jobId)?.queuePosition;
    if (typeof position !== 'number') return;
    await client.moveJob(jobId, Math.max(0, position + delta));
    await this.connections.refresh(targetId);
  }

  async resume(targetId: string, jobId: string): Promise<void> {
    const client = await this.connect(targetId, true);
    await client.resume(jobId);
    await this.connections.followJob(targetId, jobId);
    void this.trackInWindow(targetId, jobId);
  }

  /**
   * Evaluates a done job's adapter against its base, as a job of its own: on the eval split of the job's
   * config, or on `heldOutFile` (uploaded first, with progress).
   */
  async evaluate(targetId: string, jobId: string, heldOutFile?: string): Promise<JobView> {
    const client = await this.connect(targetId, true);
    let data: { uploadId: string } | undefined;
    if (heldOutFile !== undefined) {
      data = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'ModelFactory: Evaluate Adapter' },
        async (progress) => ({ uploadId: (await uploadReporting(client, heldOutFile, progress)).uploadId }),
      );
    }
    const summary = await client.evaluate(jobId, data ? { data } : {});
    const view = this.connections.tracker(targetId)!.applySummary(summary);
    await this.connections.followJob(targetId, summary.job_id);
    this.log.info(`[${this.connections.ref(targetId)!.label}] evaluating job ${jobId} as job ${summary.job_id}`);
    void this.trackInWindow(view.target, view.jobId);
    return view;
  }

  /** Downloads a done job's adapter into the workspace (.modelfactory/runs/<target>-<job>/adapter), verified. */
  async downloadAdapter(targetId: string, jobId: string, interactive: boolean): Promise<string | undefined> {
    const dest = await this.fetchJobFiles(targetId, jobId, 'adapter', interactive);
    if (dest) this.connections.tracker(targetId)?.setAdapterDir(jobId, dest);
    return dest;
  }

  /** Downloads a done evaluation job's results into the workspace (.modelfactory/runs/<target>-<job>/eval), verified. */
  async downloadEvaluation(targetId: string, jobId: string, interactive: boolean): Promise<string | undefined> {
    return this.fetchJobFiles(targetId, jobId, 'eval', interactive);
  }

  private async fetchJobFiles(
    targetId: string,
    jobId: string,
    what: 'adapter' | 'eval',
    interactive: boolean,
  ): Promise<string | undefined> {
    const ws = this.workspaceRoot();
    const client = this.connections.clientOf(targetId);
    const label = this.connections.ref(targetId)?.label ?? targetId;
    const key = `${targetId}\0${jobId}\0${what}`;
    const noun = what === 'eval' ? 'evaluation results' : 'adapter';
    if (!ws && interactive) {
      void vscode.window.showErrorMessage(
        `ModelFactory: open a folder first: ${what === 'eval' ? 'evaluation results are' : 'an adapter is'} downloaded into its .modelfactory/runs (job ${jobId}).`,
      );
    }
    if (!ws || !client || !this.connections.tracker(targetId) || this.downloads.has(key)) return undefined;
    const dest = what === 'eval' ? evaluationFolder(ws, targetId, jobId) : adapterFolder(ws, targetId, jobId);
    // Files land only complete and verified, so one present is what an earlier window fetched.
    if (existsSync(path.join(dest, what === 'eval' ? 'results.jsonl' : 'adapter_model.safetensors'))) return dest;
    this.downloads.add(key);
    try {
      const files = await vscode.window.withProgress(
        {
          location: interactive ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window,
          title: `ModelFactory: downloading the ${noun} of ${jobId}`,
        },
        (progress) =>
          client.downloadAdapter(
            jobId,
            dest,
            (p) => progress.report({ message: `${p.file} ${Math.floor((p.received / Math.max(1, p.size)) * 100)}%` }),
            what,
          ),
      );
      this.log.info(`[${label}] ${noun} of ${jobId}: ${files.length} files verified (sha256) in ${dest}`);
      return dest;
    } catch (err) {
      this.log.error(`[${label}] ${noun} download of ${jobId} failed: ${messageOf(err)}`);
      if (interactive)
        void vscode.window.showErrorMessage(`ModelFactory: the ${noun} download failed: ${messageOf(err)}`);
      return undefined;
    } finally {
      this.downloads.delete(key);
    }
  }

  async chat(
    targetId: string,
    request: ChatRequest,
    onToken: (text: string) => void,
    signal: AbortSignal,
  ): Promise<ChatResult> {
    const client = await this.connect(targetId, true);
    return client.chat(request, onToken, signal);
  }

  /** Exports a done job's adapter on its target (see client/src/exportAdapter.ts). */
  async exportAdapter(
    targetId: string,
    options: { jobId: string; name: string; merge: boolean; ollama: boolean; gguf: boolean; system: string | null },
    onProgress: (fraction: number, message: string) => void,
  ): Promise<ExportDoneFrame> {
    const client = await this.connect(targetId, true);
    return client.exportAdapter(options, onProgress);
  }

  async pastRuns(): Promise<JobView[]> {
    const ws = this.workspaceRoot();
    if (!ws) return [];
    const runs = await listRuns(ws);
    return runs.map((r) => ({ ...r, logs: [] }));
  }

  async setupLocalTrainer(): Promise<void> {
    if (!vscode.workspace.isTrusted) throw new NotTrustedError();
    const venvDir = path.join(this.context.globalStorageUri.fsPath, 'trainer-venv');
    const requirementsFile = path.join(this.context.extensionPath, 'trainer', 'requirements.txt');
    const basePython = await vscode.window.showInputBox({
      title: 'Set Up Local Trainer',
      prompt: `A Python 3.10+ to create the trainer's environment in ${venvDir} (torch, transformers, peft: a few GB)`,
      value: process.platform === 'win32' ? 'python' : 'python3',
      ignoreFocusOut: true,
    });
    if (!basePython) return;
    await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: 'ModelFactory: setting up the local trainer',
        cancellable: true,
      },
      async (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        await setupLocalTrainer({
          basePython,
          venvDir,
          requirementsFile,
          signal: abort.signal,
          onProgress: (line) => {
            this.log.info(`[setup] ${line}`);
            progress.report({ message: line.slice(0, 100) });
          },
        });
      },
    );
    this.log.info(`Local trainer ready: ${venvPython(venvDir)}`);
    void vscode.window.showInformationMessage('ModelFactory: the local trainer is ready.');
    this.connections.localTrainerReady();
  }

  stopLocalTrainer(): Promise<boolean> {
    return this.connections.stopLocal();
  }

  private workspaceRoot(): string | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  dispose(): void {
    this.recorder?.dispose();
    this.connections.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** Uploads `file` to the trainer, reporting "uploading NAME (N%)" and the increments on `progress`. */
async function uploadReporting(
  client: ProtocolClient,
  file: string,
  progress: vscode.Progress<{ message?: string; increment?: number }>,
): Promise<UploadedDataset> {
  const name = path.basename(file);
  let reported = 0;
  return client.uploadDataset(file, (sent, size) => {
    const pct = size ? Math.floor((sent / size) * 100) : 100;
    progress.report({ message: `uploading ${name} (${pct}%)`, increment: pct - reported });
    reported = pct;
  });
}
