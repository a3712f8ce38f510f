// The hyperparameter panel: a form bound both ways to a fine-tune YAML. Every edit posts one `set`
// (text fields debounced, committed at once on change or blur); every host `state` re-renders the
// form, except the field the user is typing in. Diagnostics and model ids are untrusted text: they
// enter the page through textContent and attributes only.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-multi-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import './hyperparameters.css';
import { FIELDS, isFieldValue, parseHostMessage } from '../protocol/hyperparameters';
import type {
  DiagnosticView,
  FieldGroup,
  FieldPath,
  FieldSpec,
  FieldValue,
  MemoryView,
  StateMessage,
  WebviewMessage,
} from '../protocol/hyperparameters';
import { isObj } from '../protocol/validate';
import { loadState, onHostMessage, post, saveState } from '../shared/vscode';

/** Quiet time after the last keystroke before a text field's value is sent. */
const TYPING_DEBOUNCE_MS = 400;
const GROUPS: readonly FieldGroup[] = ['Model', 'Dataset', 'LoRA', 'Quantization', 'Training', 'Output'];
/** The first option of an optional select: choosing it removes the key, so the schema default applies. */
const DEFAULT_OPTION = '';
const ALL_LINEAR = 'all-linear';

type Control = HTMLElement & { value: unknown; checked?: boolean; invalid?: boolean; disabled?: boolean };

interface FieldView {
  spec: FieldSpec;
  control: Control;
  note: HTMLElement;
  problems: HTMLElement;
  /** The option list last rendered into a select, to rebuild it only when it changes. */
  optionsKey: string;
  pendingTimer: number | undefined;
}

interface SavedState {
  state: StateMessage | null;
}

const send = (message: WebviewMessage): void => post(message);

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  if (text !== undefined) element.textContent = text;
  return element;
}

function custom(tag: string, attrs: Record<string, string> = {}): Control {
  const element = document.createElement(tag) as Control;
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, value);
  return element;
}

function parseSaved(raw: unknown): SavedState | null {
  if (!isObj(raw)) return null;
  return { state: parseHostMessage(raw['state']) };
}

const fields = new Map<FieldPath, FieldView>();
let current: StateMessage | null = null;

const app = document.getElementById('app')!;
const header = el('header', { class: 'panel-header' });
const title = el('h1', { class: 'file-name' });
const trainButton = custom('vscode-button', { 'data-action': 'train', icon: 'play' });
trainButton.textContent = 'Train';
trainButton.addEventListener('click', () => send({ type: 'train' }));
// The estimate's total stays in sight in the sticky header, however narrow the panel and wherever the
// breakdown (beside or below the form) has gone.
const headerMemory = el('span', { class: 'header-memory', 'data-testid': 'memory-summary' });
const headerEnd = el('div', { class: 'header-end' });
headerEnd.append(headerMemory, trainButton);
header.append(title, headerEnd);

const parseBanner = el('p', { class: 'parse-error', role: 'alert', hidden: '' });
const layout = el('div', { class: 'layout' });
const form = el('div', { class: 'form' });
const aside = el('aside', { class: 'side' });
const memoryBox = el('section', { class: 'memory', 'data-testid': 'memory-estimate' });
const diagnosticsBox = el('section', { class: 'diagnostics', 'data-testid': 'diagnostics' });
aside.append(memoryBox, diagnosticsBox);
layout.append(form, aside);
app.append(header, parseBanner, layout);

// A catalog picker beside the free-text base model field: picking fills the field and sends it.
const modelPicker = custom('vscode-single-select', { combobox: '', 'aria-label': 'Pick a base model' });
modelPicker.classList.add('model-picker');

function buildField(spec: FieldSpec): HTMLElement {
  const id = `field-${spec.path.replace(/\W/g, '-')}`;
  const row = el('div', { class: 'field', 'data-kind': spec.kind });
  const label = custom('vscode-label', { for: id });
  label.textContent = spec.label;
  const control = createControl(spec, id);
  const note = el('span', { class: 'field-note' });
  const problems = el('ul', { class: 'field-problems' });
  const controlCell = el('div', { class: 'control' });
  controlCell.append(control);
  if (spec.path === 'base_model') {
    // The combobox shows no placeholder text of its own: say what it offers.
    controlCell.append(el('span', { class: 'picker-hint' }, 'or pick from the catalog and local models:'), modelPicker);
  }
  controlCell.append(note, problems);
  row.append(label, controlCell);
  const view: FieldView = { spec, control, note, problems, optionsKey: '', pendingTimer: undefined };
  fields.set(spec.path as FieldPath, view);
  wireControl(view);
  return row;
}

function createControl(spec: FieldSpec, id: string): Control {
  const attrs = { id, 'data-field': spec.path };
  switch (spec.kind) {
    case 'boolean': {
      const box = custom('vscode-checkbox', attrs);
      box.setAttribute('label', spec.label);
      return box;
    }
    case 'enum':
      return custom('vscode-single-select', attrs);
    case 'modules':
      return custom('vscode-multi-select', attrs);
    case 'string':
      return spec.path === 'target' ? custom('vscode-single-select', attrs) : custom('vscode-textfield', attrs);
    case 'integer':
    case 'number':
      return custom('vscode-textfield', { ...attrs, inputmode: spec.kind === 'integer' ? 'numeric' : 'decimal' });
  }
}

const isTextField = (view: FieldView): boolean => view.control.tagName.toLowerCase() === 'vscode-textfield';

function wireControl(view: FieldView): void {
  const { control } = view;
  if (isTextField(view)) {
    control.addEventListener('input', () => {
      window.clearTimeout(view.pendingTimer);
      view.pendingTimer = window.setTimeout(() => commit(view), TYPING_DEBOUNCE_MS);
    });
    control.addEventListener('change', () => commit(view));
    control.addEventListener('blur', () => {
      if (view.pendingTimer !== undefined) commit(view);
    });
  } else {
    control.addEventListener('change', () => commit(view));
  }
}

/** The control's value as the field's type, null for "remove the key", undefined when not valid. */
function controlValue(view: FieldView): FieldValue | null | undefined {
  const { spec, control } = view;
  switch (spec.kind) {
    case 'boolean':
      return Boolean(control.checked);
    case 'modules': {
      const selected = Array.isArray(control.value) ? control.value.map(String) : [];
      if (selected.length === 0) return null;
      return selected.includes(ALL_LINEAR) ? ALL_LINEAR : selected;
    }
    case 'enum':
    case 'string': {
      const text = String(control.value ?? '').trim();
      if (text === DEFAULT_OPTION) return null;
      return text;
    }
    case 'integer':
    case 'number': {
      const text = String(control.value ?? '').trim();
      if (text === '') return null;
      const number = Number(text);
      return Number.isFinite(number) ? number : undefined;
    }
  }
}

/** The last value sent per field, so a commit after a debounced send does not send it twice. */
const lastSent = new Map<FieldPath, string>();

function commit(view: FieldView): void {
  window.clearTimeout(view.pendingTimer);
  view.pendingTimer = undefined;
  const path = view.spec.path as FieldPath;
  const value = controlValue(view);
  const acceptable = value === null ? !view.spec.required : value !== undefined && isFieldValue(path, value);
  view.control.invalid = !acceptable;
  view.note.textContent = acceptable ? '' : `Not a valid ${describeKind(view.spec)}`;
  if (!acceptable) return;
  const key = JSON.stringify(value);
  const field = current?.values[path];
  const known = lastSent.get(path) ?? (field && field.status !== 'invalid' ? JSON.stringify(field.value) : undefined);
  if (known === key) return;
  lastSent.set(path, key);
  send({ type: 'set', path, value: value ?? null });
}

function describeKind(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'integer':
      return 'whole number';
    case 'number':
      return 'number';
    case 'string':
      return spec.path === 'target' ? 'target (local or remote:<name>)' : 'value';
    default:
      return 'value';
  }
}

// ---- rendering a host state ----------------------------------------------------------------------

function isBeingEdited(view: FieldView): boolean {
  return view.pendingTimer !== undefined || document.activeElement === view.control;
}

function displayValue(value: FieldValue | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return String(value);
  return Array.isArray(value) ? value.join(', ') : String(value);
}

function setOptions(view: FieldView, options: { value: string; label: string }[]): void {
  const key = JSON.stringify(options);
  if (key === view.optionsKey) return;
  view.optionsKey = key;
  view.control.replaceChildren(
    ...options.map((option) => {
      const element = custom('vscode-option', { value: option.value });
      element.textContent = option.label;
      return element;
    }),
  );
}

function withCurrent(options: string[], value: string | null): string[] {
  return value !== null && value !== '' && !options.includes(value) ? [...options, value] : options;
}

function renderField(view: FieldView, state: StateMessage): void {
  const path = view.spec.path as FieldPath;
  const field = state.values[path];
  const value = field.status === 'ok' ? field.value : null;
  view.control.invalid = field.status === 'invalid';
  view.note.textContent = field.status === 'invalid' ? `In the file: ${field.raw ?? ''}` : '';
  const optional = !view.spec.required;

  if (view.spec.kind === 'enum' || path === 'target') {
    const base = path === 'target' ? state.choices.targets : (state.choices.enums[path] ?? []);
    const values = withCurrent(base, typeof value === 'string' ? value : null);
    setOptions(view, [
      ...(optional ? [{ value: DEFAULT_OPTION, label: 'default' }] : []),
      ...values.map((v) => ({ value: v, label: v })),
    ]);
  } else if (view.spec.kind === 'modules') {
    const chosen = Array.isArray(value) ? value : [];
    const names = [ALL_LINEAR, ...state.choices.targetModules.filter((m) => m !== ALL_LINEAR)];
    setOptions(
      view,
      withCurrentAll(names, chosen).map((m) => ({ value: m, label: m })),
    );
  }
  if (isBeingEdited(view)) return;

  switch (view.spec.kind) {
    case 'boolean':
      view.control.checked = value === true;
      break;
    case 'modules':
      view.control.value = value === ALL_LINEAR ? [ALL_LINEAR] : Array.isArray(value) ? value : [];
      break;
    case 'enum':
      view.control.value = value === null ? DEFAULT_OPTION : String(value);
      break;
    default:
      if (path === 'target') view.control.value = value === null ? DEFAULT_OPTION : String(value);
      else if (String(view.control.value ?? '') !== displayValue(value)) view.control.value = displayValue(value);
  }
  lastSent.delete(path);
}

function withCurrentAll(options: string[], chosen: string[]): string[] {
  return [...options, ...chosen.filter((m) => !options.includes(m))];
}

function renderModelPicker(state: StateMessage): void {
  const key = JSON.stringify(state.choices.baseModels);
  if (modelPicker.dataset['optionsKey'] === key) return;
  modelPicker.dataset['optionsKey'] = key;
  const placeholder = custom('vscode-option', { value: '' });
  placeholder.textContent = 'Pick from the catalog or local models…';
  modelPicker.replaceChildren(
    placeholder,
    ...state.choices.baseModels.map((model) => {
      const option = custom('vscode-option', { value: model.id });
      option.textContent = model.id;
      option.setAttribute('description', model.family ?? 'local folder');
      return option;
    }),
  );
}

const SEVERITY_ICONS: Record<DiagnosticView['severity'], string> = {
  error: 'codicon-error',
  warning: 'codicon-warning',
  information: 'codicon-info',
  hint: 'codicon-lightbulb',
};

function diagnosticItem(diagnostic: DiagnosticView, withPath: boolean): HTMLElement {
  const item = el('li', { class: `diagnostic severity-${diagnostic.severity}`, 'data-severity': diagnostic.severity });
  item.append(el('span', { class: `codicon ${SEVERITY_ICONS[diagnostic.severity]}`, 'aria-hidden': 'true' }));
  item.append(el('span', { class: 'message' }, diagnostic.message));
  if (diagnostic.ruleId !== null) item.append(el('span', { class: 'rule' }, diagnostic.ruleId));
  const link = el('a', { href: '#', class: 'reveal', 'data-action': 'reveal' }, `Ln ${diagnostic.line + 1}`);
  link.addEventListener('click', (event) => {
    event.preventDefault();
    send({ type: 'reveal', line: diagnostic.line });
  });
  item.append(link);
  if (withPath && diagnostic.path !== null) item.append(el('span', { class: 'path' }, diagnostic.path));
  return item;
}

function renderDiagnostics(state: StateMessage): void {
  const list = el('ul');
  for (const diagnostic of state.diagnostics) list.append(diagnosticItem(diagnostic, true));
  const errors = state.diagnostics.filter((d) => d.severity === 'error').length;
  const summary =
    state.diagnostics.length === 0
      ? 'No problems found.'
      : `${state.diagnostics.length} problem${state.diagnostics.length === 1 ? '' : 's'} (${errors} error${errors === 1 ? '' : 's'})`;
  diagnosticsBox.replaceChildren(el('h2', {}, 'Problems'), el('p', { class: 'summary' }, summary), list);
  for (const view of fields.values()) {
    const own = state.diagnostics.filter((d) => d.path === view.spec.path);
    view.problems.replaceChildren(...own.map((d) => diagnosticItem(d, false)));
    view.control.toggleAttribute('data-has-problem', own.length > 0);
  }
}

function formatBytes(bytes: number): string {
  const gib = bytes / 1024 ** 3;
  if (gib >= 1) return `${gib.toFixed(1)} GiB`;
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

function renderMemory(memory: MemoryView | null): void {
  const heading = el('h2', {}, 'GPU memory');
  if (memory === null) {
    memoryBox.replaceChildren(heading, el('p', { class: 'muted' }, 'No estimate: the model size is unknown.'));
    memoryBox.dataset['total'] = '';
    headerMemory.textContent = '';
    return;
  }
  const share = memory.gpuMemoryBytes > 0 ? memory.totalBytes / memory.gpuMemoryBytes : 0;
  const fits = share <= 1;
  const total = el(
    'p',
    { class: `total ${fits ? 'fits' : 'over'}` },
    `${formatBytes(memory.totalBytes)} of ${formatBytes(memory.gpuMemoryBytes)} (${Math.round(share * 100)}%)`,
  );
  const bar = el('div', { class: 'bar', role: 'meter', 'aria-valuemin': '0', 'aria-valuemax': '100' });
  bar.setAttribute('aria-valuenow', String(Math.round(Math.min(share, 1) * 100)));
  const fill = el('div', { class: `fill ${fits ? 'fits' : 'over'}` });
  fill.style.width = `${Math.min(share, 1) * 100}%`;
  bar.append(fill);
  const table = el('table', { class: 'breakdown' });
  for (const part of memory.breakdown) {
    const row = el('tr');
    row.append(el('td', {}, part.label), el('td', { class: 'bytes' }, formatBytes(part.bytes)));
    table.append(row);
  }
  const model = el(
    'p',
    { class: 'muted' },
    `${memory.model}: ${memory.loraParameterCount.toLocaleString('en')} LoRA parameters`,
  );
  memoryBox.dataset['total'] = String(memory.totalBytes);
  memoryBox.replaceChildren(heading, total, bar, table, model);
  headerMemory.textContent = `≈ ${formatBytes(memory.totalBytes)} of ${formatBytes(memory.gpuMemoryBytes)} GPU memory`;
  headerMemory.className = `header-memory ${fits ? 'fits' : 'over'}`;
  headerMemory.title = 'Estimated peak GPU memory of this config, against modelfactory.gpuMemoryGb';
}

function render(state: StateMessage): void {
  current = state;
  title.textContent = state.fileName;
  parseBanner.textContent =
    state.parseError === null
      ? ''
      : `The YAML has a syntax error; the form is read-only until it is fixed: ${state.parseError}`;
  parseBanner.hidden = state.parseError === null;
  renderModelPicker(state);
  for (const view of fields.values()) {
    renderField(view, state);
    view.control.disabled = state.parseError !== null;
  }
  renderDiagnostics(state);
  renderMemory(state.memory);
  app.setAttribute('aria-busy', 'false');
  saveState<SavedState>({ state });
}

for (const group of GROUPS) {
  const section = el('section', { class: 'group', 'data-group': group });
  section.append(el('h2', {}, group));
  for (const spec of FIELDS.filter((f) => f.group === group)) section.append(buildField(spec));
  form.append(section);
}

modelPicker.addEventListener('change', () => {
  const id = String(modelPicker.value ?? '');
  const view = fields.get('base_model');
  if (!view || id === '') return;
  view.control.value = id;
  commit(view);
});

onHostMessage(parseHostMessage, (message) => {
  if (message.type === 'state') render(message);
});

const restored = loadState(parseSaved);
if (restored?.state) render(restored.state);
send({ type: 'ready' });
