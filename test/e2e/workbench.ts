// Driving the VS Code workbench in chromium the way a user does: keyboard shortcuts, the command
// palette, Quick Open, the workspace trust dialog, and the webviews (each in nested iframes).
//
// Functions passed to evaluate run in the page after tsx compiled them: keep them plain arrows with no
// named inner functions (tsx would wrap those in a `__name` helper the page does not have).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Frame, type Page } from 'playwright-core';

export async function launchChromium(executablePath: string, profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath,
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Opens a folder in the workbench and waits until the workbench is laid out. */
export async function openFolder(page: Page, baseUrl: string, folder: string): Promise<void> {
  await page.goto(`${baseUrl}/?folder=${encodeURIComponent(folder)}`);
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
  await page.locator('.part.statusbar').waitFor({ state: 'visible', timeout: 60_000 });
}

/** Answers VS Code's "Do you trust the authors of the files in this folder?" dialog. */
export async function answerTrustDialog(page: Page, trust: boolean): Promise<void> {
  const name = trust ? 'Yes, I trust the authors' : "No, I don't trust the authors";
  const button = page.locator('.monaco-dialog-box .monaco-button', { hasText: name });
  await button.waitFor({ state: 'visible', timeout: 30_000 });
  await button.click();
  await page.locator('.monaco-dialog-box').waitFor({ state: 'hidden', timeout: 10_000 });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Runs a command by its palette title ("ModelFactory: Train"), choosing the row with exactly that label. */
export async function runCommand(page: Page, title: string, findTimeoutMs = 15_000): Promise<void> {
  await page.keyboard.press('Control+Shift+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', {
    has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRegExp(title)}$`) }),
  });
  await row.first().waitFor({ state: 'visible', timeout: findTimeoutMs });
  await row.first().click();
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
}

/** Waits until the quick input shows the title (an input box or a quick pick a command opened). */
export async function waitForTitle(page: Page, title: string): Promise<void> {
  await page
    .locator('.quick-input-widget .quick-input-title', { hasText: title })
    .waitFor({ state: 'visible', timeout: 30_000 });
}

/**
 * Runs a palette command that opens an input box or a quick pick of its own (runCommand waits for the
 * palette to close, which such a command keeps open); with `firstTitle`, waits for that title.
 */
export async function startCommand(page: Page, command: string, firstTitle?: string): Promise<void> {
  await page.keyboard.press('Control+Shift+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${command}`);
  const row = page.locator('.quick-input-list .monaco-list-row', {
    has: page.locator('.label-name', { hasText: command }),
  });
  await row.first().waitFor({ state: 'visible', timeout: 15_000 });
  await row.first().click();
  if (firstTitle) await waitForTitle(page, firstTitle);
}

/** Types into the open input box and presses Enter; then waits for the next title, or for the box to close. */
export async function answer(page: Page, text: string, next?: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  await input.fill(text);
  await input.press('Enter');
  if (next) await waitForTitle(page, next);
  else await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 10_000 });
}

/** Clicks the first row of the open quick pick whose label contains `label`. */
export async function pickRow(page: Page, label: string, timeoutMs = 30_000): Promise<void> {
  const row = page.locator('.quick-input-list .monaco-list-row', {
    has: page.locator('.label-name', { hasText: label }),
  });
  await row.first().waitFor({ state: 'visible', timeout: timeoutMs });
  await row.first().click();
}

/** Opens a workspace file by its name through Quick Open (Ctrl+P). */
export async function quickOpen(page: Page, relativePath: string): Promise<void> {
  const fileName = relativePath.split('/').pop() as string;
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(relativePath);
  const row = page.locator('.quick-input-list .monaco-list-row', {
    has: page.locator('.label-name', { hasText: fileName }),
  });
  await row.first().waitFor({ state: 'visible', timeout: 20_000 });
  await row.first().click();
  await page
    .locator('.editor-group-container.active .tab.active', { hasText: fileName })
    .waitFor({ state: 'visible', timeout: 20_000 });
}

/** The text of the active text editor's visible lines, with Monaco's non-breaking spaces made plain. */
export async function activeEditorText(page: Page): Promise<string> {
  const lines = page.locator('.editor-group-container.active .monaco-editor .view-lines');
  const text = await lines.first().innerText({ timeout: 10_000 });
  return text.replace(/\u00a0/g, ' ');
}

/** Throws at once when VS Code reports that a command failed ("Command '...' resulted in an error"). */
async function failOnCommandError(page: Page): Promise<void> {
  const dialog = page.locator('.monaco-dialog-box', { hasText: 'resulted in an error' });
  if (await dialog.isVisible()) throw new Error((await dialog.innerText()).replace(/\s+/g, ' ').trim());
}

/** Closes modal dialogs and menus left over from a failed step, so the next one starts clean. */
export async function dismissDialogs(page: Page): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const blocking = page.locator('.monaco-dialog-box, .quick-input-widget');
    if (!(await blocking.first().isVisible())) return;
    await page.keyboard.press('Escape');
    await page.waitForTimeout(200);
  }
}

/** Waits until some frame of the page (webviews are iframes in iframes) has an element matching selector. */
export async function frameWith(page: Page, selector: string, timeoutMs: number): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      try {
        if (await frame.locator(selector).count()) return frame;
      } catch {
        // the frame navigated or went away while we looked
      }
    }
    await failOnCommandError(page);
    if (Date.now() > deadline) throw new Error(`no frame has ${selector} after ${timeoutMs / 1000} s`);
    await page.waitForTimeout(250);
  }
}

/** Polls check until it returns a value (not undefined) or the time runs out; describe says what was awaited. */
export async function waitUntil<T>(
  page: Page,
  describe: () => string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${describe()}`);
    await page.waitForTimeout(500);
  }
}

/** What the workbench is telling the user right now: a modal dialog's text and the visible notifications. */
export async function workbenchMessages(page: Page): Promise<string[]> {
  const texts: string[] = [];
  for (const selector of ['.monaco-dialog-box', '.notifications-toasts .notification-toast']) {
    for (const element of await page.locator(selector).all()) {
      if (await element.isVisible()) texts.push((await element.innerText()).replace(/\s+/g, ' ').trim());
    }
  }
  return texts;
}

export async function screenshot(page: Page, folder: string, name: string): Promise<string> {
  mkdirSync(folder, { recursive: true });
  const path = join(folder, `${name}.png`);
  await page.screenshot({ path });
  return path;
}
