// The e2e step `hub`: a real hub (`modelfactory hub serve` on PGlite in a temporary folder), the hub
// address and token set through "ModelFactory: Set Hub Token", a file refused by the local lint, a file
// submitted from the editor whose receipt's findings become diagnostics, the quota bar in the Datanets
// view and the leaderboard webview. Screenshots at each stage.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { cli, makeToken, pgliteStorage, startHub } from '../hub/harness';
import { frameWith, quickOpen, runCommand, startCommand, waitUntil, workbenchMessages } from './workbench';

export interface HubStepContext {
  page: Page;
  workspace: string;
  shot(suffix?: string): Promise<void>;
  note(text: string): void;
}

const record = (question: string, answer: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: question },
      { role: 'assistant', content: answer },
    ],
  });

const SHARED = record(
  'How do I reset my password on the support portal?',
  'Open Settings, choose Security, then Reset password; a link arrives by email within a minute.',
);

async function fillInput(page: Page, titlePart: string, value: string): Promise<void> {
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: titlePart }).waitFor({ state: 'visible', timeout: 15_000 });
  await widget.locator('input').fill(value);
  await widget.locator('input').press('Enter');
}

async function notification(page: Page, pattern: RegExp, timeoutMs: number): Promise<string> {
  return waitUntil(
    page,
    () => `a notification matching ${pattern}`,
    async () => (await workbenchMessages(page)).find((t) => pattern.test(t)),
    timeoutMs,
  );
}

export async function hubStep({ page, workspace, shot, note }: HubStepContext): Promise<void> {
  const storage = pgliteStorage();
  const owner = makeToken(storage, 'olivia', 'owner');
  const bob = makeToken(storage, 'bob', 'contributor');
  const carol = makeToken(storage, 'carol', 'contributor');
  const hub = await startHub(storage);
  try {
    const folder = join(workspace, 'hub-contrib');
    mkdirSync(folder, { recursive: true });
    const manifest = `name: support-hub\nhub: { url: "${hub.url}", name: support-hub }\nformat: messages\nfiles: ["*.jsonl"]\nlimits: { daily_files: 5, daily_mb: 1 }\nrules:\n  dedup: { exact: error }\n`;
    writeFileSync(join(folder, 'datanet.yaml'), manifest);
    const created = cli(['hub', 'datanet', 'create', join(folder, 'datanet.yaml'), '--hub', hub.url], owner);
    if (created.code !== 0) throw new Error(`datanet create failed: ${created.stderr}`);
    // Carol contributed first: her record is in the Datanet, so the same record from bob is a duplicate.
    writeFileSync(join(folder, '..', 'carol.jsonl'), SHARED + '\n');
    const carols = cli(
      ['hub', 'submit', join(folder, '..', 'carol.jsonl'), '--datanet', 'support-hub', '--hub', hub.url],
      carol,
    );
    if (carols.code !== 0) throw new Error(`carol's submit failed: ${carols.stderr}`);
    writeFileSync(
      join(folder, 'batch-1.jsonl'),
      [
        record(
          'Can I change the email on my account?',
          'Yes: Settings, Profile, Email; confirm the new address from its inbox.',
        ),
        record('Where do I download invoices?', 'Billing, then Invoices; each month has a PDF download button.'),
        SHARED,
      ].join('\n') + '\n',
    );
    writeFileSync(join(folder, 'broken.jsonl'), record('A fine question?', 'A fine answer.') + '\n{"messages": [}\n');

    await startCommand(page, 'ModelFactory: Set Hub Token');
    await fillInput(page, 'Datanet hub address', hub.url);
    await fillInput(page, 'token for', bob);
    await notification(page, /signed in to .* as bob \(contributor\)/, 20_000);
    note(`signed in to ${hub.url} as bob through the command (address in settings, token in secret storage)`);

    // The local lint refuses a file with errors: nothing reaches the hub.
    await quickOpen(page, 'hub-contrib/broken.jsonl');
    await runCommand(page, 'ModelFactory: Submit to Datanet');
    const refused = await notification(
      page,
      /not submitted: hub-contrib\/broken\.jsonl has \d+ errors? here \(line 2/,
      30_000,
    );
    note(`local lint: ${refused.slice(0, 140)}`);
    await shot('refused');
    await page.keyboard.press('Escape');

    await quickOpen(page, 'hub-contrib/batch-1.jsonl');
    await runCommand(page, 'ModelFactory: Submit to Datanet');
    const verdict = await notification(
      page,
      /batch-1\.jsonl rejected by 'support-hub': 2 of 3 records accepted, 1 error/,
      60_000,
    );
    note(`receipt: ${verdict.slice(0, 160)}`);
    // The receipt's finding on line 3, in the Problems panel under the hub's source.
    const problems = page.locator('.markers-panel');
    if (!(await problems.isVisible())) await page.keyboard.press('Control+Shift+M');
    await problems.waitFor({ state: 'visible', timeout: 15_000 });
    const problemText = await waitUntil(
      page,
      () => "the receipt's dedup/exact finding on line 3 under the hub's source in Problems",
      async () => {
        const text = (await problems.innerText()).replace(/\s+/g, ' ');
        return /already in the Datanet.{0,300}?modelfactory hub \(rejected\).{0,80}?\[Ln 3/.exec(text)?.[0];
      },
      20_000,
    );
    note(`diagnostic from the receipt: ${problemText.slice(0, 160)}`);
    await shot('diagnostics');

    // The Datanets view: bob's contribution, today's quota (1 of 5 files used), his rank.
    await runCommand(page, 'ModelFactory: Focus on Datanets View');
    const filesRow = page.locator('.monaco-list-row', { hasText: "Today's files: 4 left" });
    await filesRow.first().waitFor({ state: 'visible', timeout: 20_000 });
    const bar = (await filesRow.first().innerText()).replace(/\s+/g, ' ');
    if (!bar.includes('▰▰▰▰▰▰▰▰▱▱ 80% left')) throw new Error(`the files quota bar reads: ${bar}`);
    await page
      .locator('.monaco-list-row', { hasText: 'batch-1.jsonl' })
      .first()
      .waitFor({ state: 'visible', timeout: 10_000 });
    const rank = (
      await page
        .locator('.monaco-list-row', { hasText: /Rank \d of 2/ })
        .first()
        .innerText()
    ).replace(/\s+/g, ' ');
    note(`Datanets view: "${bar}"; "${rank}"`);
    await shot('datanets-view');

    await startCommand(page, 'ModelFactory: Open Datanet Leaderboard');
    const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'support-hub' });
    await pick.first().waitFor({ state: 'visible', timeout: 15_000 });
    await pick.first().click();
    const board = await frameWith(page, 'tr[data-contributor="bob"]', 30_000);
    const rows = await board.locator('tbody tr').allInnerTexts();
    if (rows.length !== 2) throw new Error(`the leaderboard has ${rows.length} rows: ${rows.join(' | ')}`);
    if ((await board.locator('tr.me').getAttribute('data-contributor')) !== 'bob')
      throw new Error("bob's row is not marked as mine");
    if ((await board.locator('script').count()) !== 0) throw new Error('the leaderboard page has a script');
    note(`leaderboard: ${rows.map((r) => r.replace(/\s+/g, ' ')).join(' | ')}`);
    await shot('leaderboard');
  } finally {
    await hub.stop();
    await storage.stop();
  }
}
