// What every dataset rule receives: severities, limits, and a sink that turns a match into a Finding.
import type { Finding, Severity } from '../types';
import type { TokenCounter } from '../tokenizer';
import type { RecordFormat } from './formats';

export interface DatasetValidatorOptions {
  /** The severity of a rule, or undefined when the rule is off. */
  severityOf(rule: string): Severity | undefined;
  /** The format a Datanet demands; undefined: the file's majority format (detected per record). */
  format?: RecordFormat;
  /** An extra JSON Schema every record must satisfy (a Datanet manifest's `record_schema`). */
  recordSchema?: object;
  maxTokens: number;
  minChars: number;
  /** Estimated Jaccard similarity at or above which a record is a near duplicate. */
  nearThreshold: number;
  tokenCounter: TokenCounter;
}

/** Collects the findings of one line; rules that are off produce nothing. */
export class LineFindings {
  readonly items: Finding[] = [];
  constructor(
    private readonly severityOf: (rule: string) => Severity | undefined,
    readonly line: number,
  ) {}

  isOn(rule: string): boolean {
    return this.severityOf(rule) !== undefined;
  }

  add(rule: string, start: number, end: number, message: string, data?: Record<string, unknown>): void {
    const severity = this.severityOf(rule);
    if (severity === undefined) return;
    const finding: Finding = {
      rule,
      severity,
      range: { start: { line: this.line, character: start }, end: { line: this.line, character: end } },
      message,
    };
    if (data) finding.data = data;
    this.items.push(finding);
  }
}

export function makeFinding(
  rule: string,
  severity: Severity,
  line: number,
  start: number,
  end: number,
  message: string,
  data?: Record<string, unknown>,
): Finding {
  const finding: Finding = {
    rule,
    severity,
    range: { start: { line, character: start }, end: { line, character: end } },
    message,
  };
  if (data) finding.data = data;
  return finding;
}

/** Findings sorted by position, then rule id, so that equal sets compare equal. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    a.range.start.line - b.range.start.line ||
    a.range.start.character - b.range.start.character ||
    a.range.end.line - b.range.end.line ||
    a.range.end.character - b.range.end.character ||
    (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0) ||
    (a.message < b.message ? -1 : a.message > b.message ? 1 : 0)
  );
}
