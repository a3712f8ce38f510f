// Host of the job dashboard: one panel at a time, restored after a reload by its serializer. It sends the
// webview a summary of every job, each watched job once in full, then only what changed, at most every
// DASHBOARD_UPDATE_INTERVAL_MS however fast the trainer logs. Messages from the webview are validated by
// `receiveValidated`; cancel and "open adapter folder" act only on jobs the connection already knows.
import * as vscode from 'vscode';
import { describeJob } from '../jobs/describe';
import type { Disposable, JobPoint, JobView } from '../trainer/api';
import type {
  DashboardHostMessage,
  DashboardPoint,
  DashboardWebviewMessage,
  JobKey,
  JobSummary,
} from '../../../webviews/src/protocol/dashboard';
import {
  DASHBOARD_LIMITS,
  JOB_STATES,
  isJobId,
  jobKeyString,
  parseDashboardWebviewMessage,
} from '../../../webviews/src/protocol/dashboard';
import { receiveValidated, registerSingletonSerializer, renderInto, revealOrCreate } from './webviewHost';
import { describePlacement } from '../jobs/describe';

export const DASHBOARD_VIEW_TYPE = 'modelfactory.dashboard';
export const DASHBOARD_UPDATE_INTERVAL_MS = 250;

export interface DashboardDeps {
  log: vscode.LogOutputChannel;
  /** Every job the trainer connections know, live. */
  jobs(): JobView[];
  onDidChangeJob(listener: (job: JobView) => void): Disposable;
  /** Finished runs of this workspace (from its run history), with their curves. */
  pastRuns(): Promise<JobView[]>;
  cancel(target: string, jobId: string): Promise<void>;
  openAdapterFolder?(job: JobView): void;
  /** Shows where the job's TensorBoard event files are and how to open them. */
  openTensorBoard?(job: JobView): void;
}

const L = DASHBOARD_LIMITS;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function finiteOrNull(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function count(v: number | null | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? Math.max(0, Math.floor(v)) : 0;
}

/** The queue position of a queued job, else where it runs; null when the server said neither. */
function whereOf(job: JobView): string | null {
  if (job.state === 'queued' && typeof job.queuePosition === 'number') return `queued #${job.queuePosition + 1}`;
  const placement = describePlacement(job);
  return placement ? clip(placement, L.where) : null;
}

/** A job as the webview's protocol accepts it: strings trimmed to its limits, non-finite numbers as null. */
export function toJobSummary(job: JobView, past: boolean): JobSummary {
  return {
    target: job.target,
    jobId: job.jobId,
    name: clip(job.name, L.name),
    baseModel: clip(job.baseModel, L.baseModel),
    method: clip(job.method, L.method),
    state: JOB_STATES.includes(job.state) ? job.state : 'failed',
    reason: job.reason === null ? null : clip(job.reason, L.reason),
    created: finiteOrNull(job.created) ?? 0,
    ended: finiteOrNull(job.ended),
    step: count(job.step),
    totalSteps: job.totalSteps === null ? null : count(job.totalSteps),
    etaSeconds: finiteOrNull(job.etaSeconds),
    device: job.device === null ? null : clip(job.device, L.device),
    precision: job.precision === null ? null : clip(job.precision, L.device),
    where: whereOf(job),
    past,
    hasAdapter: job.adapterDir !== null,
    downloading: job.download && job.state === 'running' ? clip(describeJob(job), L.logLine) : null,
    hasTensorBoard: job.tensorboardDir !== null,
  };
}

function toPoint(p: JobPoint): DashboardPoint {
  return {
    step: count(p.step),
    time: finiteOrNull(p.time) ?? 0,
    epoch: finiteOrNull(p.epoch),
    loss: finiteOrNull(p.loss),
    evalLoss: finiteOrNull(p.evalLoss),
    learningRate: finiteOrNull(p.learningRate),
    tokensPerSecond: finiteOrNull(p.tokensPerSecond),
    gpuMemoryGb: finiteOrNull(p.gpuMemoryGb),
    ...(p.rewardMargin != null || p.rewardAccuracy != null
      ? { rewardMargin: finiteOrNull(p.rewardMargin ?? null), rewardAccuracy: finiteOrNull(p.rewardAccuracy ?? null) }
      : {}),
  };
}

/** At most `max` points, evenly spread and always keeping the last, for a run longer than the limit. */
function thin(points: JobPoint[], max: number): DashboardPoint[] {
  if (points.length <= max) return points.map(toPoint);
  const stride = points.length / max;
  const kept: DashboardPoint[] = [];
  for (let i = 0; i < max - 1; i++) kept.push(toPoint(points[Math.floor(i * stride)]!));
  kept.push(toPoint(points[points.length - 1]!));
  return kept;
}

function toLogs(logs: string[]): string[] {
  return logs.slice(-L.logLines).map((line) => clip(line, L.logLine));
}

function isPostable(job: JobView): boolean {
  return isJobId(job.jobId) && job.target.length > 0 && job.target.length <= L.target;
}

/** What the webview holds of a watched job, so an update carries only what is new. */
interface Sent {
  /** Host points already sent (an index into JobView.points). */
  hostPoints: number;
  /** Points the webview holds (fewer than hostPoints when a long run was thinned). */
  webviewPoints: number;
  logCount: number;
  lastLog: string | undefined;
}

class DashboardPanel {
  static current: DashboardPanel | undefined;

  private readonly disposables: vscode.Disposable[] = [];
  private past = new Map<string, JobView>();
  /** Watched jobs; null until the webview has been sent the job in full. */
  private watched = new Map<string, Sent | null>();
  private readonly changed = new Set<string>();
  private listChanged = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ready = false;
  private pendingFocus: JobKey | undefined;

  constructor(
    readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly deps: DashboardDeps,
    focus?: JobKey,
  ) {
    this.pendingFocus = focus;
    renderInto(panel.webview, extensionUri, 'dashboard', 'Job Dashboard');
    this.disposables.push(
      receiveValidated(panel.webview, parseDashboardWebviewMessage, (m) => this.onMessage(m), deps.log),
    );
    const subscription = deps.onDidChangeJob((job) => this.onJobChanged(job));
    this.disposables.push({ dispose: () => subscription.dispose() });
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
  }

  focus(key: JobKey): void {
    if (this.ready) this.post({ type: 'focus', target: key.target, jobId: key.jobId });
    else this.pendingFocus = key;
  }

  private post(message: DashboardHostMessage): void {
    void this.panel.webview.postMessage(message);
  }

  /** Live jobs over past runs: a run that is both is shown as live. */
  private known(): Map<string, { job: JobView; past: boolean }> {
    const all = new Map<string, { job: JobView; past: boolean }>();
    for (const job of this.past.values()) if (isPostable(job)) all.set(jobKeyString(job), { job, past: true });
    for (const job of this.deps.jobs()) if (isPostable(job)) all.set(jobKeyString(job), { job, past: false });
    return all;
  }

  private async onMessage(m: DashboardWebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready': {
        // A (re)loaded webview holds nothing: everything it watches goes out in full again.
        this.ready = false;
        for (const key of this.watched.keys()) this.watched.set(key, null);
        try {
          this.past = new Map((await this.deps.pastRuns()).map((job) => [jobKeyString(job), job]));
        } catch (err) {
          this.deps.log.warn(`Could not list past runs: ${err instanceof Error ? err.message : String(err)}`);
        }
        this.ready = true;
        this.postJobs();
        for (const key of this.watched.keys()) this.sendFull(key);
        if (this.pendingFocus) this.focus(this.pendingFocus);
        this.pendingFocus = undefined;
        break;
      }
      case 'watch': {
        const next = new Map<string, Sent | null>();
        for (const key of m.jobs.map(jobKeyString)) next.set(key, this.watched.get(key) ?? null);
        this.watched = next;
        if (this.ready) for (const [key, sent] of next) if (sent === null) this.sendFull(key);
        break;
      }
      case 'cancel': {
        const job = this.deps.jobs().find((j) => j.target === m.target && j.jobId === m.jobId);
        if (!job || (job.state !== 'running' && job.state !== 'queued')) {
          this.deps.log.warn(`Dashboard: refused to cancel ${m.jobId}: not a running job`);
          return;
        }
        try {
          await this.deps.cancel(m.target, m.jobId);
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          void vscode.window.showErrorMessage(`Could not cancel job ${m.jobId}: ${message}`);
          throw err;
        }
        break;
      }
      case 'openAdapter': {
        const entry = this.known().get(jobKeyString(m));
        if (entry && entry.job.adapterDir !== null) this.deps.openAdapterFolder?.(entry.job);
        break;
      }
      case 'openTensorBoard': {
        const entry = this.known().get(jobKeyString(m));
        if (entry && entry.job.tensorboardDir !== null) this.deps.openTensorBoard?.(entry.job);
        break;
      }
    }
  }

  private onJobChanged(job: JobView): void {
    if (!isPostable(job)) return;
    this.changed.add(jobKeyString(job));
    this.listChanged = true;
    this.timer ??= setTimeout(() => this.flush(), DASHBOARD_UPDATE_INTERVAL_MS);
  }

  private flush(): void {
    this.timer = undefined;
    if (!this.ready) return;
    if (this.listChanged) this.postJobs();
    const known = this.known();
    for (const key of this.changed) {
      const entry = known.get(key);
      if (!entry || !this.watched.has(key)) continue;
      const sent = this.watched.get(key);
      if (!sent) this.sendFull(key);
      else this.sendUpdate(key, entry.job, entry.past, sent);
    }
    this.changed.clear();
    this.listChanged = false;
  }

  private postJobs(): void {
    const jobs = [...this.known().values()]
      .sort((a, b) => b.job.created - a.job.created)
      .slice(0, L.jobs)
      .map(({ job, past }) => toJobSummary(job, past));
    this.post({ type: 'jobs', jobs });
  }

  private sendFull(key: string): void {
    const entry = this.known().get(key);
    if (!entry) return;
    const { job, past } = entry;
    const points = thin(job.points, L.points);
    this.post({ type: 'job', job: toJobSummary(job, past), points, logs: toLogs(job.logs) });
    this.watched.set(key, {
      hostPoints: job.points.length,
      webviewPoints: points.length,
      logCount: job.logs.length,
      lastLog: job.logs[job.logs.length - 1],
    });
  }

  private sendUpdate(key: string, job: JobView, past: boolean, sent: Sent): void {
    const fresh = job.points.slice(sent.hostPoints);
    // Points the webview has not seen cannot be told apart from a rewritten history: start over.
    if (job.points.length < sent.hostPoints || sent.webviewPoints + fresh.length > L.points) return this.sendFull(key);
    const lastLog = job.logs[job.logs.length - 1];
    const logsChanged = job.logs.length !== sent.logCount || lastLog !== sent.lastLog;
    this.post({
      type: 'update',
      job: toJobSummary(job, past),
      pointsFrom: sent.webviewPoints,
      points: fresh.map(toPoint),
      logs: logsChanged ? toLogs(job.logs) : null,
    });
    this.watched.set(key, {
      hostPoints: job.points.length,
      webviewPoints: sent.webviewPoints + fresh.length,
      logCount: job.logs.length,
      lastLog,
    });
  }

  dispose(): void {
    if (DashboardPanel.current === this) DashboardPanel.current = undefined;
    if (this.timer) clearTimeout(this.timer);
    while (this.disposables.length) this.disposables.pop()!.dispose();
  }
}

/** Opens the dashboard (or reveals the open one), selecting `focus` when given. */
export function openDashboard(context: vscode.ExtensionContext, deps: DashboardDeps, focus?: JobKey): void {
  const key = focus && isJobId(focus.jobId) ? { target: focus.target, jobId: focus.jobId } : undefined;
  DashboardPanel.current = revealOrCreate(
    DashboardPanel.current,
    { viewType: DASHBOARD_VIEW_TYPE, title: 'Job Dashboard', extensionUri: context.extensionUri },
    (panel) => new DashboardPanel(panel, context.extensionUri, deps, key),
    (open) => key && open.focus(key),
  );
}

/** Restores a dashboard left open when VS Code reloads; call during activation. */
export function registerDashboardSerializer(context: vscode.ExtensionContext, deps: DashboardDeps): vscode.Disposable {
  return registerSingletonSerializer(
    DASHBOARD_VIEW_TYPE,
    () => DashboardPanel.current !== undefined,
    (panel) => (DashboardPanel.current = new DashboardPanel(panel, context.extensionUri, deps)),
  );
}
