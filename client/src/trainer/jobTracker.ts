// Folds a target's job summaries and job events into JobViews. An event is applied only when its seq
// is exactly the next one: a duplicate is dropped, a gap asks for the job to be watched again from
// the next seq needed. So a view equals what a full replay of the job's log would give.
import type { Disposable, JobPlacementView, JobPoint, JobState, JobView } from './api';
import type { JobEvent, JobEventOf, JobPlacement, JobSummary } from './protocol';
import { JOB_STATES } from './protocol.generated';

export type ApplyOutcome = 'applied' | 'duplicate' | 'gap' | 'unknown-job';

export interface JobTrackerOptions {
  /** The most log lines a view keeps (the newest). */
  maxLogLines?: number;
  /** Called on a gap: watch `jobId` again from `fromSeq`. */
  rewatch?: (jobId: string, fromSeq: number) => void;
}

interface Tracked {
  view: JobView;
  /** The server's state and reason from the newest summary, and the seq that summary had seen. */
  summaryState: JobState;
  summaryReason: string | null;
  summarySeq: number;
  eventState: JobState;
  eventReason: string | null;
  /** The trainer's own account of a failure (error or oom message), preferred over the server's code. */
  trainerFailure: string | null;
}

const DEFAULT_MAX_LOG_LINES = 500;

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function isJobState(value: unknown): value is JobState {
  return (JOB_STATES as readonly unknown[]).includes(value);
}

/** A placement from a job summary or a `launched` event (fields the schema has checked). */
export function placementView(source: JobPlacement | JobEventOf<'launched'>): JobPlacementView {
  return {
    executor: source.executor === 'ray' ? 'ray' : 'local',
    node: source.node ?? null,
    gpus: [...(source.gpus ?? [])],
    status: source.status ?? null,
  };
}

/** A job known by id only: what a summary or the first event fills in. */
export function emptyView(target: string, jobId: string): JobView {
  return {
    target,
    jobId,
    name: jobId,
    baseModel: '',
    method: '',
    state: 'queued',
    reason: null,
    created: 0,
    ended: null,
    step: 0,
    totalSteps: null,
    etaSeconds: null,
    device: null,
    precision: null,
    points: [],
    logs: [],
    lastSeq: -1,
    adapterDir: null,
    queuePosition: null,
    placement: null,
    download: null,
    tensorboardDir: null,
  };
}

function formatNumber(value: number | null, digits = 4): string {
  return value === null ? '-' : Number(value.toPrecision(digits)).toString();
}

/** Bytes as people read them: 950 MB, 14.2 GB. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : Number(value.toPrecision(3))} ${units[unit]}`;
}

/** One readable line per event, for the dashboard's log and the output channel. */
export function describeEvent(event: JobEvent): string {
  switch (event.type) {
    case 'download': {
      const done = num(event.bytes_done) ?? 0;
      const total = num(event.bytes_total) ?? 0;
      const files = `${String(event.files_done)}/${String(event.files_total)} files`;
      if (event.finished === true) return `downloaded ${String(event.repo)}: ${files}, ${formatBytes(total)}`;
      const rate = num(event.bytes_per_second);
      const eta = num(event.eta_seconds);
      return (
        `downloading ${String(event.repo)}: ${formatBytes(done)} of ${formatBytes(total)}, ${files}` +
        `${rate ? `, ${formatBytes(rate)}/s` : ''}${eta !== null ? `, ${Math.round(eta)} s left` : ''}`
      );
    }
    case 'queued':
      if (event.resumed === true) return 'queued again to resume from the newest complete checkpoint';
      return `queued ${String(event.name)} (${String(event.base_model)}, ${String(event.method)})`;
    case 'launched':
      if (event.executor === 'ray') return `submitted to the Ray cluster as ${String(event.submission_id)}`;
      return `trainer started (pid ${String(event.pid)})`;
    case 'start':
      return (
        `training ${String(event.model)} with ${String(event.method)} on ${String(event.device)}` +
        `${event.precision ? ` (${String(event.precision)})` : ''}: ${String(event.total_steps)} steps, ` +
        `${String(event.train_records)} records, ${String(event.trainable_params)} trainable parameters`
      );
    case 'log':
      return (
        `step ${String(event.step)}/${String(event.total_steps)} loss ${formatNumber(num(event.loss))} ` +
        `lr ${formatNumber(num(event.learning_rate), 3)}`
      );
    case 'eval':
      return `step ${String(event.step)} eval loss ${formatNumber(num(event.eval_loss))}`;
    case 'checkpoint':
      return `checkpoint at step ${String(event.step)}`;
    case 'eval_start':
      return `evaluating ${String(event.examples)} held-out examples with ${Array.isArray(event.models) ? event.models.map(String).join(', ') : '-'}`;
    case 'progress':
      return `answered ${String(event.done)}/${String(event.total)}${typeof event.model === 'string' ? ` (${event.model})` : ''}`;
    case 'eval_done':
      return describeEvaluation(event.summary);
    case 'done':
      return `done after ${String(event.steps)} steps`;
    case 'cancelled':
      return `cancelled at step ${String(event.step ?? '-')}`;
    case 'oom':
      return `out of memory: ${String(event.message)}`;
    case 'error':
      return `error (${String(event.code)}): ${String(event.message)}`;
    case 'ended':
      return `ended: ${String(event.state)}${event.reason ? ` (${String(event.reason)})` : ''}`;
  }
}

/** An evaluation's summary in one line: each model's loss, ROUGE-L, BLEU and exact match. */
function describeEvaluation(summary: unknown): string {
  const models = (summary as { models?: unknown } | null)?.models;
  if (!Array.isArray(models)) return 'evaluated';
  const parts = models.map((model) => {
    const { name, metrics } = (model ?? {}) as { name?: unknown; metrics?: Record<string, unknown> };
    const m = metrics ?? {};
    return (
      `${String(name)}: loss ${formatNumber(num(m['loss']))}, ROUGE-L ${formatNumber(num(m['rouge_l']), 3)}, ` +
      `BLEU ${formatNumber(num(m['bleu']), 3)}, exact ${formatNumber(num(m['exact_match']), 3)}`
    );
  });
  return `evaluated: ${parts.join('; ')}`;
}

export class JobTracker {
  private readonly jobs = new Map<string, Tracked>();
  private readonly listeners = new Set<(view: JobView) => void>();
  private readonly maxLogLines: number;

  constructor(
    readonly target: string,
    private readonly options: JobTrackerOptions = {},
  ) {
    this.maxLogLines = options.maxLogLines ?? DEFAULT_MAX_LOG_LINES;
  }

  /** Listens for changes of any job of this target: the view after the change. */
  onChange(listener: (view: JobView) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  get(jobId: string): JobView | undefined {
    return this.jobs.get(jobId)?.view;
  }

  /** Every job, oldest first (as the server lists them). */
  list(): JobView[] {
    return [...this.jobs.values()].map((tracked) => tracked.view).sort((a, b) => a.created - b.created);
  }

  /** Folds in a summary (from list_jobs, submitted or watching): creates the job or refreshes it. */
  applySummary(summary: JobSummary): JobView {
    const tracked = this.jobs.get(summary.job_id) ?? this.track(summary.job_id);
    const view = tracked.view;
    view.name = summary.name || view.name;
    view.baseModel = summary.base_model || view.baseModel;
    view.method = summary.method || view.method;
    view.created = summary.created || view.created;
    if (summary.last_seq >= tracked.summarySeq) {
      view.queuePosition = summary.state === 'queued' ? (summary.queue_position ?? null) : null;
      if (summary.placement !== undefined) view.placement = placementView(summary.placement);
      tracked.summaryState = summary.state;
      tracked.summaryReason = summary.reason;
      tracked.summarySeq = summary.last_seq;
    }
    this.settle(tracked);
    this.emit(view);
    return view;
  }

  /** Applies one event if it is the next in seq order. */
  applyEvent(jobId: string, seq: number, event: JobEvent): ApplyOutcome {
    const tracked = this.jobs.get(jobId) ?? (seq === 0 ? this.track(jobId) : undefined);
    if (tracked === undefined) return 'unknown-job';
    const view = tracked.view;
    if (seq <= view.lastSeq) return 'duplicate';
    if (seq !== view.lastSeq + 1) {
      this.options.rewatch?.(jobId, view.lastSeq + 1);
      return 'gap';
    }
    view.lastSeq = seq;
    this.fold(tracked, event);
    this.settle(tracked);
    this.emit(view);
    return 'applied';
  }

  /** Records where the job's adapter was downloaded (and verified). */
  setAdapterDir(jobId: string, adapterDir: string): void {
    const tracked = this.jobs.get(jobId);
    if (tracked === undefined) return;
    tracked.view.adapterDir = adapterDir;
    this.emit(tracked.view);
  }

  remove(jobId: string): void {
    this.jobs.delete(jobId);
  }

  private track(jobId: string): Tracked {
    const tracked: Tracked = {
      view: emptyView(this.target, jobId),
      summaryState: 'queued',
      summaryReason: null,
      summarySeq: -1,
      eventState: 'queued',
      eventReason: null,
      trainerFailure: null,
    };
    this.jobs.set(jobId, tracked);
    return tracked;
  }

  /** The events win once they have caught up with the newest summary; until then the summary does. */
  private settle(tracked: Tracked): void {
    const view = tracked.view;
    const fromEvents = view.lastSeq >= tracked.summarySeq;
    view.state = fromEvents ? tracked.eventState : tracked.summaryState;
    const serverReason = fromEvents ? tracked.eventReason : tracked.summaryReason;
    view.reason =
      view.state === 'failed' ? (tracked.trainerFailure ?? serverReason) : view.state === 'cancelled' ? serverReason : null;
  }

  private fold(tracked: Tracked, event: JobEvent): void {
    const view = tracked.view;
    switch (event.type) {
      case 'queued':
        if (event.resumed === true) {
          // A resume queues the job again: the earlier run's ending no longer describes it.
          tracked.eventState = 'queued';
          tracked.eventReason = null;
          tracked.trainerFailure = null;
          view.ended = null;
          view.etaSeconds = null;
          break;
        }
        view.created = num(event.time) ?? view.created;
        view.name = text(event.name) || view.name;
        view.baseModel = text(event.base_model) || view.baseModel;
        view.method = text(event.method) || view.method;
        break;
      case 'launched':
        tracked.eventState = 'running';
        view.queuePosition = null;
        view.placement = placementView(event);
        break;
      case 'download':
        tracked.eventState = 'running';
        view.download =
          event.finished === true
            ? null
            : {
                repo: text(event.repo) ?? '',
                filesDone: num(event.files_done) ?? 0,
                filesTotal: num(event.files_total) ?? 0,
                bytesDone: num(event.bytes_done) ?? 0,
                bytesTotal: num(event.bytes_total) ?? 0,
                bytesPerSecond: num(event.bytes_per_second),
                etaSeconds: num(event.eta_seconds),
              };
        view.etaSeconds = view.download?.etaSeconds ?? null;
        // One line per download in the log, brought up to date, rather than one a second.
        if (view.logs.at(-1)?.startsWith(`downloading ${String(event.repo)}:`)) view.logs.pop();
        break;
      case 'start':
        tracked.eventState = 'running';
        view.download = null;
        view.tensorboardDir = text(event.tensorboard_dir);
        view.device = text(event.device);
        view.precision = text(event.precision);
        view.totalSteps = num(event.total_steps);
        view.method = text(event.method) ?? view.method;
        break;
      case 'log':
        view.step = num(event.step) ?? view.step;
        view.totalSteps = num(event.total_steps) ?? view.totalSteps;
        view.etaSeconds = num(event.eta_seconds);
        this.addPoint(view, {
          step: view.step,
          time: event.time,
          epoch: num(event.epoch),
          loss: num(event.loss),
          evalLoss: null,
          learningRate: num(event.learning_rate),
          tokensPerSecond: num(event.tokens_per_second),
          gpuMemoryGb: num(event.gpu_memory_gb),
          ...(event.reward_margin !== undefined || event.reward_accuracy !== undefined
            ? { rewardMargin: num(event.reward_margin), rewardAccuracy: num(event.reward_accuracy) }
            : {}),
        });
        break;
      case 'eval':
        this.addPoint(view, {
          step: num(event.step) ?? view.step,
          time: event.time,
          epoch: num(event.epoch),
          loss: null,
          evalLoss: num(event.eval_loss),
          learningRate: null,
          tokensPerSecond: null,
          gpuMemoryGb: null,
        });
        break;
      case 'done':
        view.step = num(event.steps) ?? view.step;
        view.etaSeconds = 0;
        break;
      case 'oom': {
        const advice = Array.isArray(event.advice) ? event.advice.filter((line) => typeof line === 'string') : [];
        tracked.trainerFailure = [`out of memory: ${String(event.message)}`, ...advice].join('; ');
        break;
      }
      case 'error':
        tracked.trainerFailure = `${String(event.code)}: ${String(event.message)}`;
        break;
      case 'ended':
        view.download = null;
        if (isJobState(event.state)) tracked.eventState = event.state;
        tracked.eventReason = text(event.reason);
        view.ended = event.time;
        view.etaSeconds = event.state === 'done' ? 0 : null;
        break;
      case 'checkpoint':
      case 'cancelled':
        break;
    }
    this.addLog(view, describeEvent(event));
    if (event.type === 'ended' && typeof event.message === 'string' && event.message.trim() !== '') {
      for (const line of event.message.trim().split('\n').slice(-20)) this.addLog(view, line);
    }
  }

  /**
   * An eval at the step of the last logged point completes that point instead of adding one. A resumed
   * run starts again from its checkpoint: its points replace those the earlier run logged after it.
   */
  private addPoint(view: JobView, point: JobPoint): void {
    while ((view.points.at(-1)?.step ?? -Infinity) > point.step) view.points.pop();
    const last = view.points.at(-1);
    if (last !== undefined && last.step === point.step && last.loss !== null && point.loss !== null) {
      view.points[view.points.length - 1] = point;
      return;
    }
    if (last !== undefined && last.step === point.step) {
      last.loss ??= point.loss;
      last.evalLoss ??= point.evalLoss;
      last.learningRate ??= point.learningRate;
      last.tokensPerSecond ??= point.tokensPerSecond;
      last.gpuMemoryGb ??= point.gpuMemoryGb;
      last.epoch ??= point.epoch;
      if (point.rewardMargin != null) last.rewardMargin ??= point.rewardMargin;
      if (point.rewardAccuracy != null) last.rewardAccuracy ??= point.rewardAccuracy;
      return;
    }
    view.points.push(point);
  }

  private addLog(view: JobView, line: string): void {
    view.logs.push(line);
    if (view.logs.length > this.maxLogLines) view.logs.splice(0, view.logs.length - this.maxLogLines);
  }

  private emit(view: JobView): void {
    for (const listener of [...this.listeners]) listener(view);
  }
}
