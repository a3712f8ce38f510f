// What the test tiers need from the machine. `npm test` installs all of it first (`npm run setup`), so a
// test whose need is missing fails and says what to run; nothing skips because a tool is absent. The one
// exception is on request: MODELFACTORY_SKIP_BROWSER=1 skips the tiers that drive chromium (the webview
// tests and the e2e run), and the run says so loudly (test/noSkips.mjs).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
export const TRAINER_PYTHON = join(ROOT, 'trainer', '.venv', 'bin', 'python');
export const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';

/** True when the person running the tests asked to skip the chromium tiers. */
export const BROWSER_TIERS_SKIPPED = process.env['MODELFACTORY_SKIP_BROWSER'] === '1';

/** Options for a suite that drives chromium: skipped only on request, never because chromium is missing. */
export const browserTier: { skip?: string } = BROWSER_TIERS_SKIPPED
  ? { skip: 'MODELFACTORY_SKIP_BROWSER=1 (skipped on request)' }
  : {};

/** Fails the calling test when the trainer's environment is not set up. */
export function needTrainer(): void {
  if (!existsSync(TRAINER_PYTHON)) {
    throw new Error(`${TRAINER_PYTHON} is missing: run \`npm run setup:trainer\` (npm test does it first)`);
  }
}

/** Fails the calling test when chromium is not installed. */
export function needChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `chromium is not installed at ${CHROMIUM}: run \`npm run setup\` (npm test does it first), ` +
        'or set MODELFACTORY_SKIP_BROWSER=1 to skip the browser tiers on purpose',
    );
  }
}
