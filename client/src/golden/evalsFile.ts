// A `*.evals.yaml` (schemas/evals.schema.json) as the Testing view needs it: its prompts' names with the line
// each starts on, and what the trainer's `golden --json` said about each. Pure: no `vscode`, no I/O.
import { isMap, isSeq, parseDocument } from 'yaml';

export interface GoldenPrompt {
  name: string;
  /** 0-based line of the prompt's entry. */
  line: number;
}

export interface GoldenResult {
  name: string;
  model: string;
  answer: string;
  passed: boolean;
  problems: string[];
  seconds: number;
  expect: Record<string, unknown>;
}

/** Whether a path names a golden-prompts file. */
export function isEvalsPath(path: string): boolean {
  return /\.evals\.ya?ml$/i.test(path);
}

/** The prompts of an evals file with their lines; a file that does not parse has none. */
export function goldenPrompts(text: string): GoldenPrompt[] {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0 || !isMap(doc.contents)) return [];
  const prompts = doc.contents.get('prompts', true);
  if (!isSeq(prompts)) return [];
  const lineOf = (offset: number) => text.slice(0, offset).split('\n').length - 1;
  const out: GoldenPrompt[] = [];
  const seen = new Set<string>();
  for (const item of prompts.items) {
    if (!isMap(item)) continue;
    const name = item.get('name');
    if (typeof name !== 'string' || name === '' || seen.has(name)) continue;
    seen.add(name);
    out.push({ name, line: lineOf(item.range?.[0] ?? 0) });
  }
  return out;
}

/** The results of a `golden --json` run (stdout), or a reason they are not there. */
export function parseGoldenOutput(stdout: string): GoldenResult[] | string {
  let value: unknown;
  try {
    value = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    return 'the trainer printed no JSON report';
  }
  const results = (value as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return 'the trainer printed no results';
  return results
    .filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null)
    .map((r) => ({
      name: String(r['name'] ?? ''),
      model: String(r['model'] ?? ''),
      answer: typeof r['answer'] === 'string' ? r['answer'] : '',
      passed: r['passed'] === true,
      problems: Array.isArray(r['problems']) ? r['problems'].map(String) : [],
      seconds: typeof r['seconds'] === 'number' ? r['seconds'] : 0,
      expect: typeof r['expect'] === 'object' && r['expect'] !== null ? (r['expect'] as Record<string, unknown>) : {},
    }));
}

/**
 * What was expected, as text to diff against the answer: the `equals` answer when there is one (then the diff
 * is exact), else each expectation on a line of its own.
 */
export function expectedText(expect: Record<string, unknown>): string {
  if (typeof expect['equals'] === 'string') return expect['equals'].trim();
  const lines: string[] = [];
  const list = (v: unknown) => (Array.isArray(v) ? v.map((x) => JSON.stringify(String(x))).join(', ') : '');
  if (expect['contains'] !== undefined) lines.push(`contains ${list(expect['contains'])}`);
  if (expect['not_contains'] !== undefined) lines.push(`does not contain ${list(expect['not_contains'])}`);
  if (typeof expect['regex'] === 'string') lines.push(`matches /${expect['regex']}/`);
  if (typeof expect['max_tokens'] === 'number') lines.push(`at most ${expect['max_tokens']} tokens`);
  const judge = expect['judge'];
  if (typeof judge === 'object' && judge !== null && typeof (judge as { rubric?: unknown }).rubric === 'string') {
    const { rubric, min_score: min } = judge as { rubric: string; min_score?: unknown };
    lines.push(`a judge scores it at least ${typeof min === 'number' ? min : 7}/10 for: ${rubric}`);
  }
  return lines.join('\n');
}
