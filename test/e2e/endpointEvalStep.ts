// Part of the e2e step `evaluate`: "ModelFactory: Evaluate on Endpoints" as a user runs it. A real
// `serve --openai` serves the adapter the step trained (as `calc`); the endpoint is added through "Add
// OpenAI-Compatible Endpoint" (its key typed into the password box, so it lives in SecretStorage); the command
// runs the trainer's `eval --endpoints-only` as a child of the extension host, whose command line must not hold
// the key while its environment does; the evaluation view opens on the endpoint's answers; the key is in no file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { TinyEvaluation } from '../client/tinyEvaluation';
import { startTrainerServer } from '../client/fixtures/trainerSupport';
import { listProcesses } from './processes';
import type { StepContext } from './run';
import { answer, frameWith, pickRow, quickOpen, runCommand, startCommand, waitForTitle, waitUntil } from './workbench';
import { filesUnder } from './files';

function fail(message: string): never {
  throw new Error(message);
}

export async function evaluateOnEndpoints(
  { page, workspace, tempRoot, shot, note }: Pick<StepContext, 'page' | 'workspace' | 'tempRoot' | 'shot' | 'note'>,
  run: TinyEvaluation,
): Promise<void> {
  const endpoint = await startTrainerServer(
    ['--openai', '--no-websocket', '--openai-base', 'builtin:tiny-llama', '--adapter', `calc=${run.adapter}`],
    { MODELFACTORY_CACHE: join(tempRoot, 'tiny-cache'), HF_HUB_OFFLINE: '1' },
  );
  try {
    await runCommand(page, 'View: Close All Editors');
    await startCommand(page, 'ModelFactory: Add OpenAI-Compatible Endpoint', '(1/3)');
    await answer(page, 'e2e-serve', '(2/3)');
    await answer(page, `http://127.0.0.1:${endpoint.port}/v1`, '(3/3)');
    await answer(page, endpoint.token);

    // A config holding out half the records (the step's own config holds out none).
    const config = join(run.dir, 'endpoints.finetune.yaml');
    const text = readFileSync(run.config, 'utf8');
    if (!/eval_split: 0\b/.test(text)) fail('the tiny config has no eval_split: 0 to change');
    writeFileSync(config, text.replace(/eval_split: 0\b/, 'eval_split: 0.5'));
    await quickOpen(page, relative(workspace, config));

    await startCommand(page, 'ModelFactory: Evaluate on Endpoints', 'held-out records');
    await pickRow(page, "The config's eval split");
    await waitForTitle(page, 'models to score');
    await pickRow(page, 'calc');
    await page.locator('.quick-input-widget input').press('Enter');
    await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });

    const child = await waitUntil(
      page,
      () => 'the trainer eval child of the extension host',
      async () =>
        listProcesses().find(
          (p) => p.commandLine.includes('modelfactory_trainer eval') && p.commandLine.includes(config),
        ),
      60_000,
    );
    if (child.commandLine.includes(endpoint.token)) fail('the endpoint key is on the eval command line');
    const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
    if (!environ.some((v) => v.startsWith('MODELFACTORY_ENDPOINT_KEY_') && v.endsWith(`=${endpoint.token}`)))
      fail("the endpoint key is not in the eval child's environment");
    note(`eval child ${child.pid}: the key in its environment, not on its command line`);

    const view = await frameWith(page, '[data-testid="summary"] tr[data-model="calc"]', 180_000);
    const models = await view
      .locator('[data-testid="summary"] tbody tr')
      .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-model')));
    if (models.join(',') !== 'calc') fail(`the summary lists ${models.join(', ')} (wanted calc)`);
    const rows = await view.locator('[data-testid="examples"] tbody tr').count();
    if (rows !== 4) fail(`the table shows ${rows} examples (wanted the 4 held out)`);
    note(`Evaluate on Endpoints: calc on the endpoint over ${rows} held-out examples, shown in the evaluation view`);
    await shot('endpoints');

    const files = [...filesUnder(workspace), ...filesUnder(join(tempRoot, 'code-server'))];
    const leaks = files.filter((file) => readFileSync(file).includes(endpoint.token));
    if (leaks.length) fail(`the endpoint key leaked into: ${leaks.map((f) => relative(tempRoot, f)).join(', ')}`);
    note(`the endpoint key is in none of ${files.length} files`);
  } finally {
    await endpoint.stop();
  }
}
