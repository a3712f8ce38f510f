// An `eval` run's output folder (trainer/modelfactory_trainer/evaluate.py: summary.json and results.jsonl,
// one line per example and model) read into what the evaluation view shows, plus what the host keeps for
// itself: each example's prompt turns and source record (file, line), so the webview never names a path.
// Pure Node (no `vscode`): reads go through the bounded reader; malformed lines are counted, not fatal.
import { basename, dirname, join } from 'node:path';
import { readBounded } from '../../../server/src/boundedRead';
import type { Answer, ExampleRow, Metrics, ModelSummary } from '../../../webviews/src/protocol/evaluation';
import { EVALUATION_LIMITS } from '../../../webviews/src/protocol/evaluation';

export const RESULTS_FILE = 'results.jsonl';
export const SUMMARY_FILE = 'summary.json';

export interface PromptTurn {
  role: string;
  content: string;
}

/** What the host knows of one example beyond the row it sends. */
export interface ExampleSource {
  /** The dataset file the record came from, as the trainer saw it (absolute), or null. */
  file: string | null;
  /** Its 1-based line (JSONL) or null; `index` for an element of a `.json` array. */
  line: number | null;
  index: number | null;
  prompt: PromptTurn[];
  reference: string;
  /** Full answers per model name (the rows carry clipped text). */
  answers: Map<string, string>;
}

export interface LoadedEvaluation {
  dir: string;
  title: string;
  models: ModelSummary[];
  examples: ExampleRow[];
  sources: Map<number, ExampleSource>;
  note: string | null;
}

type Json = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

function clip(text: string, max: number): { text: string; clipped: boolean } {
  return text.length <= max ? { text, clipped: false } : { text: `${text.slice(0, max - 1)}…`, clipped: true };
}

function metricsOf(m: Json | undefined): Metrics {
  const exact = m?.['exact_match'];
  return {
    loss: num(m?.['loss']),
    rougeL: num(m?.['rouge_l']),
    bleu: num(m?.['bleu']),
    exactMatch: typeof exact === 'boolean' ? (exact ? 1 : 0) : num(exact),
    judge: num(m?.['judge']),
  };
}

function turnsOf(v: unknown): PromptTurn[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter((t): t is Json => typeof t === 'object' && t !== null && !Array.isArray(t))
    .map((t) => ({ role: String(t['role'] ?? ''), content: typeof t['content'] === 'string' ? t['content'] : '' }));
}

/** The prompt in words: one `role: text` paragraph per turn. */
export function promptText(turns: readonly PromptTurn[]): string {
  return turns.map((t) => `${t.role}: ${t.content}`).join('\n\n');
}

/** The folder holding results.jsonl: `path` itself, or the folder of a results.jsonl / summary.json named. */
export function evaluationDirOf(path: string): string {
  const name = basename(path);
  return name === RESULTS_FILE || name === SUMMARY_FILE ? dirname(path) : path;
}

async function readText(path: string, kind: 'text' | 'jsonDataset'): Promise<string | undefined> {
  const read = await readBounded(path, kind);
  if ('refused' in read) {
    if (read.missing) return undefined;
    throw new Error(`${path}: ${read.refused}`);
  }
  return new TextDecoder().decode(read.bytes);
}

/** Reads an evaluation folder. Throws with a clear message when there is no results.jsonl. */
export async function loadEvaluation(path: string): Promise<LoadedEvaluation> {
  const dir = evaluationDirOf(path);
  const resultsText = await readText(join(dir, RESULTS_FILE), 'jsonDataset');
  if (resultsText === undefined) {
    throw new Error(`${dir} holds no ${RESULTS_FILE}: run \`python -m modelfactory_trainer eval CONFIG\` first`);
  }
  let summary: Json | undefined;
  const summaryText = await readText(join(dir, SUMMARY_FILE), 'text');
  if (summaryText !== undefined) {
    try {
      const parsed: unknown = JSON.parse(summaryText);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) summary = parsed as Json;
    } catch {
      summary = undefined;
    }
  }

  // Models in the summary's order (base first), else in the order results.jsonl first names them.
  const models: ModelSummary[] = [];
  const modelIndex = new Map<string, number>();
  const addModel = (name: string, adapter: string | null, metrics: Metrics) => {
    if (modelIndex.has(name) || models.length >= EVALUATION_LIMITS.models || !name) return;
    modelIndex.set(name, models.length);
    models.push({ name: name.slice(0, EVALUATION_LIMITS.name), adapter, metrics });
  };
  if (Array.isArray(summary?.['models'])) {
    for (const m of summary['models'] as unknown[]) {
      if (typeof m !== 'object' || m === null) continue;
      const model = m as Json;
      const name = str(model['name']);
      if (name) addModel(name, str(model['adapter']), metricsOf(model['metrics'] as Json | undefined));
    }
  }

  const sources = new Map<number, ExampleSource>();
  const rowAnswers = new Map<number, Map<string, Answer>>();
  let malformed = 0;
  let clipped = 0;
  for (const raw of resultsText.split('\n')) {
    if (!raw.trim()) continue;
    let row: Json;
    try {
      const value: unknown = JSON.parse(raw);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
      row = value as Json;
    } catch {
      malformed++;
      continue;
    }
    const example = row['example'];
    const model = str(row['model']);
    if (typeof example !== 'number' || !Number.isInteger(example) || example < 0 || !model) {
      malformed++;
      continue;
    }
    if (!modelIndex.has(model)) {
      // A model only results.jsonl names (no summary: the run was cancelled): its means are unknown.
      addModel(model, str(row['adapter']), metricsOf(undefined));
      if (!modelIndex.has(model)) continue;
    }
    if (!sources.has(example)) {
      if (sources.size >= EVALUATION_LIMITS.examples) continue;
      const line = row['line'];
      const index = row['index'];
      sources.set(example, {
        file: str(row['file']),
        line: typeof line === 'number' && Number.isInteger(line) && line > 0 ? line : null,
        index: typeof index === 'number' && Number.isInteger(index) && index >= 0 ? index : null,
        prompt: turnsOf(row['prompt']),
        reference: str(row['reference']) ?? '',
        answers: new Map(),
      });
      rowAnswers.set(example, new Map());
    }
    const answerText = str(row['answer']) ?? '';
    sources.get(example)!.answers.set(model, answerText);
    const shown = clip(answerText, EVALUATION_LIMITS.text);
    if (shown.clipped) clipped++;
    rowAnswers.get(example)!.set(model, { answer: shown.text, metrics: metricsOf(row) });
  }

  const examples: ExampleRow[] = [...sources.entries()]
    .sort(([a], [b]) => a - b)
    .map(([example, source]) => {
      const prompt = clip(promptText(source.prompt), EVALUATION_LIMITS.text);
      const reference = clip(source.reference, EVALUATION_LIMITS.text);
      if (prompt.clipped || reference.clipped) clipped++;
      const answers = rowAnswers.get(example)!;
      return {
        example,
        source: sourceLabel(source),
        prompt: prompt.text,
        reference: reference.text,
        answers: models.map((m) => answers.get(m.name) ?? null),
      };
    });

  const notes: string[] = [];
  if (summary === undefined) notes.push('No summary.json: the run did not finish; these are the examples answered.');
  if (malformed) notes.push(`${malformed} malformed line(s) of results.jsonl were skipped.`);
  if (clipped) notes.push(`${clipped} long text(s) are shortened here; exports use the full text.`);
  const examplesCount = num(summary?.['examples']);
  const title = `${basename(dirname(dir))}/${basename(dir)}: ${examplesCount ?? examples.length} example(s), ${models.length} model(s)`;
  return { dir, title, models, examples, sources, note: notes.length ? notes.join(' ') : null };
}

function sourceLabel(source: ExampleSource): string | null {
  if (!source.file) return null;
  const name = basename(source.file);
  if (source.line !== null) return `${name}:${source.line}`;
  if (source.index !== null) return `${name}[${source.index}]`;
  return name;
}
