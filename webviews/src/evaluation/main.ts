// The evaluation view: an `eval` run's summary per model and a table of its held-out examples (prompt,
// reference, each model's answer with its scores), filtered by text or to regressions and sorted by how
// much an adapter lost against the base. A row opens its source record, and exports as an SFT record or a
// preference pair; the host does the work, by example index and model name. Text goes in as text only.
import '../shared/base.css';
import './evaluation.css';
import type {
  EvaluationHostMessage,
  EvaluationState,
  EvaluationWebviewMessage,
  ExampleRow,
  Metrics,
  ModelSummary,
  ResultsMessage,
  SortKey,
} from '../protocol/evaluation';
import {
  EVALUATION_LIMITS,
  isRegression,
  parseEvaluationHostMessage,
  parseEvaluationState,
  preferencePair,
  regressionOf,
  visibleRows,
} from '../protocol/evaluation';
import { el, formatNumber } from '../shared/dom';
import { loadState, onHostMessage, post, saveState } from '../shared/vscode';

const send = (m: EvaluationWebviewMessage) => post(m);
const app = document.getElementById('app')!;

let results: ResultsMessage | null = null;
const state: EvaluationState = loadState(parseEvaluationState) ?? {
  filter: '',
  regressionsOnly: false,
  sort: 'regression',
};

const title = el('h2', { 'data-testid': 'title', text: 'Evaluation' });
const note = el('p', { class: 'muted', 'data-testid': 'note', hidden: '' });
const summary = el('table', { 'data-testid': 'summary' });
const filter = el('input', {
  type: 'search',
  id: 'filter',
  placeholder: 'Filter prompts, references and answers',
  maxlength: String(EVALUATION_LIMITS.filter),
  'aria-label': 'Filter',
});
const regressions = el('input', { type: 'checkbox', id: 'regressions' });
const sort = el(
  'select',
  { id: 'sort', 'aria-label': 'Sort' },
  el('option', { value: 'regression', text: 'Sort by regression (adapter worse than base)' }),
  el('option', { value: 'example', text: 'Sort by example order' }),
  el('option', { value: 'loss', text: 'Sort by adapter loss' }),
);
const count = el('span', { class: 'muted', 'data-testid': 'count' });
const status = el('span', { class: 'status', 'data-testid': 'status', role: 'status' });
const table = el('table', { 'data-testid': 'examples' });

filter.value = state.filter;
regressions.checked = state.regressionsOnly;
sort.value = state.sort;

app.append(
  title,
  note,
  summary,
  el('div', { class: 'controls' }, filter, el('label', {}, regressions, ' Regressions only'), sort, count, status),
  table,
);
app.setAttribute('aria-busy', 'false');

function remember(): void {
  saveState<EvaluationState>({ ...state });
}

filter.addEventListener('input', () => {
  state.filter = filter.value.slice(0, EVALUATION_LIMITS.filter);
  remember();
  renderRows();
});
regressions.addEventListener('change', () => {
  state.regressionsOnly = regressions.checked;
  remember();
  renderRows();
});
sort.addEventListener('change', () => {
  state.sort = sort.value as SortKey;
  remember();
  renderRows();
});

const hasJudge = (models: readonly ModelSummary[]) => models.some((m) => m.metrics.judge !== null);

function delta(value: number | null, base: number | null, higherIsBetter: boolean, digits: number): (Node | string)[] {
  if (value === null || base === null || value === base) return [];
  const better = higherIsBetter ? value > base : value < base;
  const sign = value > base ? '+' : '−';
  return [
    ' ',
    el('span', {
      class: better ? 'better' : 'worse',
      text: `(${sign}${formatNumber(Math.abs(value - base), digits)})`,
    }),
  ];
}

function renderSummary(models: readonly ModelSummary[]): void {
  const judge = hasJudge(models);
  const head = el(
    'tr',
    {},
    el('th', { text: 'Model' }),
    el('th', { class: 'num', text: 'Loss' }),
    el('th', { class: 'num', text: 'ROUGE-L' }),
    el('th', { class: 'num', text: 'BLEU' }),
    el('th', { class: 'num', text: 'Exact match' }),
    ...(judge ? [el('th', { class: 'num', text: 'Judge' })] : []),
  );
  const base = models[0]?.adapter === null ? models[0].metrics : null;
  const cell = (m: Metrics, key: keyof Metrics, higherIsBetter: boolean, digits: number, isBase: boolean) =>
    el(
      'td',
      { class: 'num', 'data-metric': key },
      formatNumber(m[key], digits),
      ...(isBase || !base ? [] : delta(m[key], base[key], higherIsBetter, digits)),
    );
  summary.replaceChildren(
    el('thead', {}, head),
    el(
      'tbody',
      {},
      ...models.map((model, i) =>
        el(
          'tr',
          { 'data-model': model.name },
          el('td', { text: model.name, title: model.adapter ?? 'the base model' }),
          cell(model.metrics, 'loss', false, 4, i === 0),
          cell(model.metrics, 'rougeL', true, 4, i === 0),
          cell(model.metrics, 'bleu', true, 2, i === 0),
          cell(model.metrics, 'exactMatch', true, 3, i === 0),
          ...(judge ? [cell(model.metrics, 'judge', true, 2, i === 0)] : []),
        ),
      ),
    ),
  );
}

function metricsLine(m: Metrics): string {
  const parts = [
    `loss ${formatNumber(m.loss, 3)}`,
    `ROUGE-L ${formatNumber(m.rougeL, 3)}`,
    `BLEU ${formatNumber(m.bleu, 1)}`,
    `exact ${m.exactMatch === 1 ? 'yes' : m.exactMatch === 0 ? 'no' : '—'}`,
  ];
  if (m.judge !== null) parts.push(`judge ${formatNumber(m.judge, 1)}`);
  return parts.join(' · ');
}

function renderRows(): void {
  if (!results) return;
  const { models, examples } = results;
  const shown = visibleRows(examples, models, state);
  count.textContent = `${shown.length} of ${examples.length} example(s)`;
  const head = el(
    'tr',
    {},
    el('th', { class: 'num', text: '#' }),
    el('th', { text: 'Source' }),
    el('th', { text: 'Prompt' }),
    el('th', { text: 'Reference' }),
    ...models.map((m) => el('th', { text: m.name })),
    el('th', { text: 'Export' }),
  );
  table.replaceChildren(el('thead', {}, head), el('tbody', {}, ...shown.map((row) => renderRow(row, models))));
}

function renderRow(row: ExampleRow, models: readonly ModelSummary[]): HTMLElement {
  const regression = isRegression(row, models);
  const tr = el('tr', {
    'data-example': String(row.example),
    'data-regression': regression ? String(regressionOf(row, models)) : '0',
    ...(regression ? { class: 'regression' } : {}),
  });
  const source = row.source
    ? el('button', { class: 'link', 'data-action': 'open', text: row.source, title: 'Open the source record' })
    : el('span', { class: 'muted', text: '—' });
  tr.append(
    el('td', { class: 'num', text: String(row.example + 1) }),
    el('td', {}, source),
    el('td', {}, el('div', { class: 'text', text: row.prompt })),
    el('td', {}, el('div', { class: 'text', text: row.reference })),
    ...row.answers.map((answer, i) =>
      answer
        ? el(
            'td',
            { 'data-model': models[i]!.name },
            el('div', { class: 'text', text: answer.answer }),
            el('div', { class: 'metrics', text: metricsLine(answer.metrics) }),
            el('button', {
              'data-action': 'export-record',
              'data-model': models[i]!.name,
              text: 'Export as record',
              title: `Append this prompt with ${models[i]!.name}'s answer to a dataset`,
            }),
          )
        : el('td', { class: 'muted', text: 'not answered' }),
    ),
  );
  const pair = preferencePair(row, models);
  tr.append(
    el(
      'td',
      {},
      pair
        ? el('button', {
            'data-action': 'export-pair',
            'data-chosen': pair.chosen,
            'data-rejected': pair.rejected,
            text: 'Export preference pair',
            title: `Chosen: ${pair.chosen}'s answer (higher ROUGE-L); rejected: ${pair.rejected}'s`,
          })
        : el('span', { class: 'muted', text: 'no pair' }),
    ),
  );
  return tr;
}

table.addEventListener('click', (event) => {
  const button = (event.target as HTMLElement).closest('button');
  const tr = button?.closest('tr');
  const example = Number(tr?.getAttribute('data-example'));
  if (!button || !Number.isInteger(example)) return;
  const action = button.getAttribute('data-action');
  if (action === 'open') send({ type: 'openSource', example });
  else if (action === 'export-record')
    send({ type: 'exportRecord', example, model: button.getAttribute('data-model')! });
  else if (action === 'export-pair') {
    send({
      type: 'exportPair',
      example,
      chosen: button.getAttribute('data-chosen')!,
      rejected: button.getAttribute('data-rejected')!,
    });
  }
});

onHostMessage(parseEvaluationHostMessage, (m: EvaluationHostMessage) => {
  if (m.type === 'results') {
    results = m;
    title.textContent = m.title;
    note.textContent = m.note ?? '';
    note.hidden = m.note === null;
    renderSummary(m.models);
    renderRows();
  } else {
    status.textContent = m.message;
    status.classList.toggle('error', !m.ok);
  }
});

send({ type: 'ready' });
