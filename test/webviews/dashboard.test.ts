// The job dashboard's bundle in headless chromium behind the real CSP'd shell: it draws a job fed point
// by point, posts valid cancel/watch messages, keeps hostile text as text and ignores malformed input.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { DashboardPoint, JobSummary } from '../../webviews/src/protocol/dashboard';
import { parseDashboardHostMessage, parseDashboardWebviewMessage } from '../../webviews/src/protocol/dashboard';
import { browserTier } from '../needs';
import { launchBrowser, openWebview } from './harness';
import type { OpenedWebview } from './harness';

const XSS = `<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>`;

function summary(over: Partial<JobSummary> = {}): JobSummary {
  return {
    target: 'local',
    jobId: 'job-1',
    name: 'tiny run',
    baseModel: 'builtin:tiny-llama',
    method: 'lora',
    state: 'running',
    reason: null,
    created: 1_700_000_000,
    ended: null,
    step: 0,
    totalSteps: 20,
    etaSeconds: 30,
    device: 'cpu',
    precision: 'fp32',
    where: null,
    past: false,
    hasAdapter: false,
    downloading: null,
    hasTensorBoard: false,
    ...over,
  };
}

function point(step: number, over: Partial<DashboardPoint> = {}): DashboardPoint {
  return {
    step,
    time: 1_700_000_000 + step,
    epoch: step / 20,
    loss: 3 - step * 0.05,
    evalLoss: null,
    learningRate: 2e-4 * (1 - step / 20),
    tokensPerSecond: 500 + step,
    gpuMemoryGb: null,
    ...over,
  };
}

async function lossPointsDrawn(view: OpenedWebview): Promise<number> {
  return Number(await view.page.getAttribute('[data-testid="loss-chart"]', 'data-points'));
}

describe('dashboard webview', browserTier, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser.close();
  });

  it('asks for its jobs, draws a job fed point by point and posts a valid cancel', async () => {
    const view = await openWebview(browser, 'dashboard');
    await view.waitForPosted((m) => m['type'] === 'ready');
    await view.send({ type: 'jobs', jobs: [summary()] });
    // With nothing selected before, the running job is selected and watched.
    const watch = await view.waitForPosted(
      (m) => m['type'] === 'watch' && Array.isArray(m['jobs']) && m['jobs'].length === 1,
    );
    assert.deepEqual(parseDashboardWebviewMessage(watch), {
      type: 'watch',
      jobs: [{ target: 'local', jobId: 'job-1' }],
    });
    await view.send({ type: 'job', job: summary(), points: [], logs: ['start: builtin:tiny-llama on cpu'] });
    assert.equal(await lossPointsDrawn(view), 0);

    const seen: number[] = [];
    for (let step = 1; step <= 5; step++) {
      const points = [point(step, step === 5 ? { evalLoss: 2.9 } : {})];
      await view.send({ type: 'update', job: summary({ step }), pointsFrom: step - 1, points, logs: null });
      seen.push(await lossPointsDrawn(view));
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    const polylinePoints = await view.page.evaluate(
      '[...document.querySelectorAll(\'[data-testid="loss-chart"] polyline\')].map((l) => l.points.numberOfItems)',
    );
    assert.deepEqual(polylinePoints, [5, 1], 'train loss and eval loss lines');
    assert.equal(await view.page.textContent('[data-stat="step"] .tile-value'), '5 / 20');
    assert.equal(await view.page.textContent('[data-stat="where"] .tile-value'), '—');
    const where = 'ray on gpu-node-3 · GPU 0 (running)';
    await view.send({ type: 'update', job: summary({ step: 5, where }), pointsFrom: 5, points: [], logs: null });
    await view.page.waitForFunction(
      `document.querySelector('[data-stat="where"] .tile-value')?.textContent === ${JSON.stringify(where)}`,
    );
    assert.match((await view.page.textContent('[data-testid="job-state"]')) ?? '', /running 25%/);
    assert.equal(await view.page.textContent('[data-testid="job-log"]'), 'start: builtin:tiny-llama on cpu');

    await view.page.click('[data-action="cancel"]');
    const cancel = await view.waitForPosted((m) => m['type'] === 'cancel');
    assert.deepEqual(parseDashboardWebviewMessage(cancel), { type: 'cancel', target: 'local', jobId: 'job-1' });

    // A resent window of points (pointsFrom before the end) replaces the tail instead of duplicating it.
    await view.send({
      type: 'update',
      job: summary({ step: 6 }),
      pointsFrom: 4,
      points: [point(5), point(6)],
      logs: null,
    });
    assert.equal(await lossPointsDrawn(view), 6);
    await view.send({
      type: 'update',
      job: summary({ state: 'cancelled', reason: 'cancelled by user', step: 6 }),
      pointsFrom: 6,
      points: [],
      logs: null,
    });
    assert.equal(await view.page.isVisible('[data-action="cancel"]'), false);
    assert.deepEqual(view.pageErrors, []);
    assert.deepEqual(await view.cspViolations(), []);
    await view.close();
  });

  it('tightens a scale set by a flat start: a learning rate warming up from 0 fills its chart', async () => {
    const view = await openWebview(browser, 'dashboard');
    await view.waitForPosted((m) => m['type'] === 'ready');
    await view.send({ type: 'jobs', jobs: [summary()] });
    await view.send({ type: 'job', job: summary(), points: [point(1, { learningRate: 0 })], logs: [] });
    for (let step = 2; step <= 10; step++) {
      const points = [point(step, { learningRate: 1e-2 * Math.min(1, step / 3) })];
      await view.send({ type: 'update', job: summary({ step }), pointsFrom: step - 1, points, logs: null });
    }
    const ticks = (await view.page.evaluate(
      '[...document.querySelectorAll(\'[data-testid="lr-chart"] text\')].map((t) => t.textContent)',
    )) as string[];
    const values = ticks.map(Number).filter((v) => Number.isFinite(v));
    // The y ticks span about the data (0 .. 0.01), not the ±1 a first point of 0 suggests.
    assert.ok(Math.max(...values.filter((v) => v < 1)) <= 0.02, ticks.join(' '));
    assert.ok(!ticks.includes('-1'), ticks.join(' '));
    await view.close();
  });

  it('draws the reward margin and accuracy of a preference run, and hides the chart for sft', async () => {
    const view = await openWebview(browser, 'dashboard');
    await view.waitForPosted((m) => m['type'] === 'ready');
    await view.send({ type: 'jobs', jobs: [summary()] });
    await view.send({ type: 'job', job: summary(), points: [point(1)], logs: [] });
    assert.equal(await view.page.isVisible('[data-testid="reward-chart"]'), false);
    for (let step = 2; step <= 6; step++) {
      const points = [point(step, { rewardMargin: step * 0.5, rewardAccuracy: Math.min(1, step / 4) })];
      await view.send({ type: 'update', job: summary({ step }), pointsFrom: step - 1, points, logs: null });
    }
    assert.equal(await view.page.isVisible('[data-testid="reward-chart"]'), true);
    assert.equal(await view.page.getAttribute('[data-testid="reward-chart"]', 'data-points'), '5');
    const lines = await view.page.evaluate(
      '[...document.querySelectorAll(\'[data-testid="reward-chart"] polyline\')].map((l) => l.points.numberOfItems)',
    );
    assert.deepEqual(lines, [5, 5], 'reward margin and reward accuracy lines');
    // A malformed reward value is refused with the whole message.
    assert.equal(
      parseDashboardHostMessage({
        type: 'update',
        job: summary({ step: 7 }),
        pointsFrom: 6,
        points: [point(7, { rewardMargin: 'high' as unknown as number })],
        logs: null,
      }),
      null,
    );
    assert.deepEqual(view.pageErrors, []);
    assert.deepEqual(await view.cspViolations(), []);
    await view.close();
  });

  it('renders hostile names, reasons and log lines as text', async () => {
    const view = await openWebview(browser, 'dashboard');
    await view.waitForPosted((m) => m['type'] === 'ready');
    const hostile = summary({ name: XSS, reason: XSS, state: 'failed', baseModel: XSS, where: XSS });
    await view.send({ type: 'jobs', jobs: [hostile] });
    await view.send({
      type: 'job',
      job: hostile,
      points: [point(1)],
      logs: [XSS, `[x](command:workbench.action.terminal.new)`],
    });
    await view.page.waitForTimeout(100);
    assert.equal(await view.page.evaluate('document.querySelectorAll("img, script:not([nonce])").length'), 0);
    assert.equal(await view.page.evaluate('window.__xss'), undefined);
    assert.equal(await view.page.evaluate('document.querySelectorAll("a").length'), 0);
    assert.equal(await view.page.textContent('[data-testid="job-list"] .job-name'), XSS);
    assert.equal(await view.page.textContent('[data-testid="job-reason"]'), XSS);
    assert.ok(((await view.page.textContent('[data-testid="job-log"]')) ?? '').includes(XSS));
    assert.deepEqual(view.pageErrors, []);
    await view.close();
  });

  it('shows a download in progress and posts openTensorBoard for a job that reports to TensorBoard', async () => {
    const view = await openWebview(browser, 'dashboard');
    await view.waitForPosted((m) => m['type'] === 'ready');
    const downloading = 'downloading org/model 42% (2/6 files) · ETA 1m 05s';
    await view.send({ type: 'jobs', jobs: [summary({ downloading })] });
    await view.send({ type: 'job', job: summary({ downloading }), points: [], logs: [] });
    await view.page.waitForSelector('[data-testid="job-download"]:not([hidden])');
    assert.equal(await view.page.textContent('[data-testid="job-download"]'), downloading);
    assert.equal(await view.page.isHidden('[data-action="open-tensorboard"]'), true);
    const trained = summary({ state: 'done', hasTensorBoard: true });
    await view.send({ type: 'job', job: trained, points: [], logs: [] });
    await view.page.waitForSelector('[data-action="open-tensorboard"]:not([hidden])');
    assert.equal(await view.page.isHidden('[data-testid="job-download"]'), true);
    await view.page.click('[data-action="open-tensorboard"]');
    const posted = await view.waitForPosted((m) => m['type'] === 'openTensorBoard');
    assert.deepEqual(parseDashboardWebviewMessage(posted), {
      type: 'openTensorBoard',
      target: 'local',
      jobId: 'job-1',
    });
  });

  it('ignores malformed host messages', async () => {
    const view = await openWebview(browser, 'dashboard');
    await view.waitForPosted((m) => m['type'] === 'ready');
    const bad: unknown[] = [
      { type: 'jobs', jobs: [summary({ jobId: '../../etc' })] },
      { type: 'jobs', jobs: [summary()], extra: 1 },
      { type: 'jobs', jobs: [{ ...summary(), html: '<b>x</b>' }] },
      { type: 'jobs', jobs: [summary({ name: 'x'.repeat(10_000) })] },
      { type: 'jobs', jobs: [summary({ state: 'exploded' as never })] },
      { type: 'job', job: summary(), points: [{ ...point(1), loss: 'NaN' }], logs: [] },
      { type: 'eval', code: 'window.__xss = 3' },
      'jobs',
      null,
    ];
    for (const message of bad) await view.send(message);
    await view.page.waitForTimeout(100);
    assert.equal(await view.page.locator('[data-testid="job-list"] [data-job-id]').count(), 0);
    assert.equal(await view.page.evaluate('window.__xss'), undefined);
    // A valid message after all that still works.
    await view.send({ type: 'jobs', jobs: [summary()] });
    await view.page.waitForSelector('[data-testid="job-list"] [data-job-id="job-1"]');
    await view.close();
  });

  it('overlays ticked runs and keeps selection and comparison across a reload', async () => {
    const runs = [
      summary({ jobId: 'run-a', name: 'run a', state: 'done', past: true, created: 1 }),
      summary({ jobId: 'run-b', name: 'run b', state: 'done', past: true, created: 2 }),
    ];
    const view = await openWebview(browser, 'dashboard');
    await view.waitForPosted((m) => m['type'] === 'ready');
    await view.send({ type: 'jobs', jobs: runs });
    for (const run of runs) {
      await view.send({ type: 'job', job: run, points: [point(1), point(2), point(3)], logs: [] });
    }
    await view.page.click('[data-job-id="run-a"] vscode-checkbox');
    await view.page.click('[data-job-id="run-b"] vscode-checkbox');
    const watch = await view.waitForPosted((m) => m['type'] === 'watch' && (m['jobs'] as unknown[]).length === 2);
    assert.ok(parseDashboardWebviewMessage(watch));
    // run-b (newest) is selected: its own loss line plus run-a's overlay.
    const legend = await view.page.$$eval('[data-testid="loss-chart"] .chart-legend-item:not([hidden])', (items) =>
      items.map((i) => i.textContent),
    );
    assert.deepEqual(legend, ['train loss', 'run a'], 'no eval line without eval points');
    const state = await view.savedState();
    assert.deepEqual(state, {
      selected: { target: 'local', jobId: 'run-b' },
      compared: [
        { target: 'local', jobId: 'run-a' },
        { target: 'local', jobId: 'run-b' },
      ],
    });
    await view.close();

    const reloaded = await openWebview(browser, 'dashboard', { state });
    const rewatch = await reloaded.waitForPosted((m) => m['type'] === 'watch');
    assert.deepEqual(
      (rewatch['jobs'] as { jobId: string }[]).map((j) => j.jobId),
      ['run-b', 'run-a'],
    );
    await reloaded.close();
  });
});

describe('dashboard protocol (host side)', () => {
  it('refuses hostile webview messages and accepts well-formed ones', () => {
    const hostile: unknown[] = [
      { type: 'cancel', target: 'local', jobId: '../../etc/passwd' },
      { type: 'cancel', target: 'local', jobId: 'a'.repeat(65) },
      { type: 'cancel', target: 'local', jobId: '-leading-dash' },
      { type: 'cancel', target: '', jobId: 'job-1' },
      { type: 'cancel', target: 'local', jobId: 'job-1', command: 'workbench.action.terminal.new' },
      JSON.parse('{"type":"cancel","target":"local","jobId":"job-1","__proto__":{"polluted":true}}'),
      { type: 'openAdapter', target: 'local', jobId: 'job 1' },
      { type: 'openTensorBoard', target: 'local', jobId: 'job-1', logdir: '/etc' },
      { type: 'openTensorBoard', target: 'local' },
      { type: 'watch', jobs: Array.from({ length: 17 }, (_, i) => ({ target: 'local', jobId: `j${i}` })) },
      { type: 'watch', jobs: [{ target: 'local', jobId: 'job-1', path: '/etc' }] },
      { type: 'ready', extra: 1 },
      { type: 'executeCommand', command: 'workbench.action.terminal.new' },
      { type: ['cancel'] },
      'cancel',
      null,
      [],
    ];
    for (const message of hostile) assert.equal(parseDashboardWebviewMessage(message), null, JSON.stringify(message));
    assert.deepEqual(parseDashboardWebviewMessage({ type: 'cancel', target: 'gpu-box', jobId: 'A_job-9' }), {
      type: 'cancel',
      target: 'gpu-box',
      jobId: 'A_job-9',
    });
    assert.deepEqual(parseDashboardWebviewMessage({ type: 'ready' }), { type: 'ready' });
    assert.deepEqual(parseDashboardWebviewMessage({ type: 'openTensorBoard', target: 'local', jobId: 'job-1' }), {
      type: 'openTensorBoard',
      target: 'local',
      jobId: 'job-1',
    });
  });
});
