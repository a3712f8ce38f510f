// The e2e step `evaluate`: the real trainer trains the tiny model and evaluates it (base vs adapter) in a
// folder of the open workspace; the evaluation view opens on that run's results.jsonl, shows both models and
// every example, filters to regressions, and opens an example's source record at its line; the Hardest
// Records view lists the run's records (record-loss.jsonl) and opens one. Then "Evaluate on Endpoints" scores the
// adapter behind a real `serve --openai` (endpointEvalStep.ts).
import { join, relative } from 'node:path';
import { runTinyEvaluation } from '../client/tinyEvaluation';
import { evaluateOnEndpoints } from './endpointEvalStep';
import type { Step } from './run';
import { activeEditorText, frameWith, quickOpen, runCommand, waitUntil } from './workbench';

function fail(message: string): never {
  throw new Error(message);
}

export const evaluate: Step = {
  id: 'evaluate',
  async run({ page, workspace, tempRoot, shot, note }) {
    const started = Date.now();
    const run = await runTinyEvaluation(join(workspace, 'evaluation'), join(tempRoot, 'tiny-cache'));
    note(`trained and evaluated the tiny model in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    await runCommand(page, 'View: Close All Editors');
    await quickOpen(page, relative(workspace, join(run.evalDir, 'results.jsonl')));
    await runCommand(page, 'ModelFactory: Open Evaluation Results');
    const view = await frameWith(page, '[data-testid="examples"] tbody tr', 60_000);
    const models = await view
      .locator('[data-testid="summary"] tbody tr')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-model')));
    if (models.join(',') !== 'base,out') fail(`the summary lists ${models.join(', ')} (wanted base, out)`);
    const rows = await view.locator('[data-testid="examples"] tbody tr').count();
    if (rows !== 8) fail(`the table shows ${rows} examples (wanted the 8 evaluated)`);
    const rouge = async (model: string) =>
      Number(
        (
          (await view
            .locator(`[data-testid="summary"] tr[data-model="${model}"] [data-metric="rougeL"]`)
            .innerText()) ?? ''
        ).split(' ')[0],
      );
    const [baseRouge, adapterRouge] = [await rouge('base'), await rouge('out')];
    if (!(adapterRouge > baseRouge)) fail(`the adapter's ROUGE-L ${adapterRouge} is not above the base's ${baseRouge}`);
    note(`evaluation view: base and out over ${rows} examples; ROUGE-L ${baseRouge} -> ${adapterRouge}`);
    await shot();

    await view.locator('#regressions').check();
    const regressions = await view.locator('[data-testid="examples"] tbody tr').count();
    await view.locator('#regressions').uncheck();
    await view.locator('#filter').fill('plus 3');
    const filtered = await view.locator('[data-testid="examples"] tbody tr').count();
    if (filtered < 1 || filtered >= rows) fail(`filtering on "plus 3" left ${filtered} of ${rows} rows`);
    note(`${regressions} regression(s) (adapter below base); the filter "plus 3" keeps ${filtered} row(s)`);
    await shot('filtered');

    // The first shown row opens its record in train.jsonl at its line.
    const first = view.locator('[data-testid="examples"] tbody tr').first();
    const source = (await first.locator('[data-action="open"]').innerText()).trim();
    const line = Number(/^train\.jsonl:(\d+)$/.exec(source)?.[1] ?? fail(`the row's source is "${source}"`));
    await first.locator('[data-action="open"]').click();
    await page
      .locator('.editor-group-container.active .tab.active', { hasText: 'train.jsonl' })
      .waitFor({ state: 'visible', timeout: 20_000 });
    const selected = await waitUntil(
      page,
      () => `line ${line} of train.jsonl selected`,
      async () => {
        const status = await page.locator('.statusbar-item[id="status.editor.selection"]').innerText();
        return new RegExp(`Ln ${line},`).test(status) ? status : undefined;
      },
      15_000,
    );
    const text = await activeEditorText(page);
    if (!text.includes('plus')) fail('train.jsonl did not open with its records');
    note(`the row opened train.jsonl at line ${line} (${selected.replace(/\s+/g, ' ')})`);
    await shot('source');

    await runCommand(page, 'ModelFactory: Focus on Hardest Records View');
    const record = page.locator('.pane-body .monaco-list-row', { hasText: /train\.jsonl:\d+\s+loss/ });
    await runCommand(page, 'ModelFactory: Refresh Hardest Records');
    await record.first().waitFor({ state: 'visible', timeout: 60_000 });
    const listed = await record.count();
    if (listed !== 8) fail(`the Hardest Records view lists ${listed} records (wanted the 8 of the run)`);
    const losses = await record.evaluateAll((items) =>
      items.map((item) => Number(/loss (\d+\.\d+)/.exec(item.textContent ?? '')?.[1])),
    );
    if (losses.some((loss, i) => i > 0 && loss > losses[i - 1]!)) fail(`not sorted by loss: ${losses.join(', ')}`);
    note(`Hardest Records: ${listed} records, losses ${losses.join(', ')}`);
    await shot('hardest-records');

    await evaluateOnEndpoints({ page, workspace, tempRoot, shot, note }, run);
  },
};
