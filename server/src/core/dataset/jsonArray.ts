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
import { ExactDuplicateTable } from './dedupExact';
import { NearDuplicateIndex } from './dedupNear';
import { detectRecordFormat } from './formats';
import type { RecordFormat } from './formats';
import type { LineMediaRef } from './mediaFiles';
import { RecordAnalyzer, hasError } from './record';
import { emptyFormatCounts, majorityFormat, tokenPercentiles } from './stats';
import type { DatasetStats } from './stats';
import { mixedFormatMessage } from './validator';

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
  const formatCounts = emptyFormatCounts();
  const stats: DatasetStats = {
    lines: 0,
    records: 0,
    blank: 0,
    invalid: 0,
    formats: formatCounts,
    unknownFormat: 0,
    exactDuplicates: 0,
    nearDuplicates: 0,
    tokens: tokenPercentiles([], false),
    findingsByRule: {},
    acceptance: 1,
  };
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
    return finish(findings, stats, mapping);
  }

  const analyzer = new RecordAnalyzer(opts);
  const exact = new ExactDuplicateTable();
  const near = new NearDuplicateIndex();
  const exactSeverity = opts.severityOf('dedup/exact');
  const nearSeverity = opts.severityOf('dedup/near');
  const elements = root.children ?? [];
  const formats: (RecordFormat | undefined)[] = [];
  const elementErrors: boolean[] = [];
  const tokens: number[] = [];
  let allExact = true;
  stats.lines = elements.length;
  for (let index = 0; index < elements.length; index++) {
    const node = elements[index];
    if (!node) continue;
    const elementText = text.slice(node.offset, node.offset + node.length);
    const a = analyzer.analyze(elementText, 0);
    formats.push(a.format);
    stats.records++;
    const record: JsonArrayRecord = { start: node.offset, end: node.offset + node.length, tokensExact: a.tokensExact };
    records.push(record);
    if (a.format) {
      record.format = a.format;
      record.tokens = a.tokens;
    }
    if (a.media && a.media.length > 0) {
      record.media = a.media.map((ref) => {
        const at = positionAt(starts, node.offset + ref.start);
        const end = positionAt(starts, node.offset + ref.end);
        return {
          file: ref.file,
          line: at.line,
          start: at.character,
          end: end.line === at.line ? end.character : at.character,
        };
      });
    }
    if (a.kind === 'invalid') {
      // The file-level syntax errors above already say what is wrong here, except after a flat split,
      // which checks only the array's own punctuation: then the element's findings say it.
      if (split) {
        for (const f of a.findings) {
          findings.push({
            ...f,
            range: range(node.offset + f.range.start.character, node.offset + f.range.end.character),
          });
        }
      }
      stats.invalid++;
      elementErrors.push(true);
      continue;
    }
    const local: Finding[] = a.findings.map((f) => ({
      ...f,
      range: range(node.offset + f.range.start.character, node.offset + f.range.end.character),
    }));
    if (!a.format) stats.unknownFormat++;
    else {
      formatCounts[a.format]++;
      tokens.push(a.tokens);
      allExact &&= a.tokensExact;
    }
    const elementRange = range(node.offset, node.offset + node.length);
    const firstExact = a.valueHash >= 0 ? exact.firstOrAdd(a.valueHash, index) : -1;
    if (firstExact >= 0) {
      record.duplicateOf = firstExact;
      stats.exactDuplicates++;
      if (exactSeverity)
        local.push(
          duplicateOf(
            'dedup/exact',
            exactSeverity,
            elementRange,
            elements[firstExact]?.offset ?? 0,
            firstExact,
            undefined,
          ),
        );
    } else if (a.hasSignature) {
      const found = near.checkAndAdd(analyzer.hasher, index, opts.nearThreshold);
      if (found) {
        record.nearDuplicateOf = { index: found.line, similarity: found.similarity };
        stats.nearDuplicates++;
        if (nearSeverity)
          local.push(
            duplicateOf(
              'dedup/near',
              nearSeverity,
              elementRange,
              elements[found.line]?.offset ?? 0,
              found.line,
              found.similarity,
            ),
          );
      }
    }
    elementErrors.push(hasError(local));
    findings.push(...local);
  }

  function duplicateOf(
    rule: 'dedup/exact' | 'dedup/near',
    severity: Finding['severity'],
    elementRange: Finding['range'],
    firstOffset: number,
    firstIndex: number,
    similarity: number | undefined,
  ): Finding {
    const firstPos = positionAt(starts, firstOffset);
    const what =
      rule === 'dedup/exact'
        ? 'Exact duplicate'
        : `Near duplicate (about ${Math.round((similarity ?? 0) * 100)}% similar)`;
    const data: Record<string, unknown> = { duplicateOf: firstPos.line, element: firstIndex };
    if (similarity !== undefined) data.similarity = Math.round(similarity * 1000) / 1000;
    return {
      rule,
      severity,
      range: elementRange,
      message: `${what} of record ${firstIndex + 1} (line ${firstPos.line + 1}): delete one, or make them differ.`,
      related: [{ range: { start: firstPos, end: firstPos }, message: 'First occurrence' }],
      data,
    };
  }

  const mixedSeverity = opts.severityOf('format/mixed');
  const majority = majorityFormat(formatCounts);
  if (!opts.format && majority && mixedSeverity) {
    for (let i = 0; i < formats.length; i++) {
      const format = formats[i];
      const node = elements[i];
      if (!format || format === majority || !node) continue;
      findings.push({
        rule: 'format/mixed',
        severity: mixedSeverity,
        range: range(node.offset, node.offset + node.length),
        message: mixedFormatMessage(format, majority),
        data: { format, expected: majority },
      });
      if (mixedSeverity === 'error') elementErrors[i] = true;
    }
  }
  if (majority) stats.majorityFormat = majority;
  records.forEach((r, i) => {
    if (elementErrors[i]) r.hasError = true;
  });
  stats.tokens = tokenPercentiles(tokens, allExact);
  stats.acceptance = elements.length === 0 ? 1 : elementErrors.filter((e) => !e).length / elements.length;
  return finish(findings, stats, mapping);
}

function finish(
  findings: Finding[],
  stats: DatasetStats,
  mapping: Omit<JsonArrayResult, 'findings' | 'stats'>,
): JsonArrayResult {
  for (const f of findings) stats.findingsByRule[f.rule] = (stats.findingsByRule[f.rule] ?? 0) + 1;
  return { findings, stats, ...mapping };
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
