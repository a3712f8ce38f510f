// Output formats of `modelfactory lint`: text for people, JSON for scripts, SARIF for code-scanning UIs.
import type { DatasetStats } from '../server/src/core/dataset/stats';
import { RULES, RULES_BY_ID } from '../server/src/core/rules';
import type { Finding, Severity } from '../server/src/core/types';

/** One finding with 1-based line and column (UTF-16 code units), as the CLI prints it. */
export interface CliDiagnostic {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: Severity;
  rule: string;
  message: string;
}

export interface LintSummary {
  files: number;
  errors: number;
  warnings: number;
  information: number;
  hints: number;
  byRule: Record<string, number>;
  /** Records seen in dataset files, and those with no error (the Datanet's acceptance). */
  records: number;
  acceptedRecords: number;
  bytes: number;
  seconds: number;
}

/** One dataset file: its records by detected format, and how many would be accepted. */
export interface FileReport {
  file: string;
  /** Records per detected format (formats with none are left out). */
  formats: Record<string, number>;
  records: number;
  accepted: number;
  /** Lines (or elements) that are not valid JSON, and valid records of no known format. */
  invalid: number;
  unknownFormat: number;
}

/** A `.json` file a folder lint passed over, and why. */
export interface SkippedFile {
  file: string;
  reason: string;
}

export function fileReport(file: string, stats: DatasetStats): FileReport {
  const formats: Record<string, number> = {};
  const counts = Object.entries(stats.formats as Record<string, number>).filter(([, n]) => n > 0);
  for (const [format, n] of counts.sort((a, b) => b[1] - a[1])) formats[format] = n;
  return {
    file,
    formats,
    records: stats.records,
    accepted: Math.round(stats.acceptance * stats.records),
    invalid: stats.invalid,
    unknownFormat: stats.unknownFormat,
  };
}

/** `data/train.jsonl: 120 records (messages 118, sharegpt 2), 117 accepted`. */
export function formatFileLine(r: FileReport): string {
  const parts = Object.entries(r.formats).map(([format, n]) => `${format} ${n}`);
  if (r.unknownFormat > 0) parts.push(`unknown format ${r.unknownFormat}`);
  if (r.invalid > 0) parts.push(`invalid JSON ${r.invalid}`);
  return (
    `${r.file}: ${r.records} record${r.records === 1 ? '' : 's'}` +
    (parts.length > 0 ? ` (${parts.join(', ')})` : '') +
    `, ${r.accepted} accepted`
  );
}

/** What a folder lint says on stderr about a `.json` file it did not check. */
export function formatSkippedLine(s: SkippedFile): string {
  return `${s.file}: not a dataset (${s.reason})`;
}

export function toCliDiagnostic(file: string, f: Finding): CliDiagnostic {
  return {
    file,
    line: f.range.start.line + 1,
    column: f.range.start.character + 1,
    endLine: f.range.end.line + 1,
    endColumn: f.range.end.character + 1,
    severity: f.severity,
    rule: f.rule,
    message: f.message,
  };
}

export function emptySummary(): LintSummary {
  return {
    files: 0,
    errors: 0,
    warnings: 0,
    information: 0,
    hints: 0,
    byRule: {},
    records: 0,
    acceptedRecords: 0,
    bytes: 0,
    seconds: 0,
  };
}

export function count(summary: LintSummary, d: CliDiagnostic): void {
  if (d.severity === 'error') summary.errors++;
  else if (d.severity === 'warning') summary.warnings++;
  else if (d.severity === 'information') summary.information++;
  else summary.hints++;
  summary.byRule[d.rule] = (summary.byRule[d.rule] ?? 0) + 1;
}

export function formatTextLine(d: CliDiagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.severity} ${d.rule}: ${d.message}`;
}

/** The closing line; `hintsHidden` when the hint lines were not printed (it says how to see them). */
export function formatTextSummary(s: LintSummary, hintsHidden = false): string {
  const parts = [
    `${s.files} file${s.files === 1 ? '' : 's'} checked`,
    `${s.errors} error${s.errors === 1 ? '' : 's'}`,
    `${s.warnings} warning${s.warnings === 1 ? '' : 's'}`,
  ];
  if (hintsHidden && s.hints > 0) parts.push(`${s.hints} hint${s.hints === 1 ? '' : 's'} (--hints lists them)`);
  if (s.records > 0) {
    const share = ((100 * s.acceptedRecords) / s.records).toFixed(1);
    parts.push(`${s.acceptedRecords}/${s.records} records would be accepted (${share}%)`);
  }
  return parts.join(', ') + ` in ${s.seconds.toFixed(2)} s`;
}

export function formatJson(
  diagnostics: CliDiagnostic[],
  summary: LintSummary,
  files: FileReport[] = [],
  skipped: SkippedFile[] = [],
): string {
  return JSON.stringify({ diagnostics, summary, files, skipped }, null, 2);
}

const SARIF_LEVEL: Record<Severity, string> = { error: 'error', warning: 'warning', information: 'note', hint: 'note' };

export function formatSarif(diagnostics: CliDiagnostic[], version: string): string {
  const used = new Set(diagnostics.map((d) => d.rule));
  const rules = RULES.filter((r) => used.has(r.id)).map((r) => ({
    id: r.id,
    shortDescription: { text: r.description },
    defaultConfiguration: { level: SARIF_LEVEL[r.defaultSeverity] },
  }));
  const results = diagnostics.map((d) => ({
    ruleId: d.rule,
    ...(RULES_BY_ID.has(d.rule) ? { ruleIndex: rules.findIndex((r) => r.id === d.rule) } : {}),
    level: SARIF_LEVEL[d.severity],
    message: { text: d.message },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: d.file.split('/').map(encodeURIComponent).join('/') },
          region: { startLine: d.line, startColumn: d.column, endLine: d.endLine, endColumn: d.endColumn },
        },
      },
    ],
  }));
  return JSON.stringify(
    {
      $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
      version: '2.1.0',
      runs: [
        {
          tool: { driver: { name: 'modelfactory', version, informationUri: 'https://modelfactory.dev', rules } },
          columnKind: 'utf16CodeUnits',
          results,
        },
      ],
    },
    null,
    2,
  );
}
