// The playground's two columns on two real OpenAI-compatible endpoints: the built webview bundle in headless
// chromium behind its CSP, wired to the host's own PlaygroundSession (every message through the host's parser,
// as the panel does), which talks through the official `openai` npm client to two real `serve --openai`
// processes on the built-in tiny model: column A the base model on one, column B a freshly trained adapter on
// the other. Each column must show exactly what its endpoint answers directly, and "Prefer this answer" must
// append the pair the record contract reads as a preference example.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type * as vscode from 'vscode';
import type { Browser } from 'playwright-core';
import type { MessagesRecord, PreferenceRecord } from '../../client/src/panels/exportRecord';
import { PlaygroundSession } from '../../client/src/panels/playgroundSession';
import { EndpointModelChoices, OpenAIEndpointClient, modelChoiceId } from '../../client/src/trainer/openaiChat';
import { detectFormat, toExample } from '../../server/src/core/dataset/contract';
import type { PlaygroundHostMessage } from '../../webviews/src/protocol/playground';
import { parsePlaygroundWebviewMessage } from '../../webviews/src/protocol/playground';
import {
  SAMPLE_DATASET,
  TRAINER_DIR,
  TRAINER_PYTHON,
  needTrainer,
  startTrainerServer,
  tempDir,
  tinyConfig,
} from '../client/fixtures/trainerSupport';
import type { RunningServer } from '../client/fixtures/trainerSupport';
import { browserTier } from '../needs';
import { launchBrowser, openWebview } from './harness';
import type { OpenedWebview } from './harness';

const TINY = 'builtin:tiny-llama';
const PROMPT = 'How do I start a training run?';
const MAX_NEW_TOKENS = 16;

/** Trains the tiny sample config for a few steps with the real trainer; returns its adapter folder. */
async function trainAdapter(): Promise<string> {
  const dir = tempDir('playground-adapter');
  mkdirSync(join(dir, 'support', 'data'), { recursive: true });
  copyFileSync(SAMPLE_DATASET, join(dir, 'support', 'data', 'train.jsonl'));
  writeFileSync(join(dir, 'tiny.finetune.yaml'), tinyConfig(8));
  const child = spawn(TRAINER_PYTHON, ['-m', 'modelfactory_trainer', 'train', 'tiny.finetune.yaml'], {
    cwd: dir,
    env: { ...process.env, PYTHONPATH: TRAINER_DIR },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  if (code !== 0) throw new Error(`training the tiny adapter failed (${code}): ${stderr}`);
  return join(dir, 'outputs', 'tiny-support', 'adapter');
}

interface Endpoint {
  target: string;
  server: RunningServer;
  client: OpenAIEndpointClient;
}

async function endpoint(name: string, args: string[]): Promise<Endpoint> {
  const server = await startTrainerServer(['--openai', '--no-websocket', ...args]);
  const client = new OpenAIEndpointClient({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey: server.token });
  return { target: `openai:${name}`, server, client };
}

/** A greedy reply straight from an endpoint, with the sampling the playground sends. */
async function direct(ep: Endpoint, model: string): Promise<string> {
  let text = '';
  await ep.client.chat(
    model,
    [{ role: 'user', content: PROMPT }],
    null,
    { max_new_tokens: MAX_NEW_TOKENS, temperature: 0, top_p: 0.95, stop: [] },
    (t) => (text += t),
    new AbortController().signal,
  );
  return text;
}

/** Connects the page to a PlaygroundSession: page -> parser -> session, session -> page in order. */
function bridge(view: OpenedWebview, session: PlaygroundSession): () => void {
  let seen = 0;
  const timer = setInterval(() => {
    while (seen < view.posted.length) {
      const message = parsePlaygroundWebviewMessage(view.posted[seen++]);
      assert.ok(message, `the host's parser refused ${JSON.stringify(view.posted[seen - 1])}`);
      void session.onMessage(message);
    }
  }, 10);
  return () => clearInterval(timer);
}

describe('playground: two columns on two real OpenAI-compatible endpoints', browserTier, () => {
  before(needTrainer);
  let browser: Browser;
  let left: Endpoint;
  let right: Endpoint;

  before(async () => {
    const adapter = await trainAdapter();
    [left, right, browser] = await Promise.all([
      endpoint('left', ['--openai-base', TINY]),
      endpoint('right', ['--adapter', `support=${adapter}`]),
      launchBrowser(),
    ]);
  });

  after(async () => {
    await Promise.all([left?.server.stop(), right?.server.stop(), browser?.close()]);
  });

  it('column A runs the base on one endpoint, column B an adapter on another; Prefer appends the pair', async () => {
    const [expectedA, expectedB] = await Promise.all([direct(left, TINY), direct(right, 'support')]);
    assert.ok(expectedA.length > 0 && expectedB.length > 0);

    const endpoints = new Map([left, right].map((ep) => [ep.target, ep]));
    const choices = new EndpointModelChoices();
    const exported: (MessagesRecord | PreferenceRecord)[] = [];
    const warnings: string[] = [];
    const view = await openWebview(browser, 'playground');
    let chain = Promise.resolve();
    const session = new PlaygroundSession(
      {
        log: { warn: (line: string) => warnings.push(line) } as unknown as vscode.LogOutputChannel,
        targets: () => [left, right].map((ep) => ({ id: ep.target, label: ep.target.slice(7), kind: 'openai' })),
        adapters: (target) => choices.list(target, endpoints.get(target)!.client),
        baseModels: async () => [],
        chat: (target, request, onToken, signal) =>
          choices.chat(target, endpoints.get(target)!.client, request, onToken, signal),
        exportRecord: async (record) => void exported.push(record),
      },
      (message: PlaygroundHostMessage) => void (chain = chain.then(() => view.send(message))),
      null,
    );
    const stop = bridge(view, session);
    try {
      const page = view.page;
      const base = `adapter:${modelChoiceId(TINY)}`;
      const tuned = `adapter:${modelChoiceId('support')}`;
      // Both columns start on the first endpoint; column B moves to the other and picks the adapter.
      await page.waitForSelector(`[data-testid="model-select-base"] option[value="${base}"]`, { state: 'attached' });
      await page.selectOption('[data-testid="model-select-base"]', base);
      await page.selectOption('[data-testid="target-select-adapter"]', right.target);
      await page.waitForSelector(`[data-testid="model-select-adapter"] option[value="${tuned}"]`, {
        state: 'attached',
      });
      await page.selectOption('[data-testid="model-select-adapter"]', tuned);

      // Greedy decoding, as a user sets it.
      await page.click('[data-testid="settings"] .collapsible-header');
      await page.locator('[data-field="temperature"] input').fill('0');
      await page.locator('[data-field="max_new_tokens"] input').fill(String(MAX_NEW_TOKENS));
      await page.fill('[data-testid="prompt"]', PROMPT);
      await page.click('[data-action="send"]');
      for (const side of ['base', 'adapter']) {
        await page.waitForSelector(`[data-testid="reply-${side}"][data-state="done"]`, { timeout: 120_000 });
      }
      assert.equal(await page.textContent('[data-testid="reply-base"]'), expectedA);
      assert.equal(await page.textContent('[data-testid="reply-adapter"]'), expectedB);
      assert.match((await page.textContent('[data-testid="reply-adapter"] + .reply-meta')) ?? '', /tokens\/s/);
      assert.equal(await page.textContent('.column-adapter .column-heading'), 'B · support · right');

      const generates = view.posted.filter((m) => (m as { type?: string }).type === 'generate');
      assert.deepEqual(
        generates.map((m) => [(m as { side: string }).side, (m as { target: string }).target]),
        [
          ['base', left.target],
          ['adapter', right.target],
        ],
      );

      await page.selectOption('[data-testid="export-side"]', 'adapter');
      await page.click('[data-action="prefer"]');
      await page.waitForSelector('[data-testid="status"]:has-text("preference pair")', { timeout: 10_000 });
      assert.equal(exported.length, 1);
      const record = exported[0]!;
      assert.deepEqual(record, {
        prompt: [{ role: 'user', content: PROMPT }],
        chosen: [{ role: 'assistant', content: expectedB }],
        rejected: [{ role: 'assistant', content: expectedA }],
      });
      assert.equal(detectFormat(record), 'preference');
      assert.ok(toExample(record, 'preference').ok);
      assert.deepEqual(warnings, []);
      assert.deepEqual(view.pageErrors, []);
      assert.deepEqual(await view.cspViolations(), []);
    } finally {
      stop();
      session.dispose();
      await view.close();
    }
  });
});
