// The chat playground: one prompt sent to two models side by side, each column with its own target (a job
// server's base models and adapters, or any OpenAI-compatible endpoint's models): replies streamed token by
// token, sampling parameters, a system prompt, stop and regenerate, and the conversation exported as a
// dataset record or a preference pair. Model output is untrusted: it only ever becomes text nodes.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '../shared/base.css';
import './playground.css';
import type {
  AdapterChoice,
  GenerationSnapshot,
  PlaygroundHostMessage,
  PlaygroundTarget,
  PlaygroundWebviewMessage,
  SamplingParams,
  Side,
} from '../protocol/playground';
import { PLAYGROUND_LIMITS, SIDES, parsePlaygroundHostMessage } from '../protocol/playground';
import { el, formatNumber } from '../shared/dom';
import { loadState, onHostMessage, post, saveState } from '../shared/vscode';
import type { ColumnChoice, PlaygroundState, Reply, Turn } from './state';
import { DEFAULT_PARAMS, historyFor, parsePlaygroundState } from './state';

type ValueElement = HTMLElement & { value: string };

const send = (m: PlaygroundWebviewMessage) => post(m);

const state: PlaygroundState = loadState(parsePlaygroundState) ?? {
  columns: {
    base: { target: null, base: null, adapterJobId: null },
    adapter: { target: null, base: null, adapterJobId: null },
  },
  system: '',
  suggestedSystem: null,
  systemOfferedFor: null,
  params: { ...DEFAULT_PARAMS },
  exportSide: 'adapter',
  draft: '',
  turns: [],
  nextId: 1,
};
let targets: PlaygroundTarget[] = [];
/** Each listed target's adapters (an OpenAI-compatible endpoint's: its models), as the host last sent them. */
const adaptersByTarget = new Map<string, AdapterChoice[]>();
let baseModels: string[] = [];
let initialised = false;
/** The column names people see: A on the left, B on the right. */
const COLUMN_NAME: Record<Side, string> = { base: 'A', adapter: 'B' };

// Layout.
const app = document.getElementById('app')!;

function field(name: string, label: string, attrs: Record<string, string>): ValueElement {
  return el('vscode-textfield', { 'data-field': name, 'aria-label': label, title: label, ...attrs }) as ValueElement;
}
const temperatureField = field('temperature', 'Temperature (0 = greedy)', {
  type: 'number',
  min: '0',
  max: '5',
  step: '0.1',
});
const topPField = field('top_p', 'Top p', { type: 'number', min: '0', max: '1', step: '0.05' });
const maxTokensField = field('max_new_tokens', 'Max new tokens', {
  type: 'number',
  min: '1',
  max: String(PLAYGROUND_LIMITS.maxNewTokens),
});
const seedField = field('seed', 'Seed (empty: random)', { type: 'number', min: '0', placeholder: 'random' });
const stopField = el('vscode-textarea', {
  'data-field': 'stop',
  rows: '2',
  placeholder: 'One stop string per line',
  'aria-label': 'Stop strings',
}) as ValueElement;
const systemField = el('vscode-textarea', {
  'data-field': 'system',
  rows: '2',
  placeholder: 'System prompt (optional)',
  'aria-label': 'System prompt',
}) as ValueElement;
const clearSystemButton = el('button', {
  type: 'button',
  class: 'link-button',
  'data-action': 'clear-system',
  title: 'Empty the system prompt',
  text: 'clear',
});
// Shown while the system box holds, untouched, the prompt the chosen adapter's training data carried.
const systemHint = el(
  'div',
  { class: 'system-hint', 'data-testid': 'system-hint', hidden: '' },
  el('span', { text: 'System prompt this adapter was trained with' }),
  clearSystemButton,
);
const labelled = (text: string, control: HTMLElement) => el('label', { class: 'param' }, el('span', { text }), control);
const sampling = el(
  'vscode-collapsible',
  { title: 'System prompt and sampling', 'data-testid': 'settings' },
  el(
    'div',
    { class: 'settings' },
    el('div', { class: 'system' }, labelled('System prompt', systemField), systemHint),
    el(
      'div',
      { class: 'params' },
      labelled('Temperature', temperatureField),
      labelled('Top p', topPField),
      labelled('Max new tokens', maxTokensField),
      labelled('Seed', seedField),
    ),
    labelled('Stop strings', stopField),
  ),
);

interface Column {
  root: HTMLElement;
  heading: HTMLElement;
  transcript: HTMLElement;
  /** This column's target: a job server or an OpenAI-compatible endpoint. */
  targetSelect: HTMLSelectElement;
  /** This column's model: `base:<name>`, `adapter:<job id>` (an endpoint's models are adapters), or '' for none. */
  modelSelect: HTMLSelectElement;
}
function column(side: Side): Column {
  const name = COLUMN_NAME[side];
  const heading = el('h2', { class: 'column-heading' });
  const targetSelect = el('select', { 'data-testid': `target-select-${side}`, 'aria-label': `Column ${name} target` });
  const modelSelect = el('select', { 'data-testid': `model-select-${side}`, 'aria-label': `Column ${name} model` });
  const pickers = el(
    'div',
    { class: 'pickers column-pickers' },
    el('label', {}, el('span', { text: 'Target' }), targetSelect),
    el('label', {}, el('span', { text: 'Model' }), modelSelect),
  );
  const transcript = el('div', { class: 'transcript', 'data-testid': `transcript-${side}`, 'aria-live': 'polite' });
  const root = el('section', { class: `column column-${side}` }, heading, pickers, transcript);
  return { root, heading, transcript, targetSelect, modelSelect };
}
const columns: Record<Side, Column> = { base: column('base'), adapter: column('adapter') };

const prompt = el('textarea', {
  'data-testid': 'prompt',
  rows: '3',
  placeholder: 'Ask something… (Ctrl+Enter to send)',
  'aria-label': 'Prompt',
});
const sendButton = el('vscode-button', { 'data-action': 'send', title: 'Send (Ctrl+Enter)' }, 'Send');
const stopButton = el('vscode-button', { 'data-action': 'stop', secondary: '' }, 'Stop');
const regenerateButton = el('vscode-button', { 'data-action': 'regenerate', secondary: '' }, 'Regenerate');
const clearButton = el('vscode-button', { 'data-action': 'clear', secondary: '' }, 'Clear');
const exportSide = el('select', { 'data-testid': 'export-side', 'aria-label': 'Replies to export' });
for (const side of SIDES) exportSide.append(el('option', { value: side, text: `Column ${COLUMN_NAME[side]} replies` }));
const exportButton = el('vscode-button', { 'data-action': 'export', secondary: '' }, 'Export as record');
const preferButton = el(
  'vscode-button',
  { 'data-action': 'prefer', secondary: '', title: "Append a preference pair: the selected side's last answer chosen" },
  'Prefer this answer',
);
const status = el('p', { class: 'status', 'data-testid': 'status', role: 'status' });
const composer = el(
  'div',
  { class: 'composer' },
  prompt,
  el(
    'div',
    { class: 'actions' },
    sendButton,
    stopButton,
    regenerateButton,
    clearButton,
    el('span', { class: 'spacer' }),
    exportSide,
    exportButton,
    preferButton,
  ),
  status,
);
app.replaceChildren(sampling, el('div', { class: 'columns' }, columns.base.root, columns.adapter.root), composer);
app.removeAttribute('aria-busy');

/** The DOM of each reply on screen, by request id, so a token batch is one appended text node. */
const replyViews = new Map<number, { body: HTMLElement; meta: HTMLElement }>();

let saveTimer: ReturnType<typeof setTimeout> | null = null;
/** Saves the state now, or (`soon`) within 300 ms at most, so a long stream is saved as it goes. */
function persist(soon = false): void {
  if (soon && saveTimer !== null) return;
  if (saveTimer !== null) clearTimeout(saveTimer);
  saveTimer = null;
  if (soon) saveTimer = setTimeout(() => persist(), 300);
  else saveState(state);
}

function setStatus(text: string, isError = false): void {
  status.textContent = text;
  status.classList.toggle('error', isError);
}

function option(value: string, text: string): HTMLOptionElement {
  return el('option', { value, text });
}

function targetOf(side: Side): PlaygroundTarget | undefined {
  return targets.find((t) => t.id === state.columns[side].target);
}

function isEndpoint(side: Side): boolean {
  return targetOf(side)?.kind === 'openai';
}

function adaptersOf(side: Side): AdapterChoice[] {
  const target = state.columns[side].target;
  return target === null ? [] : (adaptersByTarget.get(target) ?? []);
}

/** The adapter (or endpoint model) a column runs, once its target's list has it. */
function adapterOf(side: Side): AdapterChoice | undefined {
  const jobId = state.columns[side].adapterJobId;
  return jobId === null ? undefined : adaptersOf(side).find((a) => a.jobId === jobId);
}

/** True when the column has something to run. */
function chosen(side: Side): boolean {
  const c = state.columns[side];
  return c.target !== null && (c.base !== null || c.adapterJobId !== null);
}

/** What a column's heading and export option call its model. */
function modelLabel(side: Side): string {
  const c = state.columns[side];
  const adapter = adapterOf(side);
  if (c.adapterJobId !== null) {
    const name = adapter ? adapter.name || adapter.jobId : c.adapterJobId;
    return isEndpoint(side) ? name : `adapter ${name}`;
  }
  return c.base ?? 'no model';
}

function replyMeta(reply: Reply): string {
  if (reply.state === 'error') return reply.error ?? 'failed';
  if (reply.state === 'streaming') return 'generating…';
  const r = reply.result;
  if (!r) return '';
  const parts = [
    `first token ${Math.round(r.timeToFirstTokenMs)} ms`,
    `${formatNumber(r.tokensPerSecond, 1)} tokens/s`,
    `${r.tokens} tokens`,
  ];
  if (r.finishReason === 'cancelled') parts.push('stopped');
  else if (r.finishReason === 'length') parts.push('hit max tokens');
  return parts.join(' · ');
}

/**
 * A reply bubble: the reply's text (the element tests and users read: `data-testid="reply-<side>"` on
 * the latest, with its `data-state`) and, beside it, its timing line or a hint when there is no reply.
 */
function renderReply(side: Side, reply: Reply | null, latest: boolean): HTMLElement {
  const body = el('div', { class: 'reply-text', 'data-state': reply ? reply.state : 'idle' });
  if (latest) body.setAttribute('data-testid', `reply-${side}`);
  const meta = el('div', { class: 'reply-meta' });
  if (reply) {
    body.textContent = reply.text;
    meta.textContent = replyMeta(reply);
    replyViews.set(reply.id, { body, meta });
  } else if (!chosen(side)) {
    meta.textContent = 'Pick a target and a model for this column.';
  }
  return el('div', { class: `bubble reply reply-${side}` }, body, meta);
}

/** Rebuilds both transcripts (after a send, a regenerate, a clear or a restore; tokens only append). */
function renderTranscripts(): void {
  replyViews.clear();
  for (const side of SIDES) {
    const children: HTMLElement[] = [];
    state.turns.forEach((turn, i) => {
      const latest = i === state.turns.length - 1;
      children.push(el('div', { class: 'bubble user', text: turn.user }));
      if (turn[side] !== null || latest) children.push(renderReply(side, turn[side], latest));
    });
    if (state.turns.length === 0) children.push(renderReply(side, null, true));
    columns[side].transcript.replaceChildren(...children);
  }
  renderHeadings();
  renderButtons();
}

function renderHeadings(): void {
  for (const side of SIDES) {
    const target = targetOf(side);
    const where = target ? ` · ${target.label || target.id}` : '';
    columns[side].heading.textContent = `${COLUMN_NAME[side]} · ${modelLabel(side)}${where}`;
  }
}

function streaming(): boolean {
  return state.turns.some((t) => t.base?.state === 'streaming' || t.adapter?.state === 'streaming');
}

function renderButtons(): void {
  const busy = streaming();
  const toggle = (button: HTMLElement, enabled: boolean) => button.toggleAttribute('disabled', !enabled);
  toggle(sendButton, !busy);
  toggle(regenerateButton, !busy && state.turns.length > 0);
  toggle(stopButton, busy);
  toggle(clearButton, !busy && state.turns.length > 0);
  toggle(exportButton, !busy && state.turns.length > 0);
  toggle(preferButton, !busy && state.turns.length > 0);
}

function fillTargets(side: Side): void {
  const c = state.columns[side];
  const select = columns[side].targetSelect;
  select.replaceChildren(...targets.map((t) => option(t.id, t.label || t.id)));
  if (!targets.some((t) => t.id === c.target)) {
    c.target = targets[0]?.id ?? null;
    c.base = null;
    c.adapterJobId = null;
  }
  select.value = c.target ?? '';
}

function modelValue(c: ColumnChoice): string {
  return c.adapterJobId !== null ? `adapter:${c.adapterJobId}` : c.base !== null ? `base:${c.base}` : '';
}

/**
 * A column's model list: a job server offers its base models and its finished jobs' adapters; an
 * OpenAI-compatible endpoint offers the models its /v1/models lists. A choice the list no longer has is dropped
 * once the target's list has arrived.
 */
function fillModels(side: Side): void {
  const c = state.columns[side];
  const select = columns[side].modelSelect;
  const listed = c.target !== null && adaptersByTarget.has(c.target);
  const adapters = adaptersOf(side);
  if (listed && c.adapterJobId !== null && !adapterOf(side)) c.adapterJobId = null;
  const groups: HTMLElement[] = [];
  if (isEndpoint(side)) {
    c.base = null;
    const models = adapters.map((a) => option(`adapter:${a.jobId}`, a.name || a.jobId));
    groups.push(el('optgroup', { label: 'Models' }, ...models));
    select.replaceChildren(
      option('', adapters.length ? 'None' : listed ? 'None (no models listed)' : 'None'),
      ...groups,
    );
  } else {
    const names = new Set(baseModels);
    for (const a of adapters) if (a.baseModel) names.add(a.baseModel);
    if (c.base) names.add(c.base);
    groups.push(el('optgroup', { label: 'Base models' }, ...[...names].map((n) => option(`base:${n}`, n))));
    if (adapters.length) {
      const list = adapters.map((a) => option(`adapter:${a.jobId}`, `${a.name || a.jobId} (${a.baseModel})`));
      groups.push(el('optgroup', { label: 'Adapters' }, ...list));
    }
    const none = listed && !adapters.length ? 'None (no finished jobs on this target)' : 'None';
    select.replaceChildren(option('', none), ...groups);
  }
  select.value = modelValue(c);
}

/** Shows the hint while the box holds the suggestion untouched, unfolding the settings (`reveal`) so it is seen. */
function renderSystemHint(reveal = false): void {
  systemHint.hidden = state.suggestedSystem === null || state.system !== state.suggestedSystem;
  // The settings start folded, which would hide a filled-in prompt and its hint.
  if (reveal && !systemHint.hidden) (sampling as HTMLElement & { open: boolean }).open = true;
}

/**
 * Puts the newly chosen adapter's trained system prompt in the system box (an adapter answers as trained
 * only with it) when the box is empty or still holds the previous adapter's suggestion untouched; an
 * adapter without one empties such a suggestion. What the user typed is never replaced.
 */
function offerTrainedSystem(adapter: AdapterChoice | undefined): void {
  const jobId = adapter?.jobId ?? null;
  if (jobId === state.systemOfferedFor) return;
  state.systemOfferedFor = jobId;
  const untouchedSuggestion = state.suggestedSystem !== null && state.system === state.suggestedSystem;
  if (state.system.trim() !== '' && !untouchedSuggestion) return;
  const trained = adapter?.systemPrompt ?? null;
  state.suggestedSystem = trained;
  state.system = trained ?? '';
  systemField.value = state.system;
  renderSystemHint(true);
}

const other = (side: Side): Side => (side === 'base' ? 'adapter' : 'base');

/**
 * Compare like with like: when `side` runs a job server's adapter and the other column runs a base model of
 * the same target (or nothing yet), the other column runs the adapter's own base model.
 */
function matchBaseOf(side: Side): void {
  const adapter = adapterOf(side);
  const o = state.columns[other(side)];
  if (!adapter?.baseModel || isEndpoint(side) || o.target !== state.columns[side].target || o.adapterJobId !== null)
    return;
  o.base = adapter.baseModel;
  fillModels(other(side));
}

/** The adapter whose trained system prompt the system box offers: the right column's, else the left's. */
function offeredAdapter(): AdapterChoice | undefined {
  for (const side of ['adapter', 'base'] as const) {
    const adapter = adapterOf(side);
    if (adapter && !isEndpoint(side)) return adapter;
  }
  return undefined;
}

/** A column's model choice from its select's value (see `modelValue`). */
function chooseModel(side: Side, value: string): void {
  const c = state.columns[side];
  const before = c.adapterJobId;
  c.base = value.startsWith('base:') ? value.slice('base:'.length) : null;
  c.adapterJobId = value.startsWith('adapter:') ? value.slice('adapter:'.length) : null;
  if (c.adapterJobId !== null && c.adapterJobId !== before && !isEndpoint(side)) {
    // A newly picked adapter: its replies are the ones to export or prefer.
    state.exportSide = side;
    exportSide.value = side;
  }
  matchBaseOf(side);
  offerTrainedSystem(offeredAdapter());
  fillModels(side);
  renderTranscripts();
  persist();
}

/** A column's new target: its model list is asked for, and the column starts with none chosen. */
function chooseTarget(side: Side, target: string | null): void {
  const c = state.columns[side];
  if (target === c.target) return;
  c.target = target;
  c.base = null;
  c.adapterJobId = null;
  if (target !== null && targets.find((t) => t.id === target)?.kind !== 'openai') c.base = baseModels[0] ?? null;
  fillModels(side);
  offerTrainedSystem(offeredAdapter());
  renderTranscripts();
  persist();
  if (target !== null) send({ type: 'listAdapters', target });
}

function readParams(): SamplingParams | string {
  const num = (f: ValueElement) => (f.value.trim() === '' ? NaN : Number(f.value));
  const temperature = num(temperatureField);
  const topP = num(topPField);
  const maxNewTokens = num(maxTokensField);
  const seedText = seedField.value.trim();
  const seed = seedText === '' ? null : Number(seedText);
  const stop = stopField.value.split('\n').filter((s) => s !== '');
  if (!(temperature >= 0 && temperature <= 5)) return 'Temperature must be between 0 and 5.';
  if (!(topP > 0 && topP <= 1)) return 'Top p must be above 0 and at most 1.';
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 1 && maxNewTokens <= PLAYGROUND_LIMITS.maxNewTokens)) {
    return `Max new tokens must be a whole number from 1 to ${PLAYGROUND_LIMITS.maxNewTokens}.`;
  }
  if (seed !== null && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32))
    return 'Seed must be a whole number ≥ 0.';
  if (stop.length > PLAYGROUND_LIMITS.stop || stop.some((s) => s.length > PLAYGROUND_LIMITS.stopLength)) {
    return `At most ${PLAYGROUND_LIMITS.stop} stop strings of up to ${PLAYGROUND_LIMITS.stopLength} characters.`;
  }
  return { temperature, top_p: topP, max_new_tokens: maxNewTokens, seed, stop };
}

function newReply(): Reply {
  return { id: state.nextId++, text: '', state: 'streaming', error: null, result: null };
}

/** Starts the replies of the last turn, each side with its own history before that turn. */
function generateLastTurn(params: SamplingParams): void {
  const turn = state.turns[state.turns.length - 1]!;
  const earlier = state.turns.slice(0, -1);
  const system = state.system.trim() === '' ? null : state.system;
  for (const side of SIDES) {
    const reply = turn[side];
    const c = state.columns[side];
    if (!reply || c.target === null) continue;
    send({
      type: 'generate',
      id: reply.id,
      side,
      target: c.target,
      base: c.adapterJobId === null ? c.base : null,
      adapterJobId: c.adapterJobId,
      system,
      messages: [...historyFor(earlier, side), { role: 'user', content: turn.user }],
      params,
    });
  }
}

function startTurn(replace: boolean): void {
  if (streaming()) return;
  const params = readParams();
  if (typeof params === 'string') return setStatus(params, true);
  if (!targets.length) return setStatus('No target: start the local trainer or add an endpoint.', true);
  if (!SIDES.some(chosen)) return setStatus('Pick a model for at least one column first.', true);
  state.params = params;
  if (replace) {
    const last = state.turns[state.turns.length - 1];
    if (!last) return;
    state.turns[state.turns.length - 1] = { user: last.user, base: null, adapter: null };
  } else {
    const text = prompt.value;
    if (text.trim() === '') return setStatus('Type a prompt first.', true);
    if (state.turns.length >= PLAYGROUND_LIMITS.turns)
      return setStatus('The conversation is full: clear it first.', true);
    state.turns.push({ user: text.slice(0, PLAYGROUND_LIMITS.message), base: null, adapter: null });
    prompt.value = '';
    state.draft = '';
  }
  const turn: Turn = state.turns[state.turns.length - 1]!;
  turn.base = chosen('base') ? newReply() : null;
  turn.adapter = chosen('adapter') ? newReply() : null;
  setStatus('');
  renderTranscripts();
  persist();
  generateLastTurn(params);
}

function findReply(id: number): Reply | undefined {
  for (const turn of state.turns) {
    if (turn.base?.id === id) return turn.base;
    if (turn.adapter?.id === id) return turn.adapter;
  }
  return undefined;
}

function showReply(reply: Reply): void {
  const view = replyViews.get(reply.id);
  if (!view) return;
  view.body.setAttribute('data-state', reply.state);
  view.meta.textContent = replyMeta(reply);
}

/** Applies what the host still knows of earlier generations; replies it lost end as errors. */
function catchUp(generations: GenerationSnapshot[]): void {
  const known = new Map(generations.map((g) => [g.id, g]));
  for (const turn of state.turns) {
    for (const side of SIDES) {
      const reply = turn[side];
      if (!reply || reply.state !== 'streaming') continue;
      const snapshot = known.get(reply.id);
      if (!snapshot) {
        reply.state = 'error';
        reply.error = 'interrupted (the panel was reloaded)';
        continue;
      }
      reply.text = snapshot.text;
      if (snapshot.result) {
        reply.state = 'done';
        reply.result = snapshot.result;
      } else if (snapshot.error !== null) {
        reply.state = 'error';
        reply.error = snapshot.error;
      }
    }
  }
}

function onMessage(m: PlaygroundHostMessage): void {
  switch (m.type) {
    case 'init': {
      targets = m.targets;
      baseModels = m.baseModels;
      if (m.preset) {
        // An adapter to try: the right column runs it, the left its base model (once the list says which).
        state.columns.adapter = { target: m.preset.target, base: null, adapterJobId: m.preset.adapterJobId };
        state.columns.base = { target: m.preset.target, base: state.columns.base.base, adapterJobId: null };
      }
      for (const side of SIDES) {
        fillTargets(side);
        const c = state.columns[side];
        if (c.target !== null && c.base === null && c.adapterJobId === null && side === 'base' && !isEndpoint(side))
          c.base = baseModels[0] ?? null;
        fillModels(side);
      }
      catchUp(m.generations);
      initialised = true;
      renderTranscripts();
      persist();
      const asked = new Set(SIDES.map((side) => state.columns[side].target));
      for (const target of asked) if (target !== null) send({ type: 'listAdapters', target });
      break;
    }
    case 'adapters': {
      const on = SIDES.filter((side) => state.columns[side].target === m.target);
      if (!on.length) return;
      adaptersByTarget.set(m.target, m.adapters);
      for (const side of on) fillModels(side);
      // The right column's adapter (a preset, a reload) sets the left column's base model, as a pick does.
      if (on.includes('adapter')) matchBaseOf('adapter');
      offerTrainedSystem(offeredAdapter());
      renderTranscripts();
      persist();
      break;
    }
    case 'tokens': {
      const reply = findReply(m.id);
      if (!reply || reply.state !== 'streaming') return;
      reply.text += m.text;
      replyViews.get(m.id)?.body.append(m.text);
      persist(true);
      break;
    }
    case 'done':
    case 'failed': {
      const reply = findReply(m.id);
      if (!reply || reply.state !== 'streaming') return;
      if (m.type === 'done') {
        reply.state = 'done';
        reply.result = m.result;
      } else {
        reply.state = 'error';
        reply.error = m.message;
      }
      showReply(reply);
      renderButtons();
      persist();
      break;
    }
    case 'exported':
      setStatus(m.message, !m.ok);
      break;
  }
}

// Controls.
function bindParam(f: ValueElement, value: string): void {
  f.value = value;
  f.addEventListener('change', () => {
    const params = readParams();
    if (typeof params === 'string') return setStatus(params, true);
    setStatus('');
    state.params = params;
    persist();
  });
}
bindParam(temperatureField, String(state.params.temperature));
bindParam(topPField, String(state.params.top_p));
bindParam(maxTokensField, String(state.params.max_new_tokens));
bindParam(seedField, state.params.seed === null ? '' : String(state.params.seed));
bindParam(stopField, state.params.stop.join('\n'));
systemField.value = state.system;
renderSystemHint(true);
systemField.addEventListener('input', () => {
  state.system = systemField.value.slice(0, PLAYGROUND_LIMITS.system);
  // Edited: from now on it is the user's prompt, which no adapter choice replaces.
  if (state.system !== state.suggestedSystem) state.suggestedSystem = null;
  renderSystemHint();
  persist(true);
});
clearSystemButton.addEventListener('click', () => {
  state.system = '';
  state.suggestedSystem = null;
  systemField.value = '';
  renderSystemHint();
  persist();
});
prompt.value = state.draft;
prompt.addEventListener('input', () => {
  state.draft = prompt.value.slice(0, PLAYGROUND_LIMITS.message);
  persist(true);
});
prompt.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    startTurn(false);
  }
});
exportSide.value = state.exportSide;
exportSide.addEventListener('change', () => {
  state.exportSide = exportSide.value === 'base' ? 'base' : 'adapter';
  persist();
});
for (const side of SIDES) {
  const { targetSelect, modelSelect } = columns[side];
  targetSelect.addEventListener('change', () => chooseTarget(side, targetSelect.value || null));
  modelSelect.addEventListener('change', () => chooseModel(side, modelSelect.value));
}

const onClick = (button: HTMLElement, action: () => void) =>
  button.addEventListener('click', () => {
    if (!button.hasAttribute('disabled') && initialised) action();
  });
onClick(sendButton, () => startTurn(false));
onClick(regenerateButton, () => startTurn(true));
onClick(stopButton, () => send({ type: 'stop' }));
onClick(clearButton, () => {
  state.turns = [];
  setStatus('');
  renderTranscripts();
  persist();
});
onClick(exportButton, () => {
  const side = state.exportSide;
  const reply = (r: Reply | null) => (r && r.state === 'done' ? r.text : null);
  send({
    type: 'export',
    side,
    system: state.system.trim() === '' ? null : state.system,
    turns: state.turns.map((t) => ({ user: t.user, base: reply(t.base), adapter: reply(t.adapter) })),
  });
});

onClick(preferButton, () => {
  const reply = (r: Reply | null) => (r && r.state === 'done' ? r.text : null);
  send({
    type: 'prefer',
    side: state.exportSide,
    system: state.system.trim() === '' ? null : state.system,
    turns: state.turns.map((t) => ({ user: t.user, base: reply(t.base), adapter: reply(t.adapter) })),
  });
});

onHostMessage(parsePlaygroundHostMessage, onMessage);
renderTranscripts();
send({ type: 'ready' });
