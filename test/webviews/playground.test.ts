// The chat playground's bundle in headless chromium behind the real CSP'd shell: what it posts for
// send, stop, regenerate and export, streamed (hostile) tokens shown as text in the right column, and
// malformed host messages ignored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import type { GenerateMessage } from '../../webviews/src/protocol/playground';
import { parsePlaygroundHostMessage, parsePlaygroundWebviewMessage } from '../../webviews/src/protocol/playground';
import { parsePlaygroundState } from '../../webviews/src/playground/state';
import { modelChoiceId } from '../../client/src/trainer/openaiChat';
import { browserTier } from '../needs';
import { launchBrowser, openWebview } from './harness';
import type { OpenedWebview } from './harness';

const HOSTILE_TOKENS = [
  'Sure',
  '</script><img src=x onerror="window.__xss = 1">',
  '<a href="command:workbench.action.terminal.new">run</a>',
  ' [open](command:workbench.action.terminal.new)',
];

const INIT = {
  type: 'init',
  targets: [{ id: 'local', label: 'Local trainer', kind: 'local' }],
  baseModels: ['builtin:tiny-llama'],
  preset: null,
  generations: [],
};
const ADAPTERS = {
  type: 'adapters',
  target: 'local',
  adapters: [{ jobId: 'job-1', name: 'tiny run', baseModel: 'builtin:tiny-llama', systemPrompt: null }],
};
const TRAINED_PROMPT = 'You answer questions about ModelFactory briefly.';
const XSS_PROMPT = '</textarea><img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>';
/** Adapters with a trained system prompt, without one, with another one, and with a hostile one. */
const PROMPTED_ADAPTERS = {
  type: 'adapters',
  target: 'local',
  adapters: [
    { jobId: 'job-sample', name: 'sample', baseModel: 'builtin:tiny-llama', systemPrompt: TRAINED_PROMPT },
    { jobId: 'job-plain', name: 'plain', baseModel: 'builtin:tiny-llama', systemPrompt: null },
    { jobId: 'job-french', name: 'french', baseModel: 'builtin:tiny-llama', systemPrompt: 'Réponds en français.' },
    { jobId: 'job-xss', name: 'hostile', baseModel: 'builtin:tiny-llama', systemPrompt: XSS_PROMPT },
  ],
};
const RESULT = { tokens: 4, timeToFirstTokenMs: 12.5, tokensPerSecond: 80, finishReason: 'stop' };

/** Opens the playground with the local target and its one adapter chosen. */
async function openReady(browser: Browser, state?: unknown): Promise<OpenedWebview> {
  const view = await openWebview(browser, 'playground', state === undefined ? {} : { state });
  await view.waitForPosted((m) => m['type'] === 'ready');
  await view.send(INIT);
  await view.waitForPosted((m) => m['type'] === 'listAdapters' && m['target'] === 'local');
  await view.send(ADAPTERS);
  await view.page.selectOption(MODEL_B, 'adapter:job-1');
  return view;
}

/** The generate messages posted after the first `skip`, validated by the host's own parser. */
async function generates(view: OpenedWebview, skip: number, count: number): Promise<GenerateMessage[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = view.posted.filter((m) => (m as { type?: string }).type === 'generate').slice(skip);
    if (found.length >= count) {
      return found.map((m) => {
        const parsed = parsePlaygroundWebviewMessage(m);
        assert.ok(parsed && parsed.type === 'generate', `the host would refuse ${JSON.stringify(m)}`);
        return parsed;
      });
    }
    if (Date.now() > deadline)
      throw new Error(`expected ${count} generate messages, got ${JSON.stringify(view.posted)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const bySide = (list: GenerateMessage[], side: string) => list.find((g) => g.side === side)!;

const SYSTEM_BOX = '[data-field="system"]';
/** Each column's pickers: A (left, side 'base') and B (right, side 'adapter'). */
const TARGET_A = '[data-testid="target-select-base"]';
const MODEL_A = '[data-testid="model-select-base"]';
const TARGET_B = '[data-testid="target-select-adapter"]';
const MODEL_B = '[data-testid="model-select-adapter"]';
const HINT = '[data-testid="system-hint"]';

/** What the system prompt box holds. */
async function systemBox(view: OpenedWebview): Promise<string> {
  return (await view.page.evaluate(`document.querySelector('${SYSTEM_BOX}').value`)) as string;
}

/** Types into the system prompt box as a user does: unfolds the settings, fills its inner textarea. */
async function typeSystem(view: OpenedWebview, text: string): Promise<void> {
  const box = view.page.locator(`${SYSTEM_BOX} textarea`);
  if (!(await box.isVisible())) await view.page.click('[data-testid="settings"] .collapsible-header');
  await box.fill(text, { timeout: 3000 });
}

/** Opens the playground with PROMPTED_ADAPTERS listed and none chosen yet. */
async function openPrompted(browser: Browser, state?: unknown): Promise<OpenedWebview> {
  const view = await openWebview(browser, 'playground', state === undefined ? {} : { state });
  await view.waitForPosted((m) => m['type'] === 'ready');
  await view.send(INIT);
  await view.send(PROMPTED_ADAPTERS);
  return view;
}

describe('playground webview', browserTier, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser.close();
  });

  it('sends, streams hostile tokens as text, stops, regenerates, continues and exports', async () => {
    const view = await openReady(browser);
    const page = view.page;
    await page.fill('[data-testid="prompt"]', 'What is LoRA?');
    await page.click('[data-action="send"]');
    const first = await generates(view, 0, 2);
    const base = bySide(first, 'base');
    const adapter = bySide(first, 'adapter');
    assert.deepEqual(
      { ...base, id: 0 },
      {
        type: 'generate',
        id: 0,
        side: 'base',
        target: 'local',
        base: 'builtin:tiny-llama',
        adapterJobId: null,
        system: null,
        messages: [{ role: 'user', content: 'What is LoRA?' }],
        params: { max_new_tokens: 128, temperature: 0.7, top_p: 0.95, seed: null, stop: [] },
      },
    );
    assert.equal(adapter.adapterJobId, 'job-1');
    assert.equal(adapter.base, null);
    assert.notEqual(adapter.id, base.id);
    assert.equal(await page.getAttribute('[data-testid="reply-adapter"]', 'data-state'), 'streaming');

    for (const text of HOSTILE_TOKENS) await view.send({ type: 'tokens', id: adapter.id, text });
    await view.send({ type: 'tokens', id: base.id, text: 'A radio protocol.' });
    assert.equal(await page.textContent('[data-testid="reply-adapter"]'), HOSTILE_TOKENS.join(''));
    assert.equal(await page.textContent('[data-testid="reply-base"]'), 'A radio protocol.');
    assert.equal(await page.evaluate('document.querySelectorAll("img, a, script:not([nonce])").length'), 0);
    assert.equal(await page.evaluate('window.__xss'), undefined);

    await page.click('[data-action="stop"]');
    await view.waitForPosted((m) => m['type'] === 'stop');
    assert.deepEqual(parsePlaygroundWebviewMessage({ type: 'stop' }), { type: 'stop' });
    await view.send({ type: 'done', id: adapter.id, result: { ...RESULT, finishReason: 'cancelled' } });
    await view.send({ type: 'done', id: base.id, result: RESULT });
    assert.equal(await page.getAttribute('[data-testid="reply-adapter"]', 'data-state'), 'done');
    assert.match(
      (await page.textContent('[data-testid="reply-adapter"] + .reply-meta')) ?? '',
      /^first token 13 ms · 80\.0 tokens\/s · 4 tokens · stopped$/,
    );

    // Regenerate: the same prompt again on both sides, with new ids and without the old replies.
    await page.click('[data-action="regenerate"]');
    const again = await generates(view, 2, 2);
    assert.deepEqual(
      again.map((g) => g.messages),
      [[{ role: 'user', content: 'What is LoRA?' }], [{ role: 'user', content: 'What is LoRA?' }]],
    );
    assert.ok(again.every((g) => g.id !== base.id && g.id !== adapter.id));
    await view.send({ type: 'tokens', id: bySide(again, 'adapter').id, text: 'Low-rank adapters.' });
    await view.send({ type: 'done', id: bySide(again, 'adapter').id, result: RESULT });
    await view.send({ type: 'failed', id: bySide(again, 'base').id, message: 'model: out of memory' });
    assert.equal(await page.getAttribute('[data-testid="reply-base"]', 'data-state'), 'error');
    assert.equal(await page.textContent('[data-testid="reply-adapter"]'), 'Low-rank adapters.');

    // A second turn by Ctrl+Enter carries each side's own history.
    await page.fill('[data-testid="prompt"]', 'And QLoRA?');
    await page.press('[data-testid="prompt"]', 'Control+Enter');
    const second = await generates(view, 4, 2);
    assert.deepEqual(bySide(second, 'adapter').messages, [
      { role: 'user', content: 'What is LoRA?' },
      { role: 'assistant', content: 'Low-rank adapters.' },
      { role: 'user', content: 'And QLoRA?' },
    ]);
    assert.deepEqual(bySide(second, 'base').messages, [{ role: 'user', content: 'And QLoRA?' }]);
    await view.send({ type: 'tokens', id: bySide(second, 'adapter').id, text: '4-bit LoRA.' });
    await view.send({ type: 'done', id: bySide(second, 'adapter').id, result: RESULT });
    await view.send({ type: 'done', id: bySide(second, 'base').id, result: RESULT });

    await page.click('[data-action="export"]');
    const exported = parsePlaygroundWebviewMessage(await view.waitForPosted((m) => m['type'] === 'export'));
    assert.deepEqual(exported, {
      type: 'export',
      side: 'adapter',
      system: null,
      turns: [
        { user: 'What is LoRA?', base: null, adapter: 'Low-rank adapters.' },
        { user: 'And QLoRA?', base: '', adapter: '4-bit LoRA.' },
      ],
    });
    await view.send({ type: 'exported', ok: true, message: 'Appended a record to data/curated.jsonl' });
    assert.equal(await page.textContent('[data-testid="status"]'), 'Appended a record to data/curated.jsonl');

    // "Prefer this answer" posts the same conversation for a preference pair (the selected side chosen).
    await page.click('[data-action="prefer"]');
    const preferred = parsePlaygroundWebviewMessage(await view.waitForPosted((m) => m['type'] === 'prefer'));
    assert.deepEqual(preferred, { ...exported, type: 'prefer' });
    assert.deepEqual(view.pageErrors, []);
    assert.deepEqual(await view.cspViolations(), []);
    await view.close();
  });

  it('ignores malformed host messages and tokens for requests it did not make', async () => {
    const view = await openReady(browser);
    await view.page.fill('[data-testid="prompt"]', 'hi');
    await view.page.click('[data-action="send"]');
    const [g] = await generates(view, 0, 1);
    const id = g!.id;
    const bad: unknown[] = [
      { type: 'tokens', id, text: 'X', extra: true },
      { type: 'tokens', id, text: 42 },
      { type: 'tokens', id: -1, text: 'X' },
      { type: 'tokens', id: 9999, text: 'X' },
      { type: 'tokens', id, text: 'X'.repeat(200_000) },
      { type: 'done', id, result: { ...RESULT, finishReason: 'exploded' } },
      { type: 'html', id, html: '<img src=x onerror="window.__xss = 1">' },
      { type: 'adapters', target: 'local', adapters: [{ jobId: '../../x', name: 'n', baseModel: 'm' }] },
      'tokens',
    ];
    for (const message of bad) await view.send(message);
    await view.page.waitForTimeout(100);
    assert.equal(await view.page.textContent('[data-testid="reply-base"]'), '');
    assert.equal(await view.page.getAttribute('[data-testid="reply-base"]', 'data-state'), 'streaming');
    assert.equal(await view.page.locator(`${MODEL_B} option`).count(), 3);
    assert.equal(await view.page.evaluate('window.__xss'), undefined);
    await view.send({ type: 'tokens', id, text: 'ok' });
    assert.equal(await view.page.textContent('[data-testid="reply-base"]'), 'ok');
    await view.close();
  });

  it('restores its conversation after a reload and catches up on replies streamed meanwhile', async () => {
    const view = await openReady(browser);
    await view.page.fill('[data-testid="prompt"]', 'hello');
    await view.page.click('[data-action="send"]');
    const list = await generates(view, 0, 2);
    await view.send({ type: 'tokens', id: bySide(list, 'adapter').id, text: 'Hel' });
    await view.page.waitForTimeout(400);
    const state = await view.savedState();
    await view.close();

    const reloaded = await openWebview(browser, 'playground', { state });
    await reloaded.waitForPosted((m) => m['type'] === 'ready');
    await reloaded.send({
      ...INIT,
      generations: [{ id: bySide(list, 'adapter').id, text: 'Hello there', result: RESULT, error: null }],
    });
    await reloaded.send(ADAPTERS);
    assert.equal(await reloaded.page.textContent('[data-testid="reply-adapter"]'), 'Hello there');
    assert.equal(await reloaded.page.getAttribute('[data-testid="reply-adapter"]', 'data-state'), 'done');
    // The base reply the host no longer knows cannot finish: it ends as an error, not a stuck spinner.
    assert.equal(await reloaded.page.getAttribute('[data-testid="reply-base"]', 'data-state'), 'error');
    assert.equal(await reloaded.page.inputValue(MODEL_B), 'adapter:job-1');
    await reloaded.close();
  });
});

describe('playground: the system prompt an adapter was trained with', browserTier, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser.close();
  });

  it('fills an empty system box, shows the hint, and both sides are sent that prompt', async () => {
    const view = await openPrompted(browser);
    const page = view.page;
    assert.equal(await systemBox(view), '');
    assert.equal(await page.isVisible(HINT), false);
    await page.selectOption(MODEL_B, 'adapter:job-sample');
    assert.equal(await systemBox(view), TRAINED_PROMPT);
    assert.equal(await page.isVisible(HINT), true, 'the settings unfold to show the hint');
    assert.match((await page.textContent(HINT)) ?? '', /^System prompt this adapter was trained with\s*clear$/);

    await page.fill('[data-testid="prompt"]', 'What is ModelFactory?');
    await page.click('[data-action="send"]');
    const sent = await generates(view, 0, 2);
    assert.deepEqual(
      sent.map((g) => [g.side, g.system]),
      [
        ['base', TRAINED_PROMPT],
        ['adapter', TRAINED_PROMPT],
      ],
    );
    assert.equal(bySide(sent, 'adapter').adapterJobId, 'job-sample');
    for (const g of sent) await view.send({ type: 'done', id: g.id, result: RESULT });
    await page.click('[data-action="export"]');
    const exported = await view.waitForPosted((m) => m['type'] === 'export');
    assert.equal(exported['system'], TRAINED_PROMPT);

    // Another adapter's prompt replaces the untouched suggestion; one without a prompt empties it.
    await page.selectOption(MODEL_B, 'adapter:job-french');
    assert.equal(await systemBox(view), 'Réponds en français.');
    assert.equal(await page.isVisible(HINT), true);
    await page.selectOption(MODEL_B, 'adapter:job-plain');
    assert.equal(await systemBox(view), '');
    assert.equal(await page.isVisible(HINT), false);
    await page.selectOption(MODEL_B, 'adapter:job-sample');
    assert.equal(await systemBox(view), TRAINED_PROMPT);

    // "clear" empties the box and hides the hint.
    await page.click('[data-action="clear-system"]');
    assert.equal(await systemBox(view), '');
    assert.equal(await page.isVisible(HINT), false);
    assert.deepEqual(view.pageErrors, []);
    assert.deepEqual(await view.cspViolations(), []);
    await view.close();
  });

  it('never overwrites a prompt the user typed, nor one the user edited from a suggestion', async () => {
    const view = await openPrompted(browser);
    const page = view.page;
    await typeSystem(view, 'Be terse.');
    await page.selectOption(MODEL_B, 'adapter:job-sample');
    assert.equal(await systemBox(view), 'Be terse.');
    assert.equal(await page.isVisible(HINT), false);
    await page.selectOption(MODEL_B, 'adapter:job-plain');
    assert.equal(await systemBox(view), 'Be terse.', 'an adapter without a prompt leaves a typed one alone');

    await typeSystem(view, '');
    await page.selectOption(MODEL_B, 'adapter:job-sample');
    assert.equal(await systemBox(view), TRAINED_PROMPT);
    await typeSystem(view, `${TRAINED_PROMPT} Use examples.`);
    assert.equal(await page.isVisible(HINT), false, "an edited suggestion is the user's prompt");
    await page.selectOption(MODEL_B, 'adapter:job-plain');
    assert.equal(await systemBox(view), `${TRAINED_PROMPT} Use examples.`);
    await page.selectOption(MODEL_B, 'adapter:job-french');
    assert.equal(await systemBox(view), `${TRAINED_PROMPT} Use examples.`);

    await page.fill('[data-testid="prompt"]', 'hi');
    await page.click('[data-action="send"]');
    const sent = await generates(view, 0, 2);
    assert.ok(sent.every((g) => g.system === `${TRAINED_PROMPT} Use examples.`));
    await view.close();
  });

  it('a preset adapter gets its prompt; the suggestion survives a reload, and a cleared one is not offered again', async () => {
    const view = await openWebview(browser, 'playground');
    await view.waitForPosted((m) => m['type'] === 'ready');
    await view.send({ ...INIT, preset: { target: 'local', adapterJobId: 'job-sample' } });
    await view.send(PROMPTED_ADAPTERS);
    assert.equal(await view.page.inputValue(MODEL_B), 'adapter:job-sample');
    assert.equal(await systemBox(view), TRAINED_PROMPT);
    const suggested = await view.savedState();
    await view.page.click('[data-action="clear-system"]');
    const cleared = await view.savedState();
    await view.close();

    const reloaded = await openPrompted(browser, suggested);
    assert.equal(await systemBox(reloaded), TRAINED_PROMPT);
    assert.equal(await reloaded.page.isVisible(HINT), true);
    // Still an untouched suggestion after the reload: another adapter's replaces it.
    await reloaded.page.selectOption(MODEL_B, 'adapter:job-french');
    assert.equal(await systemBox(reloaded), 'Réponds en français.');
    await reloaded.close();

    const afterClear = await openPrompted(browser, cleared);
    assert.equal(await afterClear.page.inputValue(MODEL_B), 'adapter:job-sample');
    assert.equal(await systemBox(afterClear), '', 'the user cleared it: a reload does not bring it back');
    assert.equal(await afterClear.page.isVisible(HINT), false);
    await afterClear.close();
  });

  it('ignores adapters messages with a malformed system prompt, and shows a hostile one as text', async () => {
    const view = await openWebview(browser, 'playground');
    await view.waitForPosted((m) => m['type'] === 'ready');
    await view.send(INIT);
    await view.send(ADAPTERS);
    const options = () => view.page.evaluate(`[...document.querySelectorAll('${MODEL_B} option')].map((o) => o.value)`);
    assert.deepEqual(await options(), ['', 'base:builtin:tiny-llama', 'adapter:job-1']);
    const adapter = { jobId: 'job-bad', name: 'bad', baseModel: 'builtin:tiny-llama' };
    const malformed = [
      { ...adapter, systemPrompt: 42 },
      { ...adapter, systemPrompt: 'x'.repeat(20_001) },
      { ...adapter, systemPrompt: ['You are helpful.'] },
      adapter,
    ];
    for (const bad of malformed) {
      await view.send({ type: 'adapters', target: 'local', adapters: [bad] });
      assert.equal(parsePlaygroundHostMessage({ type: 'adapters', target: 'local', adapters: [bad] }), null);
    }
    assert.deepEqual(
      await options(),
      ['', 'base:builtin:tiny-llama', 'adapter:job-1'],
      'the listed adapters stay as they were',
    );

    await view.send(PROMPTED_ADAPTERS);
    await view.page.selectOption(MODEL_B, 'adapter:job-xss');
    assert.equal(await systemBox(view), XSS_PROMPT);
    assert.equal(await view.page.evaluate('document.querySelectorAll("img, script:not([nonce])").length'), 0);
    assert.equal(await view.page.evaluate('window.__xss'), undefined);
    assert.deepEqual(await view.cspViolations(), []);
    assert.deepEqual(view.pageErrors, []);
    await view.close();
  });
});

/** A saved state without its one-target pickers (`target`, `base`, `adapterJobId`). */
function withoutPickers(state: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(state).filter(([key]) => !['target', 'base', 'adapterJobId'].includes(key)));
}

describe('playground saved state', () => {
  const saved = {
    target: 'local',
    base: 'builtin:tiny-llama',
    adapterJobId: 'job-1',
    system: '',
    params: { max_new_tokens: 128, temperature: 0.7, top_p: 0.95, seed: null, stop: [] },
    exportSide: 'adapter',
    draft: '',
    turns: [],
    nextId: 1,
  };

  it('reads state saved before the trained-prompt suggestion, and refuses a malformed suggestion', () => {
    const rest = withoutPickers(saved);
    const columns = {
      base: { target: 'local', base: 'builtin:tiny-llama', adapterJobId: null },
      adapter: { target: 'local', base: null, adapterJobId: 'job-1' },
    };
    assert.deepEqual(parsePlaygroundState(saved), { ...rest, columns, suggestedSystem: null, systemOfferedFor: null });
    const withSuggestion = {
      ...rest,
      columns,
      system: TRAINED_PROMPT,
      suggestedSystem: TRAINED_PROMPT,
      systemOfferedFor: 'job-1',
    };
    assert.deepEqual(parsePlaygroundState(withSuggestion), withSuggestion);
    assert.equal(parsePlaygroundState({ ...saved, suggestedSystem: 3 }), null);
    assert.equal(parsePlaygroundState({ ...saved, systemOfferedFor: '../../x' }), null);
  });

  it('reads state saved with one target as two columns on it, and refuses malformed columns', () => {
    const rest = withoutPickers(saved);
    const good = {
      base: { target: 'openai:vllm', base: null, adapterJobId: 'm0123' },
      adapter: { target: 'local', base: null, adapterJobId: 'job-1' },
    };
    assert.deepEqual(parsePlaygroundState({ ...rest, columns: good })?.columns, good);
    const bad: unknown[] = [
      { ...good, third: good.base },
      { ...good, base: { ...good.base, adapterJobId: '../../x' } },
      { ...good, base: { ...good.base, extra: 1 } },
      { ...good, adapter: null },
    ];
    for (const columns of bad) assert.equal(parsePlaygroundState({ ...rest, columns }), null, JSON.stringify(columns));
    // The old keys and the new one together are not a state either version wrote.
    assert.equal(parsePlaygroundState({ ...saved, columns: good }), null);
  });
});

describe('playground protocol (host side)', () => {
  const valid: GenerateMessage = {
    type: 'generate',
    id: 7,
    side: 'adapter',
    target: 'local',
    base: null,
    adapterJobId: 'job-1',
    system: null,
    messages: [{ role: 'user', content: 'hi' }],
    params: { max_new_tokens: 16, temperature: 0, top_p: 1, seed: 1, stop: ['\n\n'] },
  };

  it('refuses hostile webview messages and accepts well-formed ones', () => {
    assert.deepEqual(parsePlaygroundWebviewMessage(valid), valid);
    const hostile: unknown[] = [
      { ...valid, adapterJobId: '../../outside' },
      { ...valid, side: 'base', base: '' },
      { ...valid, side: 'base', base: 'builtin:tiny-llama', adapterJobId: '../x' },
      { ...valid, side: 'base', base: null, adapterJobId: null },
      { ...valid, side: 'both' },
      { ...valid, id: -1 },
      { ...valid, messages: [] },
      { ...valid, messages: [{ role: 'system', content: 'smuggled' }] },
      { ...valid, messages: [{ role: 'user', content: 'x'.repeat(100_001) }] },
      { ...valid, params: { ...valid.params, temperature: 10 } },
      { ...valid, params: { ...valid.params, top_p: 2 } },
      { ...valid, params: { ...valid.params, max_new_tokens: 0 } },
      { ...valid, params: { ...valid.params, stop: Array(9).fill('x') } },
      { ...valid, params: { ...valid.params, trust_remote_code: true } },
      { ...valid, cwd: '/tmp' },
      JSON.parse(`{"type":"stop","__proto__":{"polluted":true}}`),
      { type: 'export', side: 'both', system: null, turns: [] },
      { type: 'export', side: 'base', system: null, turns: [{ user: 1, base: null, adapter: null }] },
      { type: 'prefer', side: 'both', system: null, turns: [] },
      { type: 'prefer', side: 'base', system: null, turns: [], path: '/etc/passwd' },
      { type: 'listAdapters', target: '' },
      { type: 'openFile', path: '../../.ssh/id_rsa' },
      null,
    ];
    for (const message of hostile)
      assert.equal(parsePlaygroundWebviewMessage(message), null, JSON.stringify(message).slice(0, 200));
  });
});

describe('playground: two columns on two targets', browserTier, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser.close();
  });

  const VLLM = { id: 'openai:vllm', label: 'vllm (OpenAI-compatible)', kind: 'openai' };
  const TWO_TARGETS = { ...INIT, targets: [...INIT.targets, VLLM] };
  const ENDPOINT_MODELS = ['meta-llama/Llama-3.1-8B-Instruct', 'sql-lora'].map((id) => ({
    jobId: modelChoiceId(id),
    name: id,
    baseModel: id,
    systemPrompt: null,
  }));
  const optionValues = (view: OpenedWebview, select: string) =>
    view.page.evaluate(`[...document.querySelectorAll('${select} option')].map((o) => o.value)`);

  it('each column picks its own target and model; generations, headings and a preference pair follow', async () => {
    const view = await openWebview(browser, 'playground');
    const page = view.page;
    await view.waitForPosted((m) => m['type'] === 'ready');
    await view.send(TWO_TARGETS);
    await view.waitForPosted((m) => m['type'] === 'listAdapters' && m['target'] === 'local');
    await view.send(ADAPTERS);
    assert.deepEqual(await optionValues(view, TARGET_A), ['local', 'openai:vllm']);
    assert.deepEqual(await optionValues(view, TARGET_B), ['local', 'openai:vllm']);

    // Column A on the endpoint: its model list is the endpoint's models only, asked for when picked.
    await page.selectOption(TARGET_A, 'openai:vllm');
    await view.waitForPosted((m) => m['type'] === 'listAdapters' && m['target'] === 'openai:vllm');
    await view.send({ type: 'adapters', target: 'openai:vllm', adapters: ENDPOINT_MODELS });
    assert.deepEqual(await optionValues(view, MODEL_A), ['', ...ENDPOINT_MODELS.map((m) => `adapter:${m.jobId}`)]);
    await page.selectOption(MODEL_A, `adapter:${ENDPOINT_MODELS[1]!.jobId}`);
    // Column B stays on the job server and runs its adapter; A, on another target, keeps its model.
    assert.deepEqual(await optionValues(view, MODEL_B), ['', 'base:builtin:tiny-llama', 'adapter:job-1']);
    await page.selectOption(MODEL_B, 'adapter:job-1');
    assert.equal(await page.inputValue(MODEL_A), `adapter:${ENDPOINT_MODELS[1]!.jobId}`);
    assert.equal(await page.textContent('.column-base .column-heading'), 'A · sql-lora · vllm (OpenAI-compatible)');
    assert.equal(await page.textContent('.column-adapter .column-heading'), 'B · adapter tiny run · Local trainer');

    await page.fill('[data-testid="prompt"]', 'Write a query for the top customers.');
    await page.click('[data-action="send"]');
    const sent = await generates(view, 0, 2);
    const a = bySide(sent, 'base');
    const b = bySide(sent, 'adapter');
    assert.deepEqual(
      [a.target, a.base, a.adapterJobId],
      ['openai:vllm', null, ENDPOINT_MODELS[1]!.jobId],
      'column A names the endpoint model it picked',
    );
    assert.deepEqual([b.target, b.base, b.adapterJobId], ['local', null, 'job-1']);
    await view.send({ type: 'tokens', id: a.id, text: 'SELECT name FROM customers;' });
    await view.send({ type: 'tokens', id: b.id, text: 'SELECT name FROM customers ORDER BY total DESC LIMIT 10;' });
    for (const g of sent) await view.send({ type: 'done', id: g.id, result: RESULT });

    // Prefer this answer: the picked adapter's column is selected; the other column's answer is the rejected one.
    assert.equal(await page.inputValue('[data-testid="export-side"]'), 'adapter');
    await page.click('[data-action="prefer"]');
    const preferred = parsePlaygroundWebviewMessage(await view.waitForPosted((m) => m['type'] === 'prefer'));
    assert.deepEqual(preferred, {
      type: 'prefer',
      side: 'adapter',
      system: null,
      turns: [
        {
          user: 'Write a query for the top customers.',
          base: 'SELECT name FROM customers;',
          adapter: 'SELECT name FROM customers ORDER BY total DESC LIMIT 10;',
        },
      ],
    });

    // Both columns may also be the same target's two models; a reload keeps each column's choice.
    const state = await view.savedState();
    assert.deepEqual((state as { columns: unknown }).columns, {
      base: { target: 'openai:vllm', base: null, adapterJobId: ENDPOINT_MODELS[1]!.jobId },
      adapter: { target: 'local', base: null, adapterJobId: 'job-1' },
    });
    assert.deepEqual(view.pageErrors, []);
    assert.deepEqual(await view.cspViolations(), []);
    await view.close();

    const reloaded = await openWebview(browser, 'playground', { state });
    await reloaded.waitForPosted((m) => m['type'] === 'ready');
    await reloaded.send(TWO_TARGETS);
    await reloaded.waitForPosted((m) => m['type'] === 'listAdapters' && m['target'] === 'openai:vllm');
    await reloaded.waitForPosted((m) => m['type'] === 'listAdapters' && m['target'] === 'local');
    await reloaded.send({ type: 'adapters', target: 'openai:vllm', adapters: ENDPOINT_MODELS });
    await reloaded.send(ADAPTERS);
    assert.equal(await reloaded.page.inputValue(TARGET_A), 'openai:vllm');
    assert.equal(await reloaded.page.inputValue(MODEL_A), `adapter:${ENDPOINT_MODELS[1]!.jobId}`);
    assert.equal(await reloaded.page.inputValue(MODEL_B), 'adapter:job-1');
    assert.equal(
      await reloaded.page.textContent('[data-testid="reply-adapter"]'),
      'SELECT name FROM customers ORDER BY total DESC LIMIT 10;',
    );
    await reloaded.close();
  });

  it('an adapter picked on the job server sets the other column, on the same target, to its base model', async () => {
    const view = await openPrompted(browser);
    await view.page.selectOption(MODEL_A, 'base:builtin:tiny-llama');
    await view.send({
      type: 'adapters',
      target: 'local',
      adapters: [
        ...PROMPTED_ADAPTERS.adapters,
        { jobId: 'job-qwen', name: 'qwen', baseModel: 'Qwen/Qwen2.5-0.5B', systemPrompt: null },
      ],
    });
    await view.page.selectOption(MODEL_B, 'adapter:job-qwen');
    assert.equal(await view.page.inputValue(MODEL_A), 'base:Qwen/Qwen2.5-0.5B');
    // Column A may run an adapter too: then B's pick leaves it alone.
    await view.page.selectOption(MODEL_A, 'adapter:job-plain');
    await view.page.selectOption(MODEL_B, 'adapter:job-sample');
    assert.equal(await view.page.inputValue(MODEL_A), 'adapter:job-plain');
    await view.page.fill('[data-testid="prompt"]', 'hi');
    await view.page.click('[data-action="send"]');
    const sent = await generates(view, 0, 2);
    assert.deepEqual(
      sent.map((g) => [g.side, g.adapterJobId]),
      [
        ['base', 'job-plain'],
        ['adapter', 'job-sample'],
      ],
    );
    // With no model in column B, only column A answers.
    for (const g of sent) await view.send({ type: 'done', id: g.id, result: RESULT });
    await view.page.selectOption(MODEL_B, '');
    await view.page.fill('[data-testid="prompt"]', 'again');
    await view.page.click('[data-action="send"]');
    const only = await generates(view, 2, 1);
    await view.page.waitForTimeout(100);
    assert.equal(view.posted.filter((m) => (m as { type?: string }).type === 'generate').length, 3);
    assert.equal(only[0]!.side, 'base');
    assert.deepEqual(view.pageErrors, []);
    await view.close();
  });
});
