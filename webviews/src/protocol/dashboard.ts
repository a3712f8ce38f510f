// The job dashboard's messages, both ways. The host (client/src/panels/dashboardPanel.ts) and the
// webview (webviews/src/dashboard) import these types; each side runs the matching `parse…` on what it
// receives, so a message that does not match exactly (unknown type, wrong shape, extra key, oversize
// string, malformed job id) is dropped whole.
import type { JobPoint, JobState, JobView } from '../../../client/src/trainer/api';
import { JOB_STATES as PROTOCOL_JOB_STATES } from '../../../client/src/trainer/protocol.generated';
import type { Obj } from './validate';
import { hasOnlyKeys, isArrayOf, isBool, isInt, isNum, isObj, isOneOf, isStr, messageType } from './validate';

export const JOB_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
export const JOB_STATES: readonly JobState[] = PROTOCOL_JOB_STATES;

/** Limits both sides hold; the host trims to them before posting so nothing it sends is refused. */
export const DASHBOARD_LIMITS = {
  target: 128,
  name: 256,
  baseModel: 512,
  method: 32,
  reason: 4000,
  device: 128,
  where: 300,
  logLine: 2000,
  logLines: 500,
  points: 200_000,
  jobs: 2000,
  watched: 16,
} as const;

export interface JobKey {
  target: string;
  jobId: string;
}

/** One point of a job's curves: the trainer connection's own type (pure data, shared as is). */
export type DashboardPoint = JobPoint;

/** What the job list shows of a job: the trainer connection's view without its curves, log and bookkeeping. */
export interface JobSummary extends Omit<
  JobView,
  'points' | 'logs' | 'lastSeq' | 'adapterDir' | 'queuePosition' | 'placement' | 'download' | 'tensorboardDir'
> {
  /** Where the job runs or waits, in one line ("queued #2", "ray on node-3 · GPU 0"); null when unknown. */
  where: string | null;
  /** True for a run found in the workspace's history rather than on a connected trainer. */
  past: boolean;
  hasAdapter: boolean;
  /** The base model's download from the Hub while it runs, as one line; null otherwise. */
  downloading: string | null;
  /** The trainer writes TensorBoard's event files for this job (training.report_to: tensorboard). */
  hasTensorBoard: boolean;
}

// Host -> webview.
/** Every job the dashboard knows, summaries only; replaces the webview's list. */
export interface JobsMessage {
  type: 'jobs';
  jobs: JobSummary[];
}
/** A watched job in full: its summary, all its points and its log. */
export interface JobDetailMessage {
  type: 'job';
  job: JobSummary;
  points: DashboardPoint[];
  logs: string[];
}
/** New data for a watched job: points from index `pointsFrom` on; the whole log when it changed. */
export interface JobUpdateMessage {
  type: 'update';
  job: JobSummary;
  pointsFrom: number;
  points: DashboardPoint[];
  logs: string[] | null;
}
/** Select this job (the command that opened the dashboard named it). */
export interface FocusMessage {
  type: 'focus';
  target: string;
  jobId: string;
}
export type DashboardHostMessage = JobsMessage | JobDetailMessage | JobUpdateMessage | FocusMessage;

// Webview -> host.
export interface ReadyMessage {
  type: 'ready';
}
/** The jobs whose curves the webview shows (the selected one and those ticked for comparison). */
export interface WatchMessage {
  type: 'watch';
  jobs: JobKey[];
}
export interface CancelMessage {
  type: 'cancel';
  target: string;
  jobId: string;
}
export interface OpenAdapterMessage {
  type: 'openAdapter';
  target: string;
  jobId: string;
}
/** Show where the job's TensorBoard event files are and how to open them. */
export interface OpenTensorBoardMessage {
  type: 'openTensorBoard';
  target: string;
  jobId: string;
}
export type DashboardWebviewMessage =
  ReadyMessage | WatchMessage | CancelMessage | OpenAdapterMessage | OpenTensorBoardMessage;

const L = DASHBOARD_LIMITS;

export function isJobId(v: unknown): v is string {
  return typeof v === 'string' && JOB_ID_PATTERN.test(v);
}

function isTarget(v: unknown): v is string {
  return isStr(v, L.target) && v.length > 0;
}

function isNumOrNull(v: unknown): v is number | null {
  return v === null || isNum(v);
}

function isStrOrNull(v: unknown, max: number): v is string | null {
  return v === null || isStr(v, max);
}

function isJobKeyFields(o: Obj): boolean {
  return isTarget(o['target']) && isJobId(o['jobId']);
}

function isJobKey(v: unknown): v is JobKey {
  return isObj(v) && hasOnlyKeys(v, ['target', 'jobId']) && isJobKeyFields(v);
}

const POINT_KEYS = [
  'step',
  'time',
  'epoch',
  'loss',
  'evalLoss',
  'learningRate',
  'tokensPerSecond',
  'gpuMemoryGb',
  'rewardMargin',
  'rewardAccuracy',
];

export function isDashboardPoint(v: unknown): v is DashboardPoint {
  return (
    isObj(v) &&
    hasOnlyKeys(v, POINT_KEYS) &&
    isInt(v['step'], 0) &&
    isNum(v['time']) &&
    isNumOrNull(v['epoch']) &&
    isNumOrNull(v['loss']) &&
    isNumOrNull(v['evalLoss']) &&
    isNumOrNull(v['learningRate']) &&
    isNumOrNull(v['tokensPerSecond']) &&
    isNumOrNull(v['gpuMemoryGb']) &&
    (v['rewardMargin'] === undefined || isNumOrNull(v['rewardMargin'])) &&
    (v['rewardAccuracy'] === undefined || isNumOrNull(v['rewardAccuracy']))
  );
}

const SUMMARY_KEYS = [
  'target',
  'jobId',
  'name',
  'baseModel',
  'method',
  'state',
  'reason',
  'created',
  'ended',
  'step',
  'totalSteps',
  'etaSeconds',
  'device',
  'precision',
  'where',
  'past',
  'hasAdapter',
  'downloading',
  'hasTensorBoard',
];

export function isJobSummary(v: unknown): v is JobSummary {
  return (
    isObj(v) &&
    hasOnlyKeys(v, SUMMARY_KEYS) &&
    isJobKeyFields(v) &&
    isStr(v['name'], L.name) &&
    isStr(v['baseModel'], L.baseModel) &&
    isStr(v['method'], L.method) &&
    isOneOf(v['state'], JOB_STATES) &&
    isStrOrNull(v['reason'], L.reason) &&
    isNum(v['created']) &&
    isNumOrNull(v['ended']) &&
    isInt(v['step'], 0) &&
    (v['totalSteps'] === null || isInt(v['totalSteps'], 0)) &&
    isNumOrNull(v['etaSeconds']) &&
    isStrOrNull(v['device'], L.device) &&
    isStrOrNull(v['precision'], L.device) &&
    isStrOrNull(v['where'], L.where) &&
    isBool(v['past']) &&
    isBool(v['hasAdapter']) &&
    isStrOrNull(v['downloading'], L.logLine) &&
    isBool(v['hasTensorBoard'])
  );
}

function isLogLine(v: unknown): v is string {
  return isStr(v, L.logLine);
}

const HOST_TYPES = ['jobs', 'job', 'update', 'focus'] as const;

export function parseDashboardHostMessage(raw: unknown): DashboardHostMessage | null {
  const type = messageType(raw, HOST_TYPES);
  if (type === null) return null;
  const m = raw as Obj;
  switch (type) {
    case 'jobs':
      return hasOnlyKeys(m, ['type', 'jobs']) && isArrayOf(m['jobs'], isJobSummary, L.jobs)
        ? (m as unknown as JobsMessage)
        : null;
    case 'job':
      return hasOnlyKeys(m, ['type', 'job', 'points', 'logs']) &&
        isJobSummary(m['job']) &&
        isArrayOf(m['points'], isDashboardPoint, L.points) &&
        isArrayOf(m['logs'], isLogLine, L.logLines)
        ? (m as unknown as JobDetailMessage)
        : null;
    case 'update':
      return hasOnlyKeys(m, ['type', 'job', 'pointsFrom', 'points', 'logs']) &&
        isJobSummary(m['job']) &&
        isInt(m['pointsFrom'], 0, L.points) &&
        isArrayOf(m['points'], isDashboardPoint, L.points) &&
        (m['logs'] === null || isArrayOf(m['logs'], isLogLine, L.logLines))
        ? (m as unknown as JobUpdateMessage)
        : null;
    case 'focus':
      return hasOnlyKeys(m, ['type', 'target', 'jobId']) && isJobKeyFields(m) ? (m as unknown as FocusMessage) : null;
  }
}

const WEBVIEW_TYPES = ['ready', 'watch', 'cancel', 'openAdapter', 'openTensorBoard'] as const;

export function parseDashboardWebviewMessage(raw: unknown): DashboardWebviewMessage | null {
  const type = messageType(raw, WEBVIEW_TYPES);
  if (type === null) return null;
  const m = raw as Obj;
  switch (type) {
    case 'ready':
      return hasOnlyKeys(m, ['type']) ? { type } : null;
    case 'watch':
      return hasOnlyKeys(m, ['type', 'jobs']) && isArrayOf(m['jobs'], isJobKey, L.watched)
        ? { type, jobs: m['jobs'].map((k) => ({ target: k.target, jobId: k.jobId })) }
        : null;
    case 'cancel':
    case 'openAdapter':
    case 'openTensorBoard':
      return hasOnlyKeys(m, ['type', 'target', 'jobId']) && isJobKeyFields(m)
        ? { type, target: m['target'] as string, jobId: m['jobId'] as string }
        : null;
  }
}

/** The dashboard's persisted webview state: what was selected and compared. */
export interface DashboardState {
  selected: JobKey | null;
  compared: JobKey[];
}

export function parseDashboardState(raw: unknown): DashboardState | null {
  if (!isObj(raw) || !hasOnlyKeys(raw, ['selected', 'compared'])) return null;
  const selected = raw['selected'];
  if (!(selected === null || isJobKey(selected))) return null;
  if (!isArrayOf(raw['compared'], isJobKey, L.watched)) return null;
  return { selected, compared: raw['compared'] };
}

export function sameJob(a: JobKey, b: JobKey): boolean {
  return a.target === b.target && a.jobId === b.jobId;
}

export function jobKeyString(k: JobKey): string {
  return `${k.target}\u0000${k.jobId}`;
}
