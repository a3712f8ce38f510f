// The hyperparameter panel's bundle in headless chromium, served exactly as VS Code renders it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { formChoices } from '../../client/src/config/formChoices';
import { readForm } from '../../client/src/config/formModel';
import { parseWebviewMessage } from '../../webviews/src/protocol/hyperparameters';
import type { DiagnosticView, StateMessage } from '../../webviews/src/protocol/hyperparameters';
import { browserTier } from '../needs';
import { launchBrowser, openWebview } from './harness';
import type { OpenedWebview } from './harness';

const TINY = readFileSync(join(__dirname, '..', '..', 'samples', 'workspace', 'tiny.finetune.yaml'), 'utf8');

function stateOf(text: string, extra: Partial<StateMessage> = {}): StateMessage {
  const { values, parseError } = readForm(text);
  return {
    type: 'state',
    uri: 'file:///workspace/tiny.finetune.yaml',
    fileName: 'tiny.finetune.yaml',
    values,
    parseError,
    choices: formChoices(values, { localModels: ['models/local-llama'], endpointNames: ['gpu-box'] }),
    diagnostics: [],
    memory: {
      model: 'builtin:tiny-llama',
      totalBytes: 1.5 * 1024 ** 3,
      gpuMemoryBytes: 24 * 1024 ** 3,
      loraParameterCount: 123456,
      breakdown: [
        { label: 'CUDA context and allocator', bytes: 1024 ** 3 },
        { label: 'Activations', bytes: 0.5 * 1024 ** 3 },
      ],
    },
    ...extra,
  };
}

/** The value a form control shows (custom elements keep it in a property, not an attribute). */
async function fieldValue(view: OpenedWebview, path: string): Promise<unknown> {
  // A string, not a function: the root tsconfig has no DOM types, and the page runs it as is.
  return view.page.evaluate(`(() => {
    const element = document.querySelector('[data-field="${path}"]');
    if (!element) return 'missing';
    return element.tagName === 'VSCODE-CHECKBOX' ? element.checked : element.value;
  })()`);
}

/** Waits until the field shows `expected`. */
async function waitForField(view: OpenedWebview, path: string, expected: string): Promise<void> {
  await view.page.waitForFunction(
    `document.querySelector('[data-field="${path}"]')?.value === ${JSON.stringify(expected)}`,
  );
}

async function waitForTitle(view: OpenedWebview, title: string): Promise<void> {
  await view.page.waitForFunction(`document.querySelector('h1.file-name')?.textContent === ${JSON.stringify(title)}`);
}

async function opened(): Promise<OpenedWebview> {
  const view = await openWebview(browser!, 'hyperparameters');
  await view.waitForPosted((m) => m['type'] === 'ready');
  await view.send(stateOf(TINY));
  await waitForTitle(view, 'tiny.finetune.yaml');
  return view;
}

let browser: Browser | undefined;
const skip = browserTier.skip ?? false;

before(async () => {
  if (!skip) browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('the form shows the sample config, the memory estimate and the hooks the e2e tests use', { skip }, async () => {
  const view = await opened();
  try {
    assert.equal(await fieldValue(view, 'base_model'), 'builtin:tiny-llama');
    assert.equal(await fieldValue(view, 'method'), 'lora');
    assert.equal(await fieldValue(view, 'lora.r'), '16');
    assert.equal(await fieldValue(view, 'training.learning_rate'), '0.01');
    assert.equal(await fieldValue(view, 'training.precision'), 'fp32');
    assert.equal(await fieldValue(view, 'training.gradient_checkpointing'), false);
    assert.deepEqual(await fieldValue(view, 'lora.target_modules'), [
      'q_proj',
      'k_proj',
      'v_proj',
      'o_proj',
      'gate_proj',
      'up_proj',
      'down_proj',
    ]);
    assert.equal(await fieldValue(view, 'target'), 'local');
    const memory = await view.page.locator('[data-testid="memory-estimate"]').innerText();
    assert.match(memory, /1\.5 GiB of 24\.0 GiB/);
    assert.match(memory, /Activations/);
    assert.equal(
      await view.page.locator('[data-testid="memory-summary"]').innerText(),
      '≈ 1.5 GiB of 24.0 GiB GPU memory',
    );
    assert.equal(await view.page.locator('[data-action="train"]').isVisible(), true);
    assert.equal(await view.page.locator('[data-testid="diagnostics"]').isVisible(), true);
    const csp = await view.page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.match(csp ?? '', /default-src 'none'/);
    assert.deepEqual(await view.cspViolations(), []);
    assert.deepEqual(view.pageErrors, []);
  } finally {
    await view.close();
  }
});

test('typing a rank posts one valid set (debounced) and Train posts train', { skip }, async () => {
  const view = await opened();
  try {
    const input = view.page.locator('[data-field="lora.r"] input');
    await input.fill('32');
    const set = await view.waitForPosted((m) => m['type'] === 'set');
    assert.deepEqual(set, { type: 'set', path: 'lora.r', value: 32 });
    assert.deepEqual(parseWebviewMessage(set), set, 'the host accepts it');
    await input.blur();
    await view.page.waitForTimeout(100);
    assert.equal(view.posted.filter((m) => (m as { type: string }).type === 'set').length, 1, 'blur does not resend');

    await input.fill('abc');
    await input.blur();
    await view.page.waitForTimeout(500);
    assert.equal(
      view.posted.filter((m) => (m as { type: string }).type === 'set').length,
      1,
      'not a number: nothing sent',
    );

    await view.page.locator('[data-action="train"]').click();
    await view.waitForPosted((m) => m['type'] === 'train');
  } finally {
    await view.close();
  }
});

test('a host state updates the fields, but not the one being typed in', { skip }, async () => {
  const view = await opened();
  try {
    const edited = TINY.replace('r: 16', 'r: 64')
      .replace('precision: fp32', 'precision: bf16')
      .replace('gradient_checkpointing: false', 'gradient_checkpointing: true');
    await view.send(stateOf(edited));
    await waitForField(view, 'lora.r', '64');
    assert.equal(await fieldValue(view, 'training.precision'), 'bf16');
    assert.equal(await fieldValue(view, 'training.gradient_checkpointing'), true);

    await view.page.locator('[data-field="lora.alpha"] input').focus();
    await view.page.keyboard.type('7');
    await view.send(stateOf(edited.replace('alpha: 32', 'alpha: 99').replace('epochs: 60', 'epochs: 5')));
    await waitForField(view, 'training.epochs', '5');
    assert.equal(await fieldValue(view, 'lora.alpha'), '327', 'the field being typed in keeps what the user typed');
  } finally {
    await view.close();
  }
});

test('diagnostics with XSS payloads render as text; nothing executes', { skip }, async () => {
  const view = await opened();
  try {
    const payloads = [
      '<img src=x onerror="window.__pwned=1">',
      '</script><script>window.__pwned=2</script>',
      '<a href="command:workbench.action.quit">quit</a>',
    ];
    const diagnostics: DiagnosticView[] = payloads.map((message, i) => ({
      path: i === 0 ? 'lora.r' : null,
      line: 11 + i,
      severity: 'error',
      message,
      ruleId: '<b>config/schema</b>',
    }));
    await view.send(stateOf(TINY, { diagnostics }));
    const box = view.page.locator('[data-testid="diagnostics"]');
    await view.page.locator('[data-testid="diagnostics"] li').nth(2).waitFor();
    const text = await box.innerText();
    for (const payload of payloads) assert.ok(text.includes(payload), `shown as text: ${payload}`);
    assert.equal(await view.page.locator('img, script:not([src]), a[href^="command:"], b').count(), 0);
    assert.equal(await view.page.evaluate('window.__pwned ?? null'), null);
    assert.match(
      await view.page.locator('[data-field="lora.r"]').locator('xpath=..').innerText(),
      /onerror/,
      'shown beside its field',
    );

    await view.page.locator('[data-testid="diagnostics"] [data-action="reveal"]').first().click();
    assert.deepEqual(await view.waitForPosted((m) => m['type'] === 'reveal'), { type: 'reveal', line: 11 });
    assert.deepEqual(view.pageErrors, []);
  } finally {
    await view.close();
  }
});

test('a malformed host message is ignored; the state survives a reload', { skip }, async () => {
  const view = await opened();
  try {
    const good = stateOf(TINY);
    const bad: unknown[] = [
      { type: 'state' },
      { ...good, values: { ...good.values, 'lora.r': { value: '<img>', status: 'ok', raw: null } } },
      { ...good, extra: 1 },
      { ...good, diagnostics: [{ path: '../x', line: 1, severity: 'error', message: 'x', ruleId: null }] },
      { ...good, type: 'run' },
      'state',
      null,
    ];
    for (const message of bad) await view.send({ ...(message as object), fileName: 'evil.yaml' });
    await view.send(null);
    await view.page.waitForTimeout(200);
    assert.equal(await view.page.locator('h1.file-name').innerText(), 'tiny.finetune.yaml');
    assert.equal(await fieldValue(view, 'lora.r'), '16');

    const saved = await view.savedState();
    const reloaded = await openWebview(browser!, 'hyperparameters', { state: saved });
    try {
      await waitForTitle(reloaded, 'tiny.finetune.yaml');
      assert.equal(await fieldValue(reloaded, 'lora.r'), '16');
      await reloaded.waitForPosted((m) => m['type'] === 'ready');
    } finally {
      await reloaded.close();
    }
  } finally {
    await view.close();
  }
});
