// `.json` datasets: one JSON array of records. Each element is validated by the same rules as a JSONL
// line (its text is sliced out with jsonc-parser's offsets), and the findings are mapped back to
// positions in the file.
import { parseTree, printParseErrorCode } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';
import type { Finding, Position } from '../types';
import type { DatasetValidatorOptions } from './context';
import { ExactDuplicateTable } from './dedupExact';
import { NearDuplicateIndex } from './dedupNear';
import type { RecordFormat } from './formats';
import { RecordAnalyzer, hasError } from './record';
import { emptyFormatCounts, majorityFormat, tokenPercentiles } from './stats';
import type { DatasetStats } from './stats';
import { mixedFormatMessage } from './validator';

export interface JsonArrayResult {
  findings: Finding[];
  stats: DatasetStats;
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
  const range = (start: number, end: number): Finding['range'] => ({
    start: positionAt(starts, start),
    end: positionAt(starts, end),
  });
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
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
    return finish(findings, stats);
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
    if (a.kind === 'invalid') {
      // The file-level syntax errors above already say what is wrong here.
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
  stats.tokens = tokenPercentiles(tokens, allExact);
  stats.acceptance = elements.length === 0 ? 1 : elementErrors.filter((e) => !e).length / elements.length;
  return finish(findings, stats);
}

function finish(findings: Finding[], stats: DatasetStats): JsonArrayResult {
  for (const f of findings) stats.findingsByRule[f.rule] = (stats.findingsByRule[f.rule] ?? 0) + 1;
  return { findings, stats };
}
