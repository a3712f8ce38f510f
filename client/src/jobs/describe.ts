// How a job reads in one line (the jobs view, notifications): pure, so it is unit tested.
import type { JobView } from '../trainer/api';

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

function lastLoss(job: JobView): number | null {
  for (let i = job.points.length - 1; i >= 0; i--) {
    const loss = job.points[i]!.loss;
    if (loss !== null) return loss;
  }
  return null;
}

export function describeJob(job: JobView): string {
  const loss = lastLoss(job);
  const lossText = loss === null ? '' : ` · loss ${loss.toFixed(3)}`;
  switch (job.state) {
    case 'queued':
      // A run saved by an older version has neither field: read them as unknown.
      return typeof job.queuePosition === 'number' ? `queued #${job.queuePosition + 1}` : 'queued';
    case 'running': {
      if (job.placement?.status === 'PENDING') return 'waiting for cluster resources';
      if (job.download) {
        const d = job.download;
        const share = d.bytesTotal ? ` ${Math.floor((d.bytesDone / d.bytesTotal) * 100)}%` : '';
        const eta = d.etaSeconds !== null ? ` · ETA ${formatDuration(d.etaSeconds)}` : '';
        return `downloading ${d.repo}${share} (${d.filesDone}/${d.filesTotal} files)${eta}`;
      }
      const steps = job.totalSteps ? `step ${job.step}/${job.totalSteps}` : `step ${job.step}`;
      const eta = job.etaSeconds !== null ? ` · ETA ${formatDuration(job.etaSeconds)}` : '';
      const where = job.placement?.executor === 'ray' && job.placement.node ? ` · ${job.placement.node}` : '';
      return `${steps}${lossText}${eta}${where}`;
    }
    case 'done':
      return `done${lossText}`;
    case 'failed':
      return `failed${job.reason ? `: ${job.reason}` : ''}`;
    case 'cancelled':
      return `cancelled at step ${job.step}`;
  }
}

/** Where a job runs, in one line: "ray on node-3 · GPU 0,1", "local · CPU"; '' when not known. */
export function describePlacement(job: JobView): string {
  const placement = job.placement;
  if (!placement) return '';
  const node = placement.node ?? (placement.status === 'PENDING' ? 'waiting for cluster resources' : 'not placed yet');
  const gpus = placement.gpus.length > 0 ? `GPU ${placement.gpus.join(',')}` : 'no GPU';
  const status = placement.executor === 'ray' && placement.status ? ` (${placement.status.toLowerCase()})` : '';
  return `${placement.executor} on ${node} · ${gpus}${status}`;
}

/** 0..1 for a running job with a known step count; null otherwise. */
export function progressOf(job: JobView): number | null {
  if (!job.totalSteps) return null;
  return Math.min(1, job.step / job.totalSteps);
}

export interface JobRef {
  target: string;
  jobId: string;
}

/**
 * The job a command is about: the jobs view passes its tree node (`{kind: 'job', job}`), panels and
 * notifications pass `{target, jobId}`. Anything else is no job.
 */
export function jobRefOf(arg: unknown): JobRef | undefined {
  const o = arg as { kind?: unknown; job?: Partial<JobRef>; target?: unknown; jobId?: unknown } | null;
  const ref = o?.kind === 'job' ? o.job : o;
  return typeof ref?.target === 'string' && typeof ref.jobId === 'string'
    ? { target: ref.target, jobId: ref.jobId }
    : undefined;
}
