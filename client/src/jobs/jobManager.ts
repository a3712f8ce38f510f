// Job dispatch on the extension host: one connection per target (the local trainer, each remote
// endpoint) through the single protocol client, a tracker per target, the Train/Cancel/Resume flows
// with their progress, adapters downloaded into the workspace, and past runs recorded there.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { openRegularFile } from '../../../server/src/boundedRead';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { readEndpoints, type EndpointSecrets } from '../endpoints';
import type { ChatRequest, ChatResult, JobView, TargetRef } from '../trainer/api';
import type { ExportDoneFrame } from '../trainer/protocol';
import { JobTracker } from '../trainer/jobTracker';
import { ensureLocalServer, isTrainerServer, stopLocalServer } from '../trainer/localServer';
import { ProtocolClient, TrainerError, type SubmitRequest } from '../trainer/protocolClient';
import { findTrainerPython, setupLocalTrainer, venvPython } from '../trainer/python';
import { adapterFolder, listRuns, RunRecorder } from '../trainer/runStore';
import { describeJob } from './describe';
import type { ConnectionState, JobsSource } from './jobsView';
import { systemPromptOf } from './datasetOf';
import { preflight } from './preflight';

const LOCAL: TargetRef = { id: 'local', label: 'Local trainer', kind: 'local' };
const TERMINAL = new Set(['done', 'failed', 'cancelled']);
/** Finished jobs whose curves are loaded on connect; older ones load when the dashboard asks. */
const WATCH_FINISHED_ON_CONNECT = 10;
/** workspaceState: `<target>/<jobId>` -> what this workspace knows of the jobs it submitted. */
const SUBMITTED_KEY = 'modelfactory.jobsSubmittedHere';

interface Submission {
  /** The system prompt of the job's training records, for the playground to offer; null if none. */
  systemPrompt: string | null;
}

interface Target {
  ref: TargetRef;
  url?: string;
  tracker: JobTracker;
  client?: ProtocolClient;
  connecting?: Promise<ProtocolClient>;
  state: ConnectionState;
  detail?: string;
  watched: Set<string>;
  listeners: vscode.Disposable[];
}

export class NotTrustedError extends Error {
  constructor() {
    super('This workspace is not trusted: ModelFactory starts no trainer here.');
  }
}

export class JobManager implements JobsSource, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly jobChanged = new vscode.EventEmitter<JobView>();
  readonly onDidChangeJob = this.jobChanged.event;
  private readonly byId = new Map<string, Target>();
  private readonly recorder: RunRecorder | undefined;
  private readonly downloads = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [this.changed, this.jobChanged];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly secrets: EndpointSecrets,
    private readonly languageClient: () => LanguageClient | undefined,
  ) {
    const ws = this.workspaceRoot();
    this.recorder = ws ? new RunRecorder(ws, 2000, (e) => log.warn(`Could not save a run: ${e.message}`)) : undefined;
    this.syncTargets();
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('modelfactory.trainer')) this.syncTargets();
      }),
    );
  }

  // ---- JobsSource -------------------------------------------------------------------------------

  targets(): TargetRef[] {
    return [...this.byId.values()].map((t) => t.ref);
  }

  jobs(target: string): JobView[] {
    return this.byId.get(target)?.tracker.list() ?? [];
  }

  allJobs(): JobView[] {
    return [...this.byId.values()].flatMap((t) => t.tracker.list());
  }

  connectionState(target: string): { state: ConnectionState; detail?: string } {
    const t = this.byId.get(target);
    if (!t) return { state: 'closed' };
    return t.detail === undefined ? { state: t.state } : { state: t.state, detail: t.detail };
  }

  // ---- targets and connections ------------------------------------------------------------------

  private syncTargets(): void {
    const wanted = new Map<string, TargetRef & { url?: string }>([[LOCAL.id, LOCAL]]);
    for (const e of readEndpoints(this.log))
      wanted.set(e.name, { id: e.name, label: e.name, kind: 'remote', url: e.url });
    for (const [id, t] of this.byId) {
      const next = wanted.get(id);
      if (!next || next.url !== t.url) this.drop(id);
    }
    for (const [id, ref] of wanted) {
      if (this.byId.has(id)) continue;
      const tracker = new JobTracker(id, { rewatch: (jobId, fromSeq) => void this.rewatch(id, jobId, fromSeq) });
      const target: Target = {
        ref: { id: ref.id, label: ref.label, kind: ref.kind },
        ...(ref.url ? { url: ref.url } : {}),
        tracker,
        state: 'closed',
        watched: new Set(),
        listeners: [],
      };
      tracker.onChange((view) => {
        // A trainer serves every workspace of the machine (or of the team): only the jobs submitted from
        // this one become its runs and bring their adapters into it.
        const ours = this.submission(view.target, view.jobId) !== undefined;
        if (ours) this.recorder?.record(view);
        this.jobChanged.fire(view);
        this.changed.fire();
        if (ours && view.state === 'done' && !view.adapterDir)
          void this.downloadAdapter(view.target, view.jobId, false);
      });
      this.byId.set(id, target);
    }
    this.changed.fire();
  }

  private drop(id: string): void {
    const t = this.byId.get(id);
    if (!t) return;
    for (const l of t.listeners) l.dispose();
    t.client?.close();
    this.byId.delete(id);
  }

  private setState(t: Target, state: ConnectionState, detail?: string): void {
    t.state = state;
    if (detail === undefined) delete t.detail;
    else t.detail = detail;
    this.changed.fire();
  }

  /** Connected client of `targetId`, connecting (and for local, starting the server) when needed. */
  async connect(targetId: string, interactive: boolean): Promise<ProtocolClient> {
    if (!vscode.workspace.isTrusted) throw new NotTrustedError();
    const t = this.byId.get(targetId);
    if (!t) throw new Error(`No trainer target named "${targetId}".`);
    if (t.client && t.client.state !== 'closed') return t.client;
    t.connecting ??= this.open(t, interactive).finally(() => delete t.connecting);
    return t.connecting;
  }

  private async open(t: Target, interactive: boolean): Promise<ProtocolClient> {
    this.setState(t, 'connecting');
    try {
      const { url, token } =
        t.ref.kind === 'local' ? await this.localEndpoint(interactive) : await this.remoteEndpoint(t);
      const client = await ProtocolClient.connect({
        url,
        token,
        clientName: `modelfactory-vscode/${this.version()}`,
        log: (line) => this.log.info(`[${t.ref.label}] ${line}`),
      });
      t.client = client;
      for (const listener of t.listeners.splice(0)) listener.dispose();
      t.listeners.push(
        client.onStateChange((state) => {
          this.setState(t, state);
          if (state === 'connected') void this.refresh(t.ref.id);
        }),
      );
      this.setState(t, 'connected');
      await this.refresh(t.ref.id);
      return client;
    } catch (err) {
      this.setState(t, 'unavailable', messageOf(err));
      throw err;
    }
  }

  /** The local server's OpenAI-compatible API (loopback, the local token), once it was started with it. */
  private localOpenAI: { baseUrl: string; apiKey: string } | undefined;

  localOpenAIEndpoint(): { baseUrl: string; apiKey: string } | undefined {
    return this.localOpenAI;
  }

  private async localEndpoint(interactive: boolean): Promise<{ url: string; token: string }> {
    const python = await this.findPython(interactive);
    const stateDir = path.join(this.context.globalStorageUri.fsPath, 'local-server');
    const token = await this.secrets.localToken(() => randomBytes(32).toString('base64url'));
    const server = await ensureLocalServer({
      python,
      trainerDir: path.join(this.context.extensionPath, 'trainer'),
      stateDir,
      logFile: path.join(stateDir, 'server.log'),
      token,
      version: this.version(),
      // Loading code shipped with a model is an explicit, machine-level opt-in (SECURITY.md rule 1); so is
      // downloading from the Hub, with the token from secret storage in the server's environment only.
      extraArgs: [
        ...(trustRemoteCode() ? ['--allow-remote-code'] : []),
        ...(allowDownload() ? ['--allow-download'] : []),
        ...(serveOpenAI() ? ['--openai'] : []),
      ],
      env: await this.huggingFaceEnv(),
      log: (line) => this.log.info(`[local] ${line}`),
    });
    this.localOpenAI =
      server.openaiPort === undefined
        ? undefined
        : { baseUrl: `http://127.0.0.1:${server.openaiPort}/v1`, apiKey: token };
    return { url: server.url, token };
  }

  private async huggingFaceEnv(): Promise<Record<string, string>> {
    const token = await this.secrets.huggingFaceToken();
    return token ? { HF_TOKEN: token } : {};
  }

  private async remoteEndpoint(t: Target): Promise<{ url: string; token: string }> {
    const token = await this.secrets.tokenOf(t.ref.id);
    if (!token) {
      throw new TrainerError(
        'no-token',
        `No token is stored for ${t.ref.label}: run "ModelFactory: Set Endpoint Token".`,
      );
    }
    return { url: t.url!, token };
  }

  private async findPython(interactive: boolean): Promise<string> {
    const setting = vscode.workspace.getConfiguration('modelfactory').get<string>('trainer.pythonPath', '');
    const found = await findTrainerPython({
      setting: setting || undefined,
      workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      extensionPath: this.context.extensionPath,
      globalStoragePath: this.context.globalStorageUri.fsPath,
    });
    for (const f of found.failures) this.log.info(`Python candidate (${f.source}) ${f.python}: ${f.reason}`);
    if (found.found) {
      this.log.info(`Trainer Python: ${found.found.python} (${found.found.source}, ${found.found.version})`);
      return found.found.python;
    }
    if (interactive) {
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
    throw new TrainerError('no-python', 'No Python with the trainer was found (see the log for each candidate).');
  }

  /**
   * On start: reconnect to a local trainer that an earlier window left running (its jobs go on), and to
   * remote endpoints that have a token. Never starts a server just because a window opened.
   */
  async reconnectIfRunning(): Promise<void> {
    const state = path.join(this.context.globalStorageUri.fsPath, 'local-server', 'server.json');
    try {
      const { pid } = JSON.parse(await readFile(state, 'utf8')) as { pid?: unknown };
      if (typeof pid === 'number' && (await isTrainerServer(pid))) await this.connect('local', false);
    } catch {
      // No server recorded, or it is gone: the local target connects on first use.
    }
    for (const t of this.targets()) {
      if (t.kind === 'remote' && (await this.secrets.tokenOf(t.id))) {
        await this.connect(t.id, false).catch((err: unknown) => this.log.info(`[${t.label}] ${messageOf(err)}`));
      }
    }
  }

  /** Lists the target's jobs and follows those still moving plus the newest finished ones. */
  async refresh(targetId: string): Promise<void> {
    const t = this.byId.get(targetId);
    const client = t?.client;
    if (!t || !client || client.state !== 'connected') return;
    try {
      const summaries = await client.listJobs();
      for (const s of summaries) t.tracker.applySummary(s);
      const finished = summaries.filter((s) => TERMINAL.has(s.state)).sort((a, b) => b.created - a.created);
      const follow = summaries
        .filter((s) => !TERMINAL.has(s.state))
        .concat(finished.slice(0, WATCH_FINISHED_ON_CONNECT));
      for (const s of follow) await this.follow(t, s.job_id);
    } catch (err) {
      this.log.warn(`[${t.ref.label}] could not list jobs: ${messageOf(err)}`);
    }
  }

  /** Makes sure the job's events are followed (the dashboard calls this for an older finished job). */
  async ensureFollowed(targetId: string, jobId: string): Promise<void> {
    const t = this.byId.get(targetId);
    if (t?.client && t.client.state === 'connected') await this.follow(t, jobId);
  }

  private async follow(t: Target, jobId: string): Promise<void> {
    if (t.watched.has(jobId) || !t.client) return;
    t.watched.add(jobId);
    const from = (t.tracker.get(jobId)?.lastSeq ?? -1) + 1;
    try {
      const summary = await t.client.watch(jobId, from, (seq, event) => {
        t.tracker.applyEvent(jobId, seq, event);
        // A job left the queue: the positions of the others changed, and only a listing says how.
        if (event.type === 'launched' && t.tracker.list().some((job) => job.state === 'queued')) {
          void this.refresh(t.ref.id);
        }
      });
      t.tracker.applySummary(summary);
    } catch (err) {
      t.watched.delete(jobId);
      this.log.warn(`[${t.ref.label}] could not watch ${jobId}: ${messageOf(err)}`);
    }
  }

  private async rewatch(targetId: string, jobId: string, fromSeq: number): Promise<void> {
    const t = this.byId.get(targetId);
    if (!t?.client) return;
    this.log.info(`[${t.ref.label}] gap in ${jobId}'s events: watching again from seq ${fromSeq}`);
    try {
      await t.client.watch(jobId, fromSeq, (seq, event) => t.tracker.applyEvent(jobId, seq, event));
    } catch (err) {
      this.log.warn(`[${t.ref.label}] re-watch of ${jobId} failed: ${messageOf(err)}`);
    }
  }

  // ---- commands ---------------------------------------------------------------------------------

  defaultTarget(): string {
    const wanted = vscode.workspace.getConfiguration('modelfactory').get<string>('trainer.defaultTarget', 'local');
    return this.byId.has(wanted) ? wanted : 'local';
  }

  /** Train: pre-flight, upload, submit, follow. Resolves with the new job, or undefined if stopped. */
  async train(configUri: vscode.Uri, targetId = this.defaultTarget()): Promise<JobView | undefined> {
    if (!vscode.workspace.isTrusted) throw new NotTrustedError();
    const lc = this.languageClient();
    if (!lc) throw new Error('The language server is not running; it checks the config before training.');
    const ready = await preflight(lc, configUri, this.log);
    if (!ready) return undefined;
    const t = this.byId.get(targetId)!;
    return vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `ModelFactory: ${ready.name} → ${t.ref.label}`,
        cancellable: true,
      },
      async (progress, token) => {
        progress.report({ message: 'connecting…' });
        const client = await this.connect(targetId, true);
        if (token.isCancellationRequested) return undefined;
        const datasetPath = ready.datasetPath;
        let dataset: SubmitRequest['dataset'] = { hub: true };
        if (datasetPath !== null) {
          const datasetName = path.basename(datasetPath);
          let reported = 0;
          const uploaded = await client.uploadDataset(datasetPath, (sent, size) => {
            const pct = size ? Math.floor((sent / size) * 100) : 100;
            progress.report({ message: `uploading ${datasetName} (${pct}%)`, increment: pct - reported });
            reported = pct;
          });
          dataset = { uploadId: uploaded.uploadId };
        }
        if (token.isCancellationRequested) return undefined;
        progress.report({ message: 'submitting…' });
        const summary = await client.submit({ configYaml: ready.configYaml, dataset, name: ready.name });
        if (datasetPath !== null) await this.rememberSubmission(targetId, summary.job_id, datasetPath);
        const view = t.tracker.applySummary(summary);
        await this.follow(t, summary.job_id);
        this.log.info(`[${t.ref.label}] submitted ${ready.name} as job ${summary.job_id}`);
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
          const now = this.byId.get(targetId)?.tracker.get(jobId);
          if (now) show(now);
        }),
    );
  }

  private async announce(view: JobView): Promise<void> {
    if (view.state === 'done') {
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
    await this.refresh(targetId); // the queue positions behind it moved up
  }

  /** Moves a queued job `delta` places in its target's queue (negative: sooner), then lists the queue again. */
  async moveJob(targetId: string, jobId: string, delta: number): Promise<void> {
    const client = await this.connect(targetId, true);
    const position = this.byId.get(targetId)?.tracker.get(jobId)?.queuePosition;
    if (typeof position !== 'number') return;
    await client.moveJob(jobId, Math.max(0, position + delta));
    await this.refresh(targetId);
  }

  async resume(targetId: string, jobId: string): Promise<void> {
    const client = await this.connect(targetId, true);
    await client.resume(jobId);
    const t = this.byId.get(targetId)!;
    await this.follow(t, jobId);
    void this.trackInWindow(targetId, jobId);
  }

  /** Queues an evaluation of a done job's adapter (base vs adapter on its held-out records) and follows it. */
  async evaluate(targetId: string, jobId: string): Promise<JobView> {
    const client = await this.connect(targetId, true);
    const summary = await client.evaluate(jobId);
    const t = this.byId.get(targetId)!;
    const view = t.tracker.applySummary(summary);
    await this.follow(t, summary.job_id);
    this.log.info(`[${t.ref.label}] evaluating job ${jobId} as job ${summary.job_id}`);
    void this.trackInWindow(view.target, view.jobId);
    return view;
  }

  /** Downloads a done job's adapter into the workspace (.modelfactory/runs/<target>-<job>/adapter), verified. */
  async downloadAdapter(targetId: string, jobId: string, interactive: boolean): Promise<string | undefined> {
    const ws = this.workspaceRoot();
    const t = this.byId.get(targetId);
    const key = `${targetId}\0${jobId}`;
    if (!ws || !t?.client || this.downloads.has(key)) return undefined;
    const dest = adapterFolder(ws, targetId, jobId);
    // Files land only complete and verified, so one present is the adapter an earlier window fetched.
    if (existsSync(path.join(dest, 'adapter_model.safetensors'))) {
      t.tracker.setAdapterDir(jobId, dest);
      return dest;
    }
    this.downloads.add(key);
    try {
      const files = await vscode.window.withProgress(
        {
          location: interactive ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window,
          title: `ModelFactory: downloading the adapter of ${jobId}`,
        },
        (progress) =>
          t.client!.downloadAdapter(jobId, dest, (p) =>
            progress.report({ message: `${p.file} ${Math.floor((p.received / Math.max(1, p.size)) * 100)}%` }),
          ),
      );
      t.tracker.setAdapterDir(jobId, dest);
      this.log.info(`[${t.ref.label}] adapter of ${jobId}: ${files.length} files verified (sha256) in ${dest}`);
      return dest;
    } catch (err) {
      this.log.error(`[${t.ref.label}] adapter download of ${jobId} failed: ${messageOf(err)}`);
      if (interactive)
        void vscode.window.showErrorMessage(`ModelFactory: the adapter download failed: ${messageOf(err)}`);
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
    const local = this.byId.get('local');
    if (local && local.state === 'unavailable') this.setState(local, 'closed');
  }

  async stopLocalTrainer(): Promise<boolean> {
    this.drop('local');
    this.syncTargets();
    return stopLocalServer(path.join(this.context.globalStorageUri.fsPath, 'local-server'));
  }

  private workspaceRoot(): string | undefined {
    return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  }

  private version(): string {
    return String((this.context.extension.packageJSON as { version?: string }).version ?? '0');
  }

  dispose(): void {
    this.recorder?.dispose();
    for (const id of [...this.byId.keys()]) this.drop(id);
    for (const d of this.disposables) d.dispose();
  }
}

/** `modelfactory.trainer.openai`: the local server also serves its OpenAI-compatible API (a playground target). */
function serveOpenAI(): boolean {
  return vscode.workspace.getConfiguration('modelfactory').get<boolean>('trainer.openai', false) === true;
}

function allowDownload(): boolean {
  return vscode.workspace.getConfiguration('modelfactory').get<boolean>('trainer.allowDownload', false) === true;
}

function trustRemoteCode(): boolean {
  return vscode.workspace.getConfiguration('modelfactory').get<boolean>('trainer.trustRemoteCode', false) === true;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
