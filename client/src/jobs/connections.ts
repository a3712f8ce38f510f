// The trainer connections of the extension host: one target per place jobs run (the local trainer, each
// remote endpoint of `modelfactory.trainer.endpoints`), each with its protocol client (connected on
// demand; for local, the detached local server found again or started), its job tracker and the jobs it
// follows. No UI flow lives here: commands, pickers and notifications are in jobManager.ts, which asks
// through `hooks` for what needs the user (no Python found).
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readEndpoints, type EndpointSecrets } from '../endpoints';
import { getSetting } from '../settings';
import type { JobView, TargetRef } from '../trainer/api';
import { JobTracker } from '../trainer/jobTracker';
import { ensureLocalServer, localServerRunning, stopLocalServer } from '../trainer/localServer';
import { ProtocolClient, TrainerError } from '../trainer/protocolClient';
import { findTrainerPython } from '../trainer/python';
import type { ConnectionState, JobsSource } from './jobsView';

const LOCAL: TargetRef = { id: 'local', label: 'Local trainer', kind: 'local' };
export const TERMINAL = new Set(['done', 'failed', 'cancelled']);
/** Finished jobs whose curves are loaded on connect; older ones load when the dashboard asks. */
const WATCH_FINISHED_ON_CONNECT = 10;

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

export interface ConnectionHooks {
  /** No Python with the trainer's packages was found while connecting at the user's request. */
  noPython(): void;
}

export class TrainerConnections implements JobsSource, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly jobChanged = new vscode.EventEmitter<JobView>();
  /** A job's view changed (an event, a summary, its adapter downloaded). */
  readonly onDidChangeJob = this.jobChanged.event;
  private readonly byId = new Map<string, Target>();
  private readonly disposables: vscode.Disposable[] = [this.changed, this.jobChanged];

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly secrets: EndpointSecrets,
    private readonly hooks: ConnectionHooks,
  ) {
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

  // ---- what the UI flows read -------------------------------------------------------------------

  has(targetId: string): boolean {
    return this.byId.has(targetId);
  }

  ref(targetId: string): TargetRef | undefined {
    return this.byId.get(targetId)?.ref;
  }

  /** The job tracker of a target (its jobs' views, folded from their events). */
  tracker(targetId: string): JobTracker | undefined {
    return this.byId.get(targetId)?.tracker;
  }

  /** The target's protocol client if one was opened (it may be reconnecting). */
  clientOf(targetId: string): ProtocolClient | undefined {
    return this.byId.get(targetId)?.client;
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
        this.jobChanged.fire(view);
        this.changed.fire();
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

  private localStateDir(): string {
    return path.join(this.context.globalStorageUri.fsPath, 'local-server');
  }

  /** The local server's OpenAI-compatible API (loopback, the local token), once it was started with it. */
  private localOpenAI: { baseUrl: string; apiKey: string } | undefined;

  localOpenAIEndpoint(): { baseUrl: string; apiKey: string } | undefined {
    return this.localOpenAI;
  }

  private async localEndpoint(interactive: boolean): Promise<{ url: string; token: string }> {
    const python = await this.findPython(interactive);
    const stateDir = this.localStateDir();
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
        ...(getSetting('modelfactory.trainer.trustRemoteCode') ? ['--allow-remote-code'] : []),
        ...(getSetting('modelfactory.trainer.allowDownload') ? ['--allow-download'] : []),
        // The playground's "Local trainer (OpenAI API)" target (modelfactory.trainer.openai).
        ...(getSetting('modelfactory.trainer.openai') ? ['--openai'] : []),
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
    const setting = getSetting('modelfactory.trainer.pythonPath');
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
    if (interactive) this.hooks.noPython();
    throw new TrainerError('no-python', 'No Python with the trainer was found (see the log for each candidate).');
  }

  /**
   * On start: reconnect to a local trainer that an earlier window left running (its jobs go on), and to
   * remote endpoints that have a token. Never starts a server just because a window opened.
   */
  async reconnectIfRunning(): Promise<void> {
    try {
      if (await localServerRunning(this.localStateDir())) await this.connect('local', false);
    } catch {
      // It stopped meanwhile, or it does not answer: the local target connects on first use.
    }
    for (const t of this.targets()) {
      if (t.kind === 'remote' && (await this.secrets.tokenOf(t.id))) {
        await this.connect(t.id, false).catch((err: unknown) => this.log.info(`[${t.label}] ${messageOf(err)}`));
      }
    }
  }

  /** The local trainer was set up: a target marked unavailable (no Python) may connect again. */
  localTrainerReady(): void {
    const local = this.byId.get('local');
    if (local && local.state === 'unavailable') this.setState(local, 'closed');
  }

  /** Closes the local connection and stops the local server. Returns whether one was running. */
  async stopLocal(): Promise<boolean> {
    this.drop('local');
    this.syncTargets();
    return stopLocalServer(this.localStateDir());
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

  /** Follows a job just submitted or resumed on a target whose client is open. */
  async followJob(targetId: string, jobId: string): Promise<void> {
    const t = this.byId.get(targetId);
    if (t) await this.follow(t, jobId);
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

  private version(): string {
    return String((this.context.extension.packageJSON as { version?: string }).version ?? '0');
  }

  dispose(): void {
    for (const id of [...this.byId.keys()]) this.drop(id);
    for (const d of this.disposables) d.dispose();
  }
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
