// `.json` datasets: one JSON array of records. Each element is validated by the same rules as a JSONL
// line (its text is sliced out with jsonc-parser's offsets), and the findings are mapped back to
// positions in the file. The result keeps what the editor's hover and quick fixes need per element.
// `sniffJsonDataset` tells a dataset from other JSON (package.json, settings) by its content.
import { getNodeValue, parseTree, printParseErrorCode } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';
import { leadingElementValues, splitTopLevelArray, tooDeepForTree } from './jsonArraySplit';
import { deepOffset, MAX_RECORD_DEPTH } from './jsonl';
import type { Finding, Position } from '../types';
import type { DatasetValidatorOptions } from './context';
import { detectRecordFormat } from './formats';
import type { RecordFormat } from './formats';
import { JsonArrayChecker } from './jsonArrayRecords';
import type { LineMediaRef } from './mediaFiles';
import type { DatasetStats } from './stats';

/** One element of the array, for hover and quick fixes. */
export interface JsonArrayRecord {
  /** Offsets of the element in the file's text ([start, end)). */
  start: number;
  end: number;
  /** Detected format; undefined for invalid elements and those of no known format. */
  format?: RecordFormat;
  tokens?: number;
  tokensExact: boolean;
  /** Index of the earlier element this one repeats exactly. */
  duplicateOf?: number;
  /** Index of the earlier element this one nearly repeats. */
  nearDuplicateOf?: { index: number; similarity: number };
  /** The files the record names (media/missing-file), with their positions in the file. */
  media?: LineMediaRef[];
  /** Some finding on the record is an error. */
  hasError?: true;
}

export interface JsonArrayResult {
  findings: Finding[];
  stats: DatasetStats;
  /** The array's elements in order (none when the file is not an array). */
  records: JsonArrayRecord[];
  /** The name of the tokenizer that counted tokens. */
  tokenizer: string;
  /** Offset in the text -> position (the editor's line breaks: LF, CRLF, CR). */
  positionAt(offset: number): Position;
  /** Position -> offset in the text. */
  offsetAt(position: Position): number;
}

/** Offsets of line starts, by the editor's policy (LF, CRLF, CR). */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) starts.push(i + 1);
    else if (c === 0x0d) {
      if (text.charCodeAt(i + 1) === 0x0a) i++;
      starts.push(i + 1);
    }
  }
  return starts;
}

function positionAt(starts: number[], offset: number): Position {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo, character: offset - (starts[lo] ?? 0) };
}

const MAX_SYNTAX_FINDINGS = 50;

export function validateJsonArrayDataset(text: string, opts: DatasetValidatorOptions): JsonArrayResult {
  const findings: Finding[] = [];
  const starts = lineStarts(text);
  const records: JsonArrayRecord[] = [];
  const mapping = {
    records,
    tokenizer: opts.tokenCounter.name,
    positionAt: (offset: number) => positionAt(starts, offset),
    offsetAt: (p: Position) => Math.min(text.length, (starts[p.line] ?? text.length) + p.character),
  };
  const range = (start: number, end: number): Finding['range'] => ({
    start: positionAt(starts, start),
    end: positionAt(starts, end),
  });
  const errors: ParseError[] = [];
  // Text nested deeper than a record may be is split by a flat scan: jsonc-parser recurses per level.
  const split = deepOffset(text, MAX_RECORD_DEPTH + 1) >= 0 ? splitTopLevelArray(text, errors) : undefined;
  const root = split
    ? { type: 'array' as const, offset: 0, length: text.length, children: split }
    : parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  const invalidSeverity = opts.severityOf('jsonl/invalid-json');
  if (invalidSeverity) {
    for (const e of errors.slice(0, MAX_SYNTAX_FINDINGS)) {
      findings.push({
        rule: 'jsonl/invalid-json',
        severity: invalidSeverity,
        range: range(e.offset, e.offset + Math.max(1, e.length)),
        message: `Invalid JSON (${printParseErrorCode(e.error)}): a .json dataset must be one array of records.`,
      });
    }
  }
  const checker = new JsonArrayChecker(opts, (f) => findings.push(f));
  if (!root || root.type !== 'array') {
    if (root && invalidSeverity) {
      findings.push({
        rule: 'jsonl/invalid-json',
        severity: invalidSeverity,
        range: range(root.offset, root.offset + root.length),
        message:
          'A .json dataset must be an array of records: wrap the records in [ ... ], or use JSON Lines (.jsonl).',
      });
    }
    return finish(findings, checker.stats(), mapping);
  }

  const elements = root.children ?? [];
  for (const node of elements) {
    const offset = node.offset;
    // The file-level syntax errors above already say what is wrong with an invalid element, except
    // after a flat split, which checks only the array's own punctuation: then the element's findings say it.
    const r = checker.add(
      text.slice(offset, offset + node.length),
      (local) => positionAt(starts, offset + local),
      !!split,
    );
    const a = r.analysis;
    const record: JsonArrayRecord = { start: offset, end: offset + node.length, tokensExact: a.tokensExact };
    records.push(record);
    if (a.format) {
      record.format = a.format;
      record.tokens = a.tokens;
    }
    if (r.media) record.media = r.media;
    if (r.duplicateOf !== undefined) record.duplicateOf = r.duplicateOf;
  }
  checker.finish();
  records.forEach((r, i) => {
    if (checker.hasError(i)) r.hasError = true;
    const near = checker.nearDuplicateOf(i);
    if (near) r.nearDuplicateOf = near;
  });
  return finish(findings, checker.stats(), mapping);
}

function finish(
  findings: Finding[],
  stats: DatasetStats,
  mapping: Omit<JsonArrayResult, 'findings' | 'stats'>,
): JsonArrayResult {
  // Every finding by rule: the file's syntax errors as well as the records' findings.
  const findingsByRule: Record<string, number> = {};
  for (const f of findings) findingsByRule[f.rule] = (findingsByRule[f.rule] ?? 0) + 1;
  return { findings, stats: { ...stats, findingsByRule }, ...mapping };
}

/** The element whose text holds `offset` (its start included, its end too: the cursor after `}`). */
export function recordAtOffset(records: readonly JsonArrayRecord[], offset: number): number {
  let lo = 0;
  let hi = records.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = records[mid] as JsonArrayRecord;
    if (offset < r.start) hi = mid - 1;
    else if (offset > r.end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

export type JsonDatasetVerdict = { dataset: true } | { dataset: false; reason: string };

/** How many leading elements decide whether an array holds records. */
const SNIFF_ELEMENTS = 5;

function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'object':
      return 'an object';
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    default:
      return 'nothing';
  }
}

/**
 * Whether a `.json` file holds a dataset, by its content: a top-level array of objects whose first
 * elements (up to five) are mostly records of a known format. A file with syntax errors is judged by
 * what a lenient parse recovers, so that a broken dataset is still linted (and its errors reported).
 * Otherwise the reason, for the CLI to say what it skipped: "an object, not an array of records".
 */
export function sniffJsonDataset(text: string): JsonDatasetVerdict {
  const first = /\S/.exec(text);
  if (!first) return { dataset: false, reason: 'an empty file' };
  let elements: unknown[] | undefined;
  if (first[0] === '[') {
    try {
      const value: unknown = JSON.parse(text);
      if (Array.isArray(value)) elements = value.slice(0, SNIFF_ELEMENTS);
    } catch {
      const root = tooDeepForTree(text)
        ? undefined
        : parseTree(text, [], { disallowComments: true, allowTrailingComma: false });
      if (!root) elements = leadingElementValues(text, SNIFF_ELEMENTS, true);
      else if (root.type === 'array') elements = (root.children ?? []).slice(0, SNIFF_ELEMENTS).map(getNodeValue);
    }
    if (!elements) return { dataset: false, reason: 'not valid JSON' };
  } else {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      if (tooDeepForTree(text)) return { dataset: false, reason: 'not valid JSON (nested too deep)' };
      const root = parseTree(text, [], { disallowComments: false, allowTrailingComma: true });
      if (root?.type !== 'object') return { dataset: false, reason: 'not valid JSON' };
      value = {};
    }
    return { dataset: false, reason: `${describeJson(value)}, not an array of records` };
  }
  return judgeElements(elements);
}

/**
 * `sniffJsonDataset` for the first bytes of a file too large to hold (the CLI streams it): judged by the
 * leading elements that the head holds whole.
 */
export function sniffJsonDatasetHead(head: string): JsonDatasetVerdict {
  const first = /\S/.exec(head);
  if (!first) return { dataset: false, reason: 'an empty file' };
  if (first[0] !== '[') return { dataset: false, reason: 'not an array of records' };
  const elements = leadingElementValues(head, SNIFF_ELEMENTS, false);
  return elements.length === 0
    ? { dataset: false, reason: 'no whole record in its first bytes' }
    : judgeElements(elements);
}

function judgeElements(elements: unknown[]): JsonDatasetVerdict {
  if (elements.length === 0) return { dataset: false, reason: 'an empty array' };
  const notObject = elements.find((e) => describeJson(e) !== 'an object');
  if (notObject !== undefined)
    return { dataset: false, reason: `an array of ${describeJson(notObject).replace(/^an? /, '')}s, not of records` };
  const known = elements.filter((e) => detectRecordFormat(e) !== undefined).length;
  if (2 * known < elements.length) {
    const keys = Object.keys(elements[0] as object).slice(0, 4);
    return {
      dataset: false,
      reason: `its first records match no known record format (keys: ${keys.length ? keys.join(', ') : 'none'})`,
    };
  }
  return { dataset: true };
}
