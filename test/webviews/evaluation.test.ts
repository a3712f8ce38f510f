// The evaluation view's bundle in headless chromium behind the real CSP'd shell: the summary per model, the
// example table sorted by regression and filtered, row actions posted as valid messages by example index and
// model name, hostile text kept as text, malformed messages ignored, and the controls kept across a reload.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { ExampleRow, Metrics, ModelSummary, ResultsMessage } from '../../webviews/src/protocol/evaluation';
import {
  parseEvaluationState,
  parseEvaluationWebviewMessage,
  regressionOf,
  visibleRows,
} from '../../webviews/src/protocol/evaluation';
import { browserTier } from '../needs';
import { launchBrowser, openWebview } from './harness';
import type { OpenedWebview } from './harness';

const XSS = `<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>`;

function metrics(rougeL: number, loss: number, exact = 0, judge: number | null = null): Metrics {
  return { loss, rougeL, bleu: rougeL * 100, exactMatch: exact, judge };
}

const MODELS: ModelSummary[] = [
  { name: 'base', adapter: null, metrics: metrics(0.2, 3.1) },
  { name: 'run-1', adapter: '/w/out/adapter', metrics: metrics(0.6, 0.9, 0.5) },
];

function row(example: number, base: number, adapter: number, over: Partial<ExampleRow> = {}): ExampleRow {
  return {
    example,
    source: `train.jsonl:${example + 1}`,
    prompt: `user: question ${example}`,
    reference: `answer ${example}`,
    answers: [
      { answer: `base says ${example}`, metrics: metrics(base, 3) },
      { answer: `adapter says ${example}`, metrics: metrics(adapter, 1) },
    ],
    ...over,
  };
}

// Example 1 regressed most (0.9 -> 0.1), example 3 a little (0.5 -> 0.4); 0 and 2 improved.
const ROWS = [row(0, 0.1, 0.9), row(1, 0.9, 0.1), row(2, 0.0, 1.0), row(3, 0.5, 0.4)];

function results(over: Partial<ResultsMessage> = {}): ResultsMessage {
  return {
    type: 'results',
    title: 'tiny/eval: 4 example(s), 2 model(s)',
    models: MODELS,
    examples: ROWS,
    note: null,
    ...over,
  };
}

async function shownExamples(view: OpenedWebview): Promise<number[]> {
  return (await view.page.evaluate(
    '[...document.querySelectorAll("[data-testid=examples] tbody tr")].map((tr) => Number(tr.dataset.example))',
  )) as number[];
}

describe('evaluation webview', browserTier, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser.close();
  });

  it('shows the summary per model and the examples sorted by regression, filtered by text and to regressions', async () => {
    const view = await openWebview(browser, 'evaluation');
    await view.waitForPosted((m) => m['type'] === 'ready');
    await view.send(results());
    const page = view.page;
    assert.equal(await page.textContent('[data-testid="title"]'), 'tiny/eval: 4 example(s), 2 model(s)');
    assert.equal(
      await page.textContent('[data-testid="summary"] tr[data-model="base"] [data-metric="rougeL"]'),
      '0.2000',
    );
    assert.equal(
      await page.textContent('[data-testid="summary"] tr[data-model="run-1"] [data-metric="rougeL"]'),
      '0.6000 (+0.4000)',
    );
    assert.equal(
      await page.textContent('[data-testid="summary"] tr[data-model="run-1"] [data-metric="loss"]'),
      '0.9000 (−2.2000)',
    );
    assert.equal(
      await page.$('[data-testid="summary"] [data-metric="judge"]'),
      null,
      'no judge column without a judge',
    );
    // Default sort: the worst regression first, then the smaller one, then the rest in example order.
    assert.deepEqual(await shownExamples(view), [1, 3, 0, 2]);
    assert.equal(await page.getAttribute('tr[data-example="1"]', 'class'), 'regression');
    assert.equal(await page.getAttribute('tr[data-example="0"]', 'class'), null);
    assert.match(
      (await page.textContent('tr[data-example="1"] td[data-model="run-1"] .metrics')) ?? '',
      /ROUGE-L 0\.100/,
    );

    await page.check('#regressions');
    assert.deepEqual(await shownExamples(view), [1, 3]);
    assert.equal(await page.textContent('[data-testid="count"]'), '2 of 4 example(s)');
    await page.uncheck('#regressions');
    await page.fill('#filter', 'QUESTION 2');
    assert.deepEqual(await shownExamples(view), [2]);
    await page.fill('#filter', 'adapter says');
    await page.selectOption('#sort', 'example');
    assert.deepEqual(await shownExamples(view), [0, 1, 2, 3]);
    assert.deepEqual(parseEvaluationState(await view.savedState()), {
      filter: 'adapter says',
      regressionsOnly: false,
      sort: 'example',
    });
    assert.deepEqual(await view.cspViolations(), []);
    assert.deepEqual(view.pageErrors, []);
    await view.close();
  });

  it('posts row actions by example index and model name, and shows the outcome', async () => {
    const view = await openWebview(browser, 'evaluation');
    await view.send(results());
    const page = view.page;
    await page.click('tr[data-example="3"] [data-action="open"]');
    const open = await view.waitForPosted((m) => m['type'] === 'openSource');
    assert.deepEqual(parseEvaluationWebviewMessage(open), { type: 'openSource', example: 3 });

    await page.click('tr[data-example="3"] td[data-model="run-1"] [data-action="export-record"]');
    const record = await view.waitForPosted((m) => m['type'] === 'exportRecord');
    assert.deepEqual(parseEvaluationWebviewMessage(record), { type: 'exportRecord', example: 3, model: 'run-1' });

    // Example 3: the base's answer scored higher, so it is the chosen one.
    await page.click('tr[data-example="3"] [data-action="export-pair"]');
    const pair = await view.waitForPosted((m) => m['type'] === 'exportPair');
    assert.deepEqual(parseEvaluationWebviewMessage(pair), {
      type: 'exportPair',
      example: 3,
      chosen: 'base',
      rejected: 'run-1',
    });
    await page.click('tr[data-example="2"] [data-action="export-pair"]');
    const other = await view.waitForPosted((m) => m['type'] === 'exportPair' && m['example'] === 2);
    assert.deepEqual([other['chosen'], other['rejected']], ['run-1', 'base']);

    await view.send({ type: 'exported', ok: false, message: 'Export failed: read-only file' });
    assert.equal(await page.textContent('[data-testid="status"]'), 'Export failed: read-only file');
    assert.equal(await page.getAttribute('[data-testid="status"]', 'class'), 'status error');
    await view.send({ type: 'exported', ok: true, message: 'Exported a record answered by run-1 from example 4.' });
    assert.equal(await page.getAttribute('[data-testid="status"]', 'class'), 'status');
    await view.close();
  });

  it('keeps hostile text as text, shows a judge column, and ignores malformed messages', async () => {
    const view = await openWebview(browser, 'evaluation', {
      state: { filter: '', regressionsOnly: true, sort: 'loss' },
    });
    const page = view.page;
    assert.equal(await page.isChecked('#regressions'), true, 'controls restored from the saved state');
    const hostile = row(0, 0.5, 0.2, {
      prompt: `user: ${XSS}`,
      reference: XSS,
      source: XSS,
      answers: [
        { answer: XSS, metrics: metrics(0.5, 2, 0, 7) },
        { answer: `${XSS}!`, metrics: metrics(0.2, 1, 0, 3) },
      ],
    });
    const judged = MODELS.map((m, i) => ({ ...m, metrics: { ...m.metrics, judge: i === 0 ? 6 : 8 } }));
    await view.send(results({ models: judged, examples: [hostile], note: `${XSS} note` }));
    assert.equal(await page.textContent('[data-testid="note"]'), `${XSS} note`);
    assert.equal(await page.textContent('tr[data-example="0"] td[data-model="base"] .text'), XSS);
    assert.equal(await page.evaluate('document.querySelectorAll("img, script:not([nonce])").length'), 0);
    assert.equal(await page.evaluate('window.__xss'), undefined);
    assert.equal(
      await page.textContent('[data-testid="summary"] tr[data-model="run-1"] [data-metric="judge"]'),
      '8.00 (+2.00)',
    );
    assert.match((await page.textContent('tr[data-example="0"] td[data-model="run-1"] .metrics')) ?? '', /judge 3\.0/);

    const before = await shownExamples(view);
    for (const bad of [
      { type: 'results', title: 't', models: MODELS, examples: [{ ...ROWS[0], answers: [null] }], note: null },
      { type: 'results', title: 't', models: MODELS, examples: ROWS, note: null, html: '<b>' },
      {
        type: 'results',
        title: 't',
        models: [{ name: '', adapter: null, metrics: MODELS[0]!.metrics }],
        examples: [],
        note: null,
      },
      { type: 'exported', ok: 'yes', message: 'x' },
      { type: 'script', code: 'window.__xss = 3' },
    ]) {
      await view.send(bad);
    }
    assert.deepEqual(await shownExamples(view), before);
    assert.equal(await page.textContent('[data-testid="status"]'), '');
    assert.deepEqual(view.pageErrors, []);
    await view.close();
  });

  it('refuses malformed webview messages on the host side', () => {
    for (const bad of [
      { type: 'openSource', example: -1 },
      { type: 'openSource', example: 1.5 },
      { type: 'openSource', example: 1, path: '/etc/passwd' },
      { type: 'exportRecord', example: 0, model: '' },
      { type: 'exportPair', example: 0, chosen: 'base', rejected: 'base' },
      { type: 'exportPair', example: 0, chosen: 'base' },
      { type: 'run', command: 'rm -rf /' },
      null,
      'ready',
    ]) {
      assert.equal(parseEvaluationWebviewMessage(bad), null, JSON.stringify(bad));
    }
    assert.deepEqual(parseEvaluationWebviewMessage({ type: 'ready' }), { type: 'ready' });
    // The pure ordering the view uses, without a browser.
    assert.ok(regressionOf(ROWS[1]!, MODELS) > regressionOf(ROWS[3]!, MODELS));
    assert.equal(regressionOf(ROWS[0]!, MODELS), 0);
    assert.deepEqual(
      visibleRows(ROWS, MODELS, { filter: '', regressionsOnly: false, sort: 'loss' }).map((r) => r.example),
      [0, 1, 2, 3],
      'equal adapter losses keep example order',
    );
  });
});
