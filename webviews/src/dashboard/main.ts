// The job dashboard: the jobs of every target and the workspace's past runs, the selected job's live
// curves, stats, log and Cancel, and loss curves of ticked runs overlaid for comparison.
// Everything from the host is text: names, reasons and log lines go through textContent only.
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '../shared/base.css';
import './dashboard.css';
import type {
  DashboardHostMessage,
  DashboardPoint,
  DashboardState,
  DashboardWebviewMessage,
  JobKey,
  JobSummary,
} from '../protocol/dashboard';
import {
  DASHBOARD_LIMITS,
  jobKeyString,
  parseDashboardHostMessage,
  parseDashboardState,
  sameJob,
} from '../protocol/dashboard';
import { LineChart } from '../shared/chart';
import { el, formatDuration, formatNumber } from '../shared/dom';
import { loadState, onHostMessage, post, saveState } from '../shared/vscode';

interface JobData {
  points: DashboardPoint[];
  logs: string[];
}

const send = (m: DashboardWebviewMessage) => post(m);

const jobs = new Map<string, JobSummary>();
const data = new Map<string, JobData>();
const rows = new Map<string, HTMLElement>();
const restored = loadState(parseDashboardState);
let selected: JobKey | null = restored?.selected ?? null;
let compared: JobKey[] = restored?.compared ?? [];

// Layout.
const app = document.getElementById('app')!;
const listPane = el('section', { class: 'list-pane' });
const listTitle = el('h2', { text: 'Jobs' });
const jobList = el('div', { class: 'job-list', role: 'list', 'data-testid': 'job-list' });
const listEmpty = el('p', { class: 'muted', text: 'No jobs yet. Run “ModelFactory: Train” on a fine-tune config.' });
const compareHint = el('p', { class: 'muted small', text: 'Tick two or more runs to compare their loss curves.' });
listPane.append(listTitle, listEmpty, jobList, compareHint);

const detail = el('section', { class: 'detail-pane' });
const header = el('header', { class: 'detail-header' });
const title = el('h2', { class: 'job-title', 'data-testid': 'job-title', text: 'No job selected' });
const stateBadge = el('vscode-badge', { 'data-testid': 'job-state' });
const cancelButton = el('vscode-button', { 'data-action': 'cancel', secondary: '' }, 'Cancel');
const adapterButton = el('vscode-button', { 'data-action': 'open-adapter', secondary: '' }, 'Open adapter folder');
const tensorboardButton = el('vscode-button', { 'data-action': 'open-tensorboard', secondary: '' }, 'TensorBoard');
header.append(title, stateBadge, cancelButton, adapterButton, tensorboardButton);
const subtitle = el('p', { class: 'muted', 'data-testid': 'job-subtitle' });
const reasonBox = el('p', { class: 'reason', 'data-testid': 'job-reason' });
const tiles = el('div', { class: 'tiles', 'data-testid': 'stats' });
const tileValues = new Map<string, HTMLElement>();
for (const [key, label] of [
  ['step', 'Step'],
  ['loss', 'Loss'],
  ['evalLoss', 'Eval loss'],
  ['tokens', 'Tokens/s'],
  ['gpu', 'GPU memory'],
  ['eta', 'ETA'],
  ['device', 'Device / precision'],
  ['where', 'Runs on'],
] as const) {
  const value = el('div', { class: 'tile-value', text: '—' });
  tiles.append(el('div', { class: 'tile', 'data-stat': key }, el('div', { class: 'tile-label', text: label }), value));
  tileValues.set(key, value);
}
const lossChart = new LineChart({ title: 'Loss', height: 220, emptyText: 'No loss points yet' });
lossChart.element.dataset['testid'] = 'loss-chart';
lossChart.element.dataset['points'] = '0';
const lrChart = new LineChart({ title: 'Learning rate', height: 140, emptyText: 'No learning-rate points yet' });
lrChart.element.dataset['testid'] = 'lr-chart';
// Preference objectives (dpo, orpo, kto) log TRL's reward margin and accuracy; the chart shows while a run has them.
const rewardChart = new LineChart({
  title: 'Reward margin / accuracy',
  height: 160,
  emptyText: 'No reward points yet',
});
rewardChart.element.dataset['testid'] = 'reward-chart';
rewardChart.element.hidden = true;
const logTitle = el('h3', { text: 'Events' });
const logList = el('ol', { class: 'log', 'data-testid': 'job-log' });
const downloadBox = el('p', { class: 'download', 'data-testid': 'job-download' });
detail.append(
  header,
  subtitle,
  reasonBox,
  downloadBox,
  tiles,
  lossChart.element,
  lrChart.element,
  rewardChart.element,
  logTitle,
  logList,
);
app.replaceChildren(listPane, detail);
app.removeAttribute('aria-busy');

const LOSS = 'loss';
const EVAL = 'eval';
const LR = 'lr';
const MARGIN = 'margin';
const ACCURACY = 'accuracy';

function key(k: JobKey): string {
  return jobKeyString(k);
}

function persist(): void {
  const state: DashboardState = { selected, compared };
  saveState(state);
}

/** The jobs whose curves are on screen: the selected one and the ticked ones. */
function watchSet(): JobKey[] {
  const all = selected ? [selected, ...compared] : [...compared];
  const seen = new Set<string>();
  return all.filter((k) => !seen.has(key(k)) && seen.add(key(k))).slice(0, DASHBOARD_LIMITS.watched);
}

function sendWatch(): void {
  send({ type: 'watch', jobs: watchSet().map((k) => ({ target: k.target, jobId: k.jobId })) });
}

function stateLabel(job: JobSummary): string {
  return job.state === 'running' && job.totalSteps
    ? `running ${Math.floor((100 * job.step) / job.totalSteps)}%`
    : job.state;
}

function renderRow(job: JobSummary): void {
  const k = key(job);
  let row = rows.get(k);
  if (!row) {
    const check = el('vscode-checkbox', {
      'data-action': 'compare',
      title: 'Compare this run',
      'aria-label': 'Compare this run',
    });
    check.addEventListener('click', (e) => e.stopPropagation());
    check.addEventListener('change', () => toggleCompare(job, (check as HTMLElement & { checked: boolean }).checked));
    row = el(
      'div',
      { class: 'job-row', role: 'listitem', tabindex: '0', 'data-job-id': job.jobId, 'data-target': job.target },
      check,
      el(
        'div',
        { class: 'job-main' },
        el('div', { class: 'job-line' }, el('span', { class: 'job-name' }), el('vscode-badge', { class: 'job-badge' })),
        el('div', { class: 'job-meta muted small' }),
        el('vscode-progress-bar', { class: 'job-progress' }),
        el('div', { class: 'job-reason small' }),
      ),
    );
    row.addEventListener('click', () => select(job));
    row.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        select(job);
      }
    });
    rows.set(k, row);
  }
  row.querySelector('.job-name')!.textContent = job.name || job.jobId;
  const badge = row.querySelector('.job-badge')!;
  badge.textContent = stateLabel(job);
  badge.setAttribute('data-state', job.state);
  row.querySelector('.job-meta')!.textContent = [
    job.past ? 'past run' : job.target,
    job.baseModel,
    job.method,
    new Date(job.created * 1000).toLocaleString(),
  ]
    .filter(Boolean)
    .join(' · ');
  const progress = row.querySelector('vscode-progress-bar') as HTMLElement & { value?: number; max: number };
  progress.hidden = job.state !== 'running' || !job.totalSteps;
  if (job.totalSteps) {
    progress.max = job.totalSteps;
    progress.value = job.step;
  }
  const reason = row.querySelector('.job-reason') as HTMLElement;
  reason.textContent = job.reason ?? '';
  reason.hidden = job.reason === null || (job.state !== 'failed' && job.state !== 'cancelled');
  row.classList.toggle('selected', selected !== null && sameJob(selected, job));
  (row.querySelector('vscode-checkbox') as HTMLElement & { checked: boolean }).checked = compared.some((c) =>
    sameJob(c, job),
  );
}

function renderList(): void {
  const ordered = [...jobs.values()].sort((a, b) => b.created - a.created);
  const wanted = new Set(ordered.map(key));
  for (const [k, row] of rows) {
    if (!wanted.has(k)) {
      row.remove();
      rows.delete(k);
    }
  }
  for (const job of ordered) renderRow(job);
  jobList.replaceChildren(...ordered.map((j) => rows.get(key(j))!));
  listEmpty.hidden = ordered.length > 0;
}

function select(k: JobKey): void {
  selected = { target: k.target, jobId: k.jobId };
  cancelButton.removeAttribute('disabled');
  persist();
  for (const [rk, row] of rows) row.classList.toggle('selected', rk === key(k));
  drawSelected();
  sendWatch();
}

function toggleCompare(k: JobKey, on: boolean): void {
  compared = compared.filter((c) => !sameJob(c, k));
  if (on) compared.push({ target: k.target, jobId: k.jobId });
  compared = compared.slice(-(DASHBOARD_LIMITS.watched - 1));
  persist();
  drawComparisons();
  sendWatch();
}

function lossPoints(points: DashboardPoint[]): [number, number][] {
  return points.filter((p) => p.loss !== null).map((p) => [p.step, p.loss!]);
}
function evalPoints(points: DashboardPoint[]): [number, number][] {
  return points.filter((p) => p.evalLoss !== null).map((p) => [p.step, p.evalLoss!]);
}
function lrPoints(points: DashboardPoint[]): [number, number][] {
  return points.filter((p) => p.learningRate !== null).map((p) => [p.step, p.learningRate!]);
}

function marginPoints(points: DashboardPoint[]): [number, number][] {
  return points.filter((p) => p.rewardMargin != null).map((p) => [p.step, p.rewardMargin!]);
}
function accuracyPoints(points: DashboardPoint[]): [number, number][] {
  return points.filter((p) => p.rewardAccuracy != null).map((p) => [p.step, p.rewardAccuracy!]);
}

function updateRewardVisibility(): void {
  const count = rewardChart.count(MARGIN) + rewardChart.count(ACCURACY);
  rewardChart.element.hidden = count === 0;
  rewardChart.element.dataset['points'] = String(rewardChart.count(MARGIN));
}

function updateLossCount(): void {
  lossChart.element.dataset['points'] = String(lossChart.count(LOSS));
}

function lastValue(points: DashboardPoint[], pick: (p: DashboardPoint) => number | null): number | null {
  for (let i = points.length - 1; i >= 0; i--) {
    const v = pick(points[i]!);
    if (v !== null) return v;
  }
  return null;
}

function renderHeader(): void {
  const job = selected ? jobs.get(key(selected)) : undefined;
  const d = selected ? data.get(key(selected)) : undefined;
  title.textContent = job ? job.name || job.jobId : selected ? selected.jobId : 'No job selected';
  stateBadge.textContent = job ? stateLabel(job) : '';
  stateBadge.hidden = !job;
  if (job) stateBadge.setAttribute('data-state', job.state);
  const cancellable = !!job && !job.past && (job.state === 'running' || job.state === 'queued');
  cancelButton.hidden = !cancellable;
  if (!cancellable) cancelButton.removeAttribute('disabled');
  adapterButton.hidden = !job?.hasAdapter;
  tensorboardButton.hidden = !job?.hasTensorBoard;
  downloadBox.textContent = job?.downloading ?? '';
  downloadBox.hidden = !job?.downloading;
  subtitle.textContent = job
    ? [job.baseModel, job.method, job.past ? 'past run' : `on ${job.target}`, job.jobId].filter(Boolean).join(' · ')
    : '';
  reasonBox.textContent = job?.reason ?? '';
  reasonBox.hidden = !job?.reason;
  const points = d?.points ?? [];
  const set = (k: string, v: string) => (tileValues.get(k)!.textContent = v);
  set('step', job ? `${job.step}${job.totalSteps ? ` / ${job.totalSteps}` : ''}` : '—');
  set(
    'loss',
    formatNumber(
      lastValue(points, (p) => p.loss),
      4,
    ),
  );
  set(
    'evalLoss',
    formatNumber(
      lastValue(points, (p) => p.evalLoss),
      4,
    ),
  );
  set(
    'tokens',
    formatNumber(
      lastValue(points, (p) => p.tokensPerSecond),
      1,
    ),
  );
  const gpu = lastValue(points, (p) => p.gpuMemoryGb);
  set('gpu', gpu !== null ? `${formatNumber(gpu, 2)} GB` : job?.device === 'cpu' ? 'CPU' : '—');
  set('eta', job?.state === 'running' && job.etaSeconds !== null ? formatDuration(job.etaSeconds) : '—');
  set('device', job ? [job.device, job.precision].filter(Boolean).join(' / ') || '—' : '—');
  set('where', job?.where ?? '—');
}

function renderLogs(): void {
  const d = selected ? data.get(key(selected)) : undefined;
  const atBottom = logList.scrollTop + logList.clientHeight >= logList.scrollHeight - 4;
  logList.replaceChildren(...(d?.logs ?? []).map((line) => el('li', { text: line })));
  if (atBottom) logList.scrollTop = logList.scrollHeight;
}

/** Redraws the selected job's own series from scratch (after a selection or a full view). */
function drawSelected(): void {
  const d = selected ? data.get(key(selected)) : undefined;
  const job = selected ? jobs.get(key(selected)) : undefined;
  lossChart.setMinXSpan(job?.totalSteps ?? 0);
  lrChart.setMinXSpan(job?.totalSteps ?? 0);
  lossChart.setSeries(LOSS, { label: 'train loss', colour: 0 }, d ? lossPoints(d.points) : []);
  lossChart.setSeries(EVAL, { label: 'eval loss', colour: 1, dashed: true }, d ? evalPoints(d.points) : []);
  lrChart.setSeries(LR, { label: 'learning rate', colour: 2 }, d ? lrPoints(d.points) : []);
  rewardChart.setMinXSpan(job?.totalSteps ?? 0);
  rewardChart.setSeries(MARGIN, { label: 'reward margin', colour: 3 }, d ? marginPoints(d.points) : []);
  rewardChart.setSeries(
    ACCURACY,
    { label: 'reward accuracy', colour: 4, dashed: true },
    d ? accuracyPoints(d.points) : [],
  );
  updateRewardVisibility();
  updateLossCount();
  drawComparisons();
  renderHeader();
  renderLogs();
}

/** One overlaid train-loss line per ticked run other than the selected one. */
function drawComparisons(): void {
  const wanted = new Map<string, JobKey>();
  for (const c of compared) if (!selected || !sameJob(c, selected)) wanted.set(`cmp:${key(c)}`, c);
  for (const id of lossChart.seriesIds()) if (id.startsWith('cmp:') && !wanted.has(id)) lossChart.removeSeries(id);
  let colour = 3;
  for (const [id, c] of wanted) {
    const d = data.get(key(c));
    const job = jobs.get(key(c));
    lossChart.setSeries(id, { label: job?.name || c.jobId, colour: colour++ }, d ? lossPoints(d.points) : []);
  }
}

function applySummary(job: JobSummary): void {
  jobs.set(key(job), job);
  if (rows.has(key(job))) renderRow(job);
  else renderList();
}

function onMessage(m: DashboardHostMessage): void {
  switch (m.type) {
    case 'jobs': {
      jobs.clear();
      for (const job of m.jobs) jobs.set(key(job), job);
      renderList();
      if (!selected && m.jobs.length > 0) {
        const running = m.jobs.find((j) => j.state === 'running');
        select(running ?? [...m.jobs].sort((a, b) => b.created - a.created)[0]!);
      } else renderHeader();
      break;
    }
    case 'job': {
      applySummary(m.job);
      data.set(key(m.job), { points: m.points, logs: m.logs });
      if (selected && sameJob(selected, m.job)) drawSelected();
      else drawComparisons();
      break;
    }
    case 'update': {
      const k = key(m.job);
      applySummary(m.job);
      const d = data.get(k);
      if (!d) return;
      const appended = m.pointsFrom === d.points.length;
      d.points = d.points.slice(0, m.pointsFrom).concat(m.points);
      if (m.logs) d.logs = m.logs;
      const isSelected = selected !== null && sameJob(selected, m.job);
      if (isSelected && appended) {
        lossChart.setMinXSpan(m.job.totalSteps ?? 0);
        lrChart.setMinXSpan(m.job.totalSteps ?? 0);
        lossChart.appendPoints(LOSS, lossPoints(m.points));
        lossChart.appendPoints(EVAL, evalPoints(m.points));
        lrChart.appendPoints(LR, lrPoints(m.points));
        rewardChart.setMinXSpan(m.job.totalSteps ?? 0);
        rewardChart.appendPoints(MARGIN, marginPoints(m.points));
        rewardChart.appendPoints(ACCURACY, accuracyPoints(m.points));
        updateRewardVisibility();
        updateLossCount();
        renderHeader();
        if (m.logs) renderLogs();
      } else if (isSelected) drawSelected();
      else if (compared.some((c) => sameJob(c, m.job))) {
        const id = `cmp:${k}`;
        if (appended && lossChart.hasSeries(id)) lossChart.appendPoints(id, lossPoints(m.points));
        else drawComparisons();
      }
      break;
    }
    case 'focus':
      select(m);
      break;
  }
}

cancelButton.addEventListener('click', () => {
  if (!selected || cancelButton.hasAttribute('disabled')) return;
  cancelButton.setAttribute('disabled', '');
  send({ type: 'cancel', target: selected.target, jobId: selected.jobId });
});
tensorboardButton.addEventListener('click', () => {
  if (selected) send({ type: 'openTensorBoard', target: selected.target, jobId: selected.jobId });
});
adapterButton.addEventListener('click', () => {
  if (selected) send({ type: 'openAdapter', target: selected.target, jobId: selected.jobId });
});

onHostMessage(parseDashboardHostMessage, onMessage);
drawSelected();
send({ type: 'ready' });
sendWatch();
