// The evaluation view's messages, both ways, and the pure row logic both sides share (regression,
// filtering, sorting). The host (client/src/panels/evaluationPanel.ts) reads an `eval` run's summary.json
// and results.jsonl and sends them as `results`; the webview (webviews/src/evaluation) renders them and
// asks for actions by example index and model name only: a file path never comes from the webview.
import type { Obj } from './validate';
import { hasOnlyKeys, isArrayOf, isBool, isInt, isNum, isObj, isOneOf, isStr, messageType } from './validate';

export const EVALUATION_LIMITS = {
  title: 1000,
  name: 256,
  path: 4096,
  /** Characters of a prompt, reference or answer sent to the webview (longer text is clipped). */
  text: 20_000,
  models: 32,
  examples: 20_000,
  filter: 500,
  message: 4000,
} as const;
const L = EVALUATION_LIMITS;

export interface Metrics {
  loss: number | null;
  rougeL: number | null;
  bleu: number | null;
  exactMatch: number | null;
  /** The LLM judge's 1-10 score; null when no judge ran (or it gave no score). */
  judge: number | null;
}

export interface ModelSummary {
  name: string;
  adapter: string | null;
  metrics: Metrics;
}

/** One model's answer to one example; `exactMatch` is 1 or 0 here. */
export interface Answer {
  answer: string;
  metrics: Metrics;
}

export interface ExampleRow {
  /** The example's index in the held-out set (the key of every action). */
  example: number;
  /** Where the source record lives, for display (`train.jsonl:12`); null when unknown. */
  source: string | null;
  /** The prompt in words: its turns as `role: text`, the last user message last. */
  prompt: string;
  reference: string;
  /** Aligned with the models of the results message: null where that model has no answer (a cancelled run). */
  answers: (Answer | null)[];
}

// Host -> webview.
export interface ResultsMessage {
  type: 'results';
  title: string;
  /** The base model first (when it ran), then each adapter. */
  models: ModelSummary[];
  examples: ExampleRow[];
  /** Something the user should know (clipped text, rows left out), or null. */
  note: string | null;
}
export interface ExportedMessage {
  type: 'exported';
  ok: boolean;
  message: string;
}
export type EvaluationHostMessage = ResultsMessage | ExportedMessage;

// Webview -> host.
export interface EvaluationReadyMessage {
  type: 'ready';
}
export interface OpenSourceMessage {
  type: 'openSource';
  example: number;
}
/** Append the example as an SFT record answered by `model` (the prompt's turns, then that answer). */
export interface ExportSftMessage {
  type: 'exportRecord';
  example: number;
  model: string;
}
/** Append a preference pair: `chosen`'s answer over `rejected`'s. */
export interface ExportPairMessage {
  type: 'exportPair';
  example: number;
  chosen: string;
  rejected: string;
}
export type EvaluationWebviewMessage =
  EvaluationReadyMessage | OpenSourceMessage | ExportSftMessage | ExportPairMessage;

export type SortKey = 'regression' | 'example' | 'loss';
export const SORT_KEYS: readonly SortKey[] = ['regression', 'example', 'loss'];

/** What survives a reload of the panel: the view's controls. */
export interface EvaluationState {
  filter: string;
  regressionsOnly: boolean;
  sort: SortKey;
}

const HOST_TYPES = ['results', 'exported'] as const;
const WEBVIEW_TYPES = ['ready', 'openSource', 'exportRecord', 'exportPair'] as const;

const isNullableNum = (v: unknown): v is number | null => v === null || isNum(v);
const isName = (v: unknown): v is string => isStr(v, L.name) && v.length > 0;
const isExampleIndex = (v: unknown): v is number => isInt(v, 0, 10_000_000);

function isMetrics(v: unknown): v is Metrics {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['loss', 'rougeL', 'bleu', 'exactMatch', 'judge']) &&
    isNullableNum(v['loss']) &&
    isNullableNum(v['rougeL']) &&
    isNullableNum(v['bleu']) &&
    isNullableNum(v['exactMatch']) &&
    isNullableNum(v['judge'])
  );
}

function isModelSummary(v: unknown): v is ModelSummary {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['name', 'adapter', 'metrics']) &&
    isName(v['name']) &&
    (v['adapter'] === null || isStr(v['adapter'], L.path)) &&
    isMetrics(v['metrics'])
  );
}

function isAnswer(v: unknown): v is Answer {
  return isObj(v) && hasOnlyKeys(v, ['answer', 'metrics']) && isStr(v['answer'], L.text) && isMetrics(v['metrics']);
}

function isExampleRow(v: unknown): v is ExampleRow {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['example', 'source', 'prompt', 'reference', 'answers']) &&
    isExampleIndex(v['example']) &&
    (v['source'] === null || isStr(v['source'], L.path)) &&
    isStr(v['prompt'], L.text) &&
    isStr(v['reference'], L.text) &&
    isArrayOf(v['answers'], (a: unknown): a is Answer | null => a === null || isAnswer(a), L.models)
  );
}

export function parseEvaluationHostMessage(raw: unknown): EvaluationHostMessage | null {
  const type = messageType(raw, HOST_TYPES);
  if (type === null) return null;
  const m = raw as Obj;
  const ok = (keys: string[], valid: boolean) => (hasOnlyKeys(m, ['type', ...keys]) && valid ? m : null);
  switch (type) {
    case 'results': {
      const valid =
        isStr(m['title'], L.title) &&
        isArrayOf(m['models'], isModelSummary, L.models) &&
        isArrayOf(m['examples'], isExampleRow, L.examples) &&
        (m['note'] === null || isStr(m['note'], L.message));
      // Every row has one slot per model.
      const aligned =
        valid &&
        (m['examples'] as ExampleRow[]).every((e) => e.answers.length === (m['models'] as ModelSummary[]).length);
      return ok(['title', 'models', 'examples', 'note'], aligned) as ResultsMessage | null;
    }
    case 'exported':
      return ok(['ok', 'message'], isBool(m['ok']) && isStr(m['message'], L.message)) as ExportedMessage | null;
  }
}

export function parseEvaluationWebviewMessage(raw: unknown): EvaluationWebviewMessage | null {
  const type = messageType(raw, WEBVIEW_TYPES);
  if (type === null) return null;
  const m = raw as Obj;
  const ok = (keys: string[], valid: boolean) => (hasOnlyKeys(m, ['type', ...keys]) && valid ? m : null);
  switch (type) {
    case 'ready':
      return ok([], true) as EvaluationReadyMessage | null;
    case 'openSource':
      return ok(['example'], isExampleIndex(m['example'])) as OpenSourceMessage | null;
    case 'exportRecord':
      return ok(['example', 'model'], isExampleIndex(m['example']) && isName(m['model'])) as ExportSftMessage | null;
    case 'exportPair':
      return ok(
        ['example', 'chosen', 'rejected'],
        isExampleIndex(m['example']) && isName(m['chosen']) && isName(m['rejected']) && m['chosen'] !== m['rejected'],
      ) as ExportPairMessage | null;
  }
}

export function parseEvaluationState(raw: unknown): EvaluationState | null {
  if (!isObj(raw) || !hasOnlyKeys(raw, ['filter', 'regressionsOnly', 'sort'])) return null;
  return isStr(raw['filter'], L.filter) && isBool(raw['regressionsOnly']) && isOneOf(raw['sort'], SORT_KEYS)
    ? (raw as unknown as EvaluationState)
    : null;
}

/**
 * How much worse the adapters did than the base on this example: the largest drop in ROUGE-L from the
 * base's answer to an adapter's (0 when none is worse, or when the base did not run: `models[0]` must be
 * the base, adapter null). A lost exact match counts as a drop of at least 1e-6, and a reference loss
 * that rose breaks ties among equal ROUGE-L (it adds a thousandth of the rise, capped).
 */
export function regressionOf(row: ExampleRow, models: readonly ModelSummary[]): number {
  if (models.length < 2 || models[0]!.adapter !== null) return 0;
  const base = row.answers[0];
  if (!base) return 0;
  let worst = 0;
  for (let i = 1; i < models.length; i++) {
    const answer = row.answers[i];
    if (!answer) continue;
    let drop = 0;
    if (base.metrics.rougeL !== null && answer.metrics.rougeL !== null)
      drop = base.metrics.rougeL - answer.metrics.rougeL;
    if (base.metrics.exactMatch === 1 && answer.metrics.exactMatch === 0) drop = Math.max(drop, 1e-6);
    if (
      drop >= 0 &&
      base.metrics.loss !== null &&
      answer.metrics.loss !== null &&
      answer.metrics.loss > base.metrics.loss
    )
      drop += Math.min(1, answer.metrics.loss - base.metrics.loss) / 1000;
    worst = Math.max(worst, drop);
  }
  return worst;
}

/** A regression: some adapter's answer scores lower ROUGE-L than the base's, or lost its exact match. */
export function isRegression(row: ExampleRow, models: readonly ModelSummary[]): boolean {
  if (models.length < 2 || models[0]!.adapter !== null || !row.answers[0]) return false;
  const base = row.answers[0].metrics;
  return row.answers
    .slice(1)
    .some(
      (a) =>
        a !== null &&
        ((base.rougeL !== null && a.metrics.rougeL !== null && a.metrics.rougeL < base.rougeL) ||
          (base.exactMatch === 1 && a.metrics.exactMatch === 0)),
    );
}

/** The rows shown: filtered by text (prompt, reference, answers, source; case-insensitive) and regressions, sorted. */
export function visibleRows(
  rows: readonly ExampleRow[],
  models: readonly ModelSummary[],
  state: EvaluationState,
): ExampleRow[] {
  const needle = state.filter.trim().toLowerCase();
  const kept = rows.filter((row) => {
    if (state.regressionsOnly && !isRegression(row, models)) return false;
    if (!needle) return true;
    const haystack = [row.prompt, row.reference, row.source ?? '', ...row.answers.map((a) => a?.answer ?? '')];
    return haystack.some((text) => text.toLowerCase().includes(needle));
  });
  const adapterLoss = (row: ExampleRow) =>
    Math.max(-Infinity, ...row.answers.slice(1).map((a) => a?.metrics.loss ?? -Infinity));
  const key: Record<SortKey, (a: ExampleRow, b: ExampleRow) => number> = {
    example: (a, b) => a.example - b.example,
    regression: (a, b) => regressionOf(b, models) - regressionOf(a, models) || a.example - b.example,
    loss: (a, b) => adapterLoss(b) - adapterLoss(a) || a.example - b.example,
  };
  return kept.sort(key[state.sort]);
}

/** The better and the worse answer of a row by ROUGE-L (then lower loss), or null when there are not two different ones. */
export function preferencePair(
  row: ExampleRow,
  models: readonly ModelSummary[],
): { chosen: string; rejected: string } | null {
  const scored = models
    .map((m, i) => ({ name: m.name, answer: row.answers[i] }))
    .filter((x): x is { name: string; answer: Answer } => !!x.answer && x.answer.answer.trim() !== '');
  if (scored.length < 2) return null;
  const score = (a: Answer) => [a.metrics.rougeL ?? -1, -(a.metrics.loss ?? Infinity)] as const;
  scored.sort((x, y) => {
    const [rx, lx] = score(x.answer);
    const [ry, ly] = score(y.answer);
    return ry - rx || ly - lx;
  });
  const best = scored[0]!;
  const worst = scored[scored.length - 1]!;
  if (best.answer.answer === worst.answer.answer) return null;
  return { chosen: best.name, rejected: worst.name };
}
