// The end-to-end tests: the built .vsix in a real VS Code (code-server), driven by Debian's chromium
// through playwright-core, on a copy of samples/workspace. Each step leaves a screenshot in
// test-results/e2e/<NN>-<step>.png; a failed step also leaves <NN>-<step>-failed.png, and the run then
// prints code-server's log and the extension's logs and exits 1.
//
//   node --import tsx test/e2e/run.ts
//   E2E_STEPS=diagnostics,hyperparameters   run only these steps (ids below)
//   MODELFACTORY_VSIX=path.vsix             test this package instead of building one
//   E2E_KEEP=1                              keep the temp folder (workspace, user data, logs)
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Frame, Locator, Page } from 'playwright-core';
import {
  freeLoopbackPort,
  instanceFolders,
  loadTools,
  packageExtension,
  prepareInstance,
  startCodeServer,
  type RunningCodeServer,
} from './codeServer';
import { BROWSER_TIERS_SKIPPED } from '../needs';
import { evaluate } from './evaluateStep';
import { descendantsOf, listProcesses, ticksSinceBoot } from './processes';
import { hubStep } from './hubStep';
import {
  activeEditorText,
  answerTrustDialog,
  dismissDialogs,
  frameWith,
  launchChromium,
  openFolder,
  pickRow,
  quickOpen,
  runCommand,
  screenshot,
  startCommand,
  waitForTitle,
  waitUntil,
  workbenchMessages,
} from './workbench';
import { filesUnder } from './files';

const REPO_ROOT = join(__dirname, '..', '..');
const SHOTS = join(REPO_ROOT, 'test-results', 'e2e');
const DEFECTIVE_DATASET = 'support/rejected/contribution-2026-11-24.jsonl';
const TINY_CONFIG = 'tiny.finetune.yaml';
/** The sample's held-out records (Evaluate Adapter on a run that held none out). */
const HELD_OUT = 'support/heldout.jsonl';
/** Bounds the whole run, so a hung workbench can never hang CI. */
const RUN_LIMIT_MS = 25 * 60_000; // the evaluate step trains and evaluates the tiny model itself (2-5 min on CPU)

export interface StepContext {
  page: Page;
  server: RunningCodeServer;
  workspace: string;
  tempRoot: string;
  /** Screenshot under this step's name, with an optional suffix. */
  shot(suffix?: string): Promise<void>;
  note(text: string): void;
}

export interface Step {
  id: string;
  run(context: StepContext): Promise<void>;
}

function fail(message: string): never {
  throw new Error(message);
}

/** The rule ids the CLI (the same core as the language server) reports for a file. */
function ruleIdsFromCli(file: string): string[] {
  let printed: string;
  try {
    printed = execFileSync(
      process.execPath,
      [join(REPO_ROOT, 'bin', 'modelfactory.js'), 'lint', '--format', 'json', '--no-progress', file],
      {
        encoding: 'utf8',
      },
    );
  } catch (error) {
    // Exit code 1 means "errors found": the JSON is still on stdout.
    printed = (error as { stdout?: string }).stdout ?? '';
  }
  const report = JSON.parse(printed) as { diagnostics: { rule: string }[] };
  return [...new Set(report.diagnostics.map((diagnostic) => diagnostic.rule))];
}

/** The input behind a form field: the element itself, or the input inside a web component's shadow root. */
async function editableOf(host: Locator, inner: 'input' | 'textarea'): Promise<Locator> {
  const tag = await host.evaluate((element) => element.tagName.toLowerCase());
  return tag === 'input' || tag === 'textarea' ? host : host.locator(inner).first();
}

async function fieldValue(frame: Frame, field: string): Promise<string> {
  return frame
    .locator(`[data-field="${field}"]`)
    .first()
    .evaluate((element) => String((element as unknown as { value: unknown }).value));
}

async function closeAllEditors(page: Page): Promise<void> {
  await runCommand(page, 'View: Close All Editors');
}

async function hidePanel(page: Page): Promise<void> {
  if (await page.locator('.part.panel').isVisible()) await page.keyboard.press('Control+J');
}

const diagnostics: Step = {
  id: 'diagnostics',
  async run({ page, workspace, shot, note }) {
    const expected = ruleIdsFromCli(join(workspace, DEFECTIVE_DATASET));
    if (expected.length === 0) fail(`the CLI finds no problem in ${DEFECTIVE_DATASET}: the sample lost its defects`);
    await closeAllEditors(page);
    await quickOpen(page, DEFECTIVE_DATASET);
    await page
      .locator('.editor-group-container.active .squiggly-error')
      .first()
      .waitFor({ state: 'attached', timeout: 90_000 });
    await page.keyboard.press('Control+Shift+M');
    const problems = page.locator('.markers-panel');
    await problems.waitFor({ state: 'visible', timeout: 15_000 });
    const shown = await waitUntil(
      page,
      () => `every rule id the CLI reports (${expected.join(', ')}) in the Problems panel`,
      async () => {
        const text = await problems.innerText();
        return expected.every((rule) => text.includes(rule)) ? expected : undefined;
      },
      30_000,
    );
    note(`squiggles drawn; Problems lists ${shown.join(', ')}`);
    await shot();
  },
};

const hyperparameters: Step = {
  id: 'hyperparameters',
  async run({ page, shot, note }) {
    await closeAllEditors(page);
    await hidePanel(page);
    await quickOpen(page, TINY_CONFIG);
    // The editor draws its lines a moment after the tab opens: wait for the whole file.
    const before = await waitUntil(
      page,
      () => `${TINY_CONFIG} to be drawn in the editor`,
      async () => {
        const text = await activeEditorText(page);
        return /^target: /m.test(text) ? text : undefined;
      },
      15_000,
    );
    const rank = /^(\s*)r: (\d+)\s*$/m.exec(before) ?? fail(`no "r:" line in ${TINY_CONFIG}:\n${before}`);
    const oldRank = rank[2] as string;
    const newRank = oldRank === '8' ? '4' : '8';

    await runCommand(page, 'ModelFactory: Open Hyperparameter Panel');
    const form = await frameWith(page, '[data-field="lora.r"]', 60_000);
    await waitUntil(
      page,
      () => `lora.r showing ${oldRank}`,
      async () => ((await fieldValue(form, 'lora.r')) === oldRank ? true : undefined),
      15_000,
    );
    // LoRA parameters scale with the rank: the estimate beside the form must follow the edit.
    const loraParameters = async (): Promise<number | undefined> => {
      const text = await form.locator('[data-testid="memory-estimate"]').first().innerText();
      const count = /([\d,]+) LoRA parameters/.exec(text)?.[1];
      return count === undefined ? undefined : Number(count.replace(/,/g, ''));
    };
    const paramsBefore = await waitUntil(page, () => 'a memory estimate beside the form', loraParameters, 30_000);
    const input = await editableOf(form.locator('[data-field="lora.r"]').first(), 'input');
    await input.fill(newRank);
    await input.press('Enter');
    await input.press('Tab');

    const configTab = page.locator('.tab', { hasText: TINY_CONFIG }).first();
    await configTab.click();
    const expectedAfter = before.replace(/^(\s*)r: \d+\s*$/m, `$1r: ${newRank}`);
    await waitUntil(
      page,
      () => `the editor to show "r: ${newRank}" with every other line unchanged`,
      async () => ((await activeEditorText(page)) === expectedAfter ? true : undefined),
      20_000,
    );
    const expectedParams = (paramsBefore * Number(newRank)) / Number(oldRank);
    await waitUntil(
      page,
      () => `the memory estimate to count ${expectedParams} LoRA parameters (r ${newRank}; it said ${paramsBefore})`,
      async () => ((await loraParameters()) === expectedParams ? true : undefined),
      30_000,
    );
    note(
      `form set lora.r ${oldRank} -> ${newRank}; the YAML changed on that line only; LoRA parameters in the estimate ${paramsBefore} -> ${expectedParams}`,
    );
    await shot();

    // Focus the editor near its top-left corner, undo, then go to the top: the text is read from the
    // rendered lines, so all of them must be in view (a click lower down once scrolled the file away).
    await page
      .locator('.editor-group-container.active .monaco-editor .view-lines')
      .first()
      .click({ position: { x: 40, y: 8 } });
    await page.keyboard.press('Control+Z');
    await page.keyboard.press('Control+Home');
    await waitUntil(
      page,
      () => `Ctrl+Z to restore the original text`,
      async () => ((await activeEditorText(page)) === before ? true : undefined),
      15_000,
    );
    await waitUntil(
      page,
      () => `the form to show lora.r ${oldRank} again`,
      async () => ((await fieldValue(form, 'lora.r')) === oldRank ? true : undefined),
      15_000,
    );
    note('undo restored the text and the form followed');
    await shot('undo');
  },
};

const train: Step = {
  id: 'train',
  async run({ page, workspace, shot, note }) {
    await closeAllEditors(page);
    await hidePanel(page);
    await quickOpen(page, TINY_CONFIG);
    const started = Date.now();
    await runCommand(page, 'ModelFactory: Train');
    let dashboard: Frame;
    try {
      dashboard = await frameWith(page, '[data-testid="loss-chart"]', 30_000);
    } catch {
      note('Train did not open the dashboard by itself; opening it from the palette');
      await runCommand(page, 'ModelFactory: Open Job Dashboard');
      dashboard = await frameWith(page, '[data-testid="loss-chart"]', 30_000);
    }
    await dashboard.locator('[data-testid="job-list"] [data-job-id]').first().waitFor({ timeout: 60_000 });
    const outcome = await waitUntil(
      page,
      () => 'the job to end',
      async () => {
        const state = (await dashboard.locator('[data-testid="job-state"]').first().innerText()).trim();
        return /\b(done|failed|cancelled|error)\b/i.test(state) ? state : undefined;
      },
      240_000,
    );
    const points = Number(await dashboard.locator('[data-testid="loss-chart"]').first().getAttribute('data-points'));
    await shot();
    if (!/\bdone\b/i.test(outcome)) fail(`the job ended as "${outcome}"`);
    if (!(points >= 3)) fail(`the loss chart drew ${points} points (wanted at least 3)`);
    note(`job done in ${((Date.now() - started) / 1000).toFixed(0)} s from the command; ${points} loss points drawn`);

    // The adapter comes into the workspace by itself, verified, and the Jobs view shows the job done.
    const jobId = await dashboard.locator('[data-testid="job-list"] [data-job-id]').first().getAttribute('data-job-id');
    const adapterFile = join(
      workspace,
      '.modelfactory',
      'runs',
      `local-${jobId}`,
      'adapter',
      'adapter_model.safetensors',
    );
    await waitUntil(
      page,
      () => `the adapter in ${relative(workspace, adapterFile)}`,
      async () => (existsSync(adapterFile) ? true : undefined),
      60_000,
    );
    await runCommand(page, 'ModelFactory: Focus on Jobs View');
    const row = page.locator('.pane-body .monaco-list-row', { hasText: 'done' });
    await row.first().waitFor({ state: 'visible', timeout: 15_000 });
    note(
      `Jobs view: ${(await row.first().innerText()).replace(/\s+/g, ' ')}; adapter saved in ${relative(workspace, adapterFile)}`,
    );
    await shot('jobs-view');

    // Evaluate Adapter on this run: its config holds nothing out (eval_split 0), so the trainer refuses the
    // split at once and the command asks for a held-out file; the sample's is evaluated on the local
    // trainer, and the results open by themselves in the evaluation view.
    await closeAllEditors(page);
    const evalStarted = Date.now();
    await startCommand(page, 'ModelFactory: Evaluate Adapter', 'ModelFactory: Evaluate Adapter');
    await pickRow(page, 'tiny');
    await waitForTitle(page, 'held out no records (eval_split 0): pick a held-out file');
    // The sample's held-out file is offered before its training file (names that say "held out" come first).
    const offered = await page.locator('.quick-input-list .monaco-list-row .label-name').allInnerTexts();
    if (offered[0] !== HELD_OUT) fail(`the held-out pick offers ${offered.join(', ')} (${HELD_OUT} first wanted)`);
    await shot('held-out-pick');
    await pickRow(page, HELD_OUT);
    const results = await frameWith(page, '[data-testid="examples"] tbody tr', 240_000);
    const evaluated = await results.locator('[data-testid="examples"] tbody tr').count();
    const models = await results
      .locator('[data-testid="summary"] tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-model')));
    const heldOut = readFileSync(join(workspace, HELD_OUT), 'utf8').trim().split('\n').length;
    if (evaluated !== heldOut) fail(`the evaluation view shows ${evaluated} examples (wanted the ${heldOut} held out)`);
    if (models.length !== 2 || models[0] !== 'base') fail(`the evaluation compares ${models.join(', ')}`);
    // Its notification offers the results, not a chat with an adapter it does not have.
    const announced = await waitUntil(
      page,
      () => 'the evaluation job to be announced',
      async () => (await workbenchMessages(page)).find((t) => /eval tiny is done\./.test(t)),
      30_000,
    );
    if (!/Open Evaluation Results/.test(announced) || /Chat Playground/.test(announced))
      fail(`the evaluation job's notification says "${announced}"`);
    note(
      `Evaluate Adapter asked for a held-out file (eval_split 0) and scored ${models.join(' and ')} on ${HELD_OUT} in ${((Date.now() - evalStarted) / 1000).toFixed(0)} s`,
    );
    await shot('evaluate-adapter');
  },
};

const playground: Step = {
  id: 'playground',
  async run({ page, shot, note }) {
    await hidePanel(page);
    await runCommand(page, 'ModelFactory: Open Chat Playground');
    const chat = await frameWith(page, '[data-testid="prompt"]', 60_000);
    // The right column's model picker (column B); its adapters' values are `adapter:<job id>`.
    const adapterSelect = chat.locator('[data-testid="model-select-adapter"]').first();
    const adapter = await waitUntil(
      page,
      () => 'a trained adapter offered in the adapter select',
      async () => {
        const values = await adapterSelect
          .locator('option')
          .evaluateAll((options) => options.map((option) => (option as unknown as { value: string }).value));
        return values.find((value) => value.startsWith('adapter:'));
      },
      60_000,
    );
    if ((await adapterSelect.inputValue()) !== adapter) await adapterSelect.selectOption(adapter);
    // Greedy decoding, so the check below does not hang on a sample: the adapter, under the system prompt
    // it was trained with (which the playground fills in), must answer as its training record does.
    const temperature = await editableOf(chat.locator('[data-field="temperature"]').first(), 'input');
    await temperature.fill('0');
    await temperature.press('Tab');
    const system = await editableOf(chat.locator('[data-field="system"]').first(), 'textarea');
    if (!(await system.inputValue()).includes('ModelFactory')) fail('the trained system prompt was not offered');
    const prompt = await editableOf(chat.locator('[data-testid="prompt"]').first(), 'textarea');
    await prompt.fill('How do I start a training run?');
    await chat.locator('[data-action="send"]').first().click();
    const replies = await waitUntil(
      page,
      () => 'both replies to finish',
      async () => {
        const read = async (side: string) => {
          const reply = chat.locator(`[data-testid="reply-${side}"]`).first();
          return { state: await reply.getAttribute('data-state'), text: (await reply.innerText()).trim() };
        };
        const base = await read('base');
        const tuned = await read('adapter');
        const ended = (s: string | null) => s === 'done' || s === 'error';
        return ended(base.state) && ended(tuned.state) ? { base, tuned } : undefined;
      },
      180_000,
    );
    await shot();
    for (const [side, reply] of [
      ['base', replies.base],
      ['adapter', replies.tuned],
    ] as const) {
      if (reply.state !== 'done') fail(`the ${side} reply ended in state ${reply.state}: ${reply.text}`);
      if (!reply.text) fail(`the ${side} reply is empty`);
    }
    // The training record's answer to this question (samples/workspace/support/data/train.jsonl).
    const learned = "Open the fine-tune config and run 'ModelFactory: Train'.";
    if (!replies.tuned.text.includes(learned)) fail(`the adapter did not answer as trained: ${replies.tuned.text}`);
    if (replies.base.text.includes(learned))
      fail('the base model gave the trained answer: the adapter was not compared');
    note(
      `adapter ${adapter}; base replied ${replies.base.text.length} chars; adapter answered as trained: ${replies.tuned.text.slice(0, 80)}`,
    );
  },
};

/**
 * SECURITY.md's canary: the local trainer's token (read from the server process's environment, the one
 * place it must be besides SecretStorage and the Authorization header) appears in no file of the
 * workspace, the VS Code profile, the extension's storage or logs, in no command line, and in no
 * rendered webview or workbench page.
 */
const token: Step = {
  id: 'token',
  async run({ page, workspace, tempRoot, shot, note }) {
    const servers = listProcesses().filter(
      (p) => p.commandLine.includes('modelfactory_trainer serve') && p.commandLine.includes(tempRoot),
    );
    if (servers.length !== 1) fail(`expected this run's local trainer server, found ${servers.length}`);
    const environ = readFileSync(`/proc/${servers[0]!.pid}/environ`, 'utf8').split('\0');
    const secret = environ.find((v) => v.startsWith('MODELFACTORY_TOKEN='))?.slice('MODELFACTORY_TOKEN='.length);
    if (!secret || secret.length < 32) fail('the local trainer server runs without a strong token in its environment');
    const leaks: string[] = [];
    const files = [...filesUnder(workspace), ...filesUnder(join(tempRoot, 'code-server'))];
    for (const file of files) {
      if (readFileSync(file).includes(secret)) leaks.push(relative(tempRoot, file));
    }
    for (const p of listProcesses()) if (p.commandLine.includes(secret)) leaks.push(`command line of pid ${p.pid}`);
    for (const frame of page.frames()) {
      const html = await frame.content().catch(() => '');
      if (html.includes(secret)) leaks.push(`page ${frame.url().slice(0, 80)}`);
    }
    await shot();
    if (leaks.length) fail(`the token leaked into: ${leaks.join(', ')}`);
    note(
      `token (${secret.length} chars) in none of ${files.length} files, the command lines or ${page.frames().length} frames`,
    );
  },
};

/** A fresh copy of samples/workspace, without the outputs of runs made in the repository. */
function copySampleWorkspace(destination: string): void {
  const sample = join(REPO_ROOT, 'samples', 'workspace');
  cpSync(sample, destination, {
    recursive: true,
    filter: (path) => !/^(outputs|\.modelfactory)(\/|$)/.test(relative(sample, path)),
  });
}

/** An untrusted copy of the workspace whose settings point the interpreter at a script that leaves a marker. */
function plantUntrustedWorkspace(tempRoot: string): { folder: string; markers: string[]; plantedDir: string } {
  const folder = join(tempRoot, 'untrusted-workspace');
  const plantedDir = join(tempRoot, 'planted');
  mkdirSync(plantedDir, { recursive: true });
  copySampleWorkspace(folder);
  const markers: string[] = [];
  const script = (form: string): string => {
    const marker = join(plantedDir, `ran-${form}`);
    markers.push(marker);
    const path = join(plantedDir, `python-${form}`);
    writeFileSync(path, `#!/bin/sh\ntouch '${marker}'\n`);
    chmodSync(path, 0o755);
    return path;
  };
  mkdirSync(join(folder, '.vscode'), { recursive: true });
  const settings = {
    'modelfactory.trainer.pythonPath': script('dotted'),
    modelfactory: { trainer: { pythonPath: script('nested') } },
  };
  writeFileSync(join(folder, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
  return { folder, markers, plantedDir };
}

const untrusted: Step = {
  id: 'untrusted',
  async run({ page, server, tempRoot, shot, note }) {
    const planted = plantUntrustedWorkspace(tempRoot);
    const since = ticksSinceBoot();
    await openFolder(page, server.url, planted.folder);
    await answerTrustDialog(page, false);
    await quickOpen(page, TINY_CONFIG);
    const trainButton = page.locator(
      '.editor-group-container.active .editor-actions .action-label[aria-label*="Train"]',
    );
    const trainOffered = await trainButton
      .first()
      .waitFor({ state: 'visible', timeout: 5_000 })
      .then(
        () => true,
        () => false,
      );
    if (trainOffered) {
      await trainButton.first().click();
      note('clicked Train in the editor title');
      await page.waitForTimeout(3000);
      await dismissDialogs(page);
    } else {
      note('no Train button in the editor title in restricted mode');
    }
    for (const title of [
      'ModelFactory: Train',
      'ModelFactory: Open Hyperparameter Panel',
      'ModelFactory: Open Chat Playground',
      'ModelFactory: Open Job Dashboard',
      'ModelFactory: Set Up Local Trainer',
    ]) {
      try {
        await runCommand(page, title, 5_000);
        note(`ran "${title}" in restricted mode`);
        await page.waitForTimeout(3000);
      } catch {
        note(`"${title}" is not offered in restricted mode`);
      }
      await dismissDialogs(page);
    }
    // A trainer or language server would be up within a few seconds of its command.
    await page.waitForTimeout(5000);
    await shot();
    const ran = planted.markers.filter((marker) => existsSync(marker));
    if (ran.length > 0) fail(`the planted interpreter ran: ${ran.join(', ')}`);
    const suspicious = descendantsOf(server.pid).filter(
      (info) =>
        info.startTicks >= since &&
        (/python|modelfactory_trainer/i.test(info.commandLine) ||
          info.commandLine.includes(planted.plantedDir) ||
          info.commandLine.includes(join(server.folders.extensionsDir, 'modelfactory.'))),
    );
    if (suspicious.length > 0)
      fail(
        `processes started in the untrusted workspace:\n${suspicious.map((info) => `  ${info.pid} ${info.commandLine}`).join('\n')}`,
      );
    note('no planted interpreter ran; no trainer and no language server started');
  },
};

/** The Datanet hub from the editor (test/e2e/hubStep.ts). */
const hub: Step = { id: 'hub', run: (context) => hubStep(context) };

// The hub runs before untrusted, which leaves the window on an untrusted folder.
const STEPS: Step[] = [diagnostics, hyperparameters, train, playground, evaluate, token, hub, untrusted];

function extensionLogs(userDataDir: string): string {
  const logsDir = join(userDataDir, 'logs');
  if (!existsSync(logsDir)) return '(no logs folder)';
  const wanted = (readdirSync(logsDir, { recursive: true }) as string[]).filter((path) =>
    /exthost\d*\/(exthost\.log|.*modelfactory.*\.log$)/i.test(path),
  );
  return wanted
    .map((path) => {
      const lines = readFileSync(join(logsDir, path), 'utf8').trimEnd().split('\n');
      return `--- ${path} (last ${Math.min(lines.length, 80)} lines)\n${lines.slice(-80).join('\n')}`;
    })
    .join('\n');
}

async function main(): Promise<number> {
  const only = process.env['E2E_STEPS']?.split(',').map((id) => id.trim());
  const steps = only ? STEPS.filter((step) => only.includes(step.id)) : STEPS;
  if (only && steps.length !== only.length)
    fail(`unknown step in E2E_STEPS; steps: ${STEPS.map((s) => s.id).join(', ')}`);
  if (BROWSER_TIERS_SKIPPED) {
    console.log(`\n*** MODELFACTORY_SKIP_BROWSER=1: the e2e run in code-server was skipped on request; CI runs it ***`);
    console.log(`e2e: 0 passed, 0 failed, ${steps.length} skipped`);
    return 0;
  }
  const python = join(REPO_ROOT, 'trainer', '.venv', 'bin', 'python');
  if (!existsSync(python)) fail(`no ${relative(REPO_ROOT, python)}: run npm run setup:trainer first`);

  const tools = loadTools(REPO_ROOT);
  const vsix = packageExtension(REPO_ROOT);
  rmSync(SHOTS, { recursive: true, force: true });
  mkdirSync(SHOTS, { recursive: true });
  const tempRoot = mkdtempSync(join(tmpdir(), 'modelfactory-e2e-'));
  const workspace = join(tempRoot, 'workspace');
  copySampleWorkspace(workspace);
  const folders = instanceFolders(join(tempRoot, 'code-server'));
  prepareInstance(tools, folders, vsix, {
    machine: { 'modelfactory.trainer.pythonPath': python },
    user: {
      'workbench.startupEditor': 'none',
      // The tests read editor text from the rendered lines; keep a short file entirely in view.
      'editor.scrollBeyondLastLine': false,
      'workbench.welcomePage.walkthroughs.openOnInstall': false,
      'workbench.tips.enabled': false,
      'telemetry.telemetryLevel': 'off',
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'update.mode': 'none',
      // Ask at every folder opened, so the test answers as a user would (trusts the sample, not the planted copy).
      'security.workspace.trust.startupPrompt': 'always',
      // Keep the AI chat side bar out of the screenshots.
      'chat.disableAIFeatures': true,
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
    },
  });
  const server = await startCodeServer(tools, folders, await freeLoopbackPort(), workspace);
  const browser = await launchChromium(tools.chromium, join(tempRoot, 'chromium')).catch(async (error: unknown) => {
    await server.stop();
    throw error;
  });
  let stopped = false;
  const cleanUp = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await browser.close().catch(() => undefined);
    await server.stop();
    if (!process.env['E2E_KEEP']) rmSync(tempRoot, { recursive: true, force: true });
  };
  const interrupt = (): void => void cleanUp().then(() => process.exit(130));
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const watchdog = setTimeout(() => {
    console.error(`e2e: the run passed its ${RUN_LIMIT_MS / 60_000} min limit`);
    void cleanUp().then(() => process.exit(1));
  }, RUN_LIMIT_MS);

  const results: { id: string; ok: boolean; seconds: number; notes: string[] }[] = [];
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    await openFolder(page, server.url, workspace);
    await answerTrustDialog(page, true);
    for (const [index, step] of steps.entries()) {
      const name = `${String(STEPS.indexOf(step) + 1).padStart(2, '0')}-${step.id}`;
      const notes: string[] = [];
      const started = Date.now();
      const context: StepContext = {
        page,
        server,
        workspace,
        tempRoot,
        shot: async (suffix) => void (await screenshot(page, SHOTS, suffix ? `${name}-${suffix}` : name)),
        note: (text) => notes.push(text),
      };
      await dismissDialogs(page);
      process.stdout.write(`e2e: ${index + 1}/${steps.length} ${step.id} ... `);
      try {
        await step.run(context);
        results.push({ id: step.id, ok: true, seconds: (Date.now() - started) / 1000, notes });
        console.log(`ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      } catch (error) {
        results.push({ id: step.id, ok: false, seconds: (Date.now() - started) / 1000, notes });
        console.log(
          `FAILED (${((Date.now() - started) / 1000).toFixed(1)} s)\n  ${String((error as Error).message ?? error)}`,
        );
        await screenshot(page, SHOTS, `${name}-failed`).catch(() => undefined);
        for (const text of await workbenchMessages(page).catch(() => [])) console.log(`  the workbench shows: ${text}`);
        await page.keyboard.press('Escape').catch(() => undefined);
      }
      for (const text of notes) console.log(`  ${text}`);
    }
  } catch (error) {
    console.error(`e2e: the workbench did not come up: ${String((error as Error).stack ?? error)}`);
    const page = browser.pages()[0];
    if (page) await screenshot(page, SHOTS, '00-workbench-failed').catch(() => undefined);
    results.push({ id: 'workbench', ok: false, seconds: 0, notes: [] });
  } finally {
    clearTimeout(watchdog);
    if (results.some((result) => !result.ok)) {
      console.error(
        `\n--- code-server log (last 60 lines)\n${server.log().trimEnd().split('\n').slice(-60).join('\n')}`,
      );
      console.error(`\n${extensionLogs(folders.userDataDir)}`);
    }
    await cleanUp();
  }
  const failed = results.filter((result) => !result.ok);
  console.log(`screenshots in ${relative(process.cwd(), SHOTS)}`);
  console.log(`e2e: ${results.length - failed.length} passed, ${failed.length} failed`);
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
