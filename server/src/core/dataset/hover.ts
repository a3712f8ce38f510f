// Hover on a dataset record: its format, its length in tokens (and whether that count is exact),
// and which record it repeats. For JSONL the record is the line under the cursor; for a `.json` array
// it is the element under the cursor. Text from the data never reaches the markdown unescaped.
import type { Hover, Position, Range } from '../types';
import type { RecordFormat } from './formats';
import { recordAtOffset } from './jsonArray';
import type { JsonArrayResult } from './jsonArray';
import { FORMAT_LABELS } from './record';
import type { DatasetValidator } from './validator';

interface HoverFacts {
  title: string;
  format?: RecordFormat;
  tokens?: number;
  tokensExact: boolean;
  /** The chat template fails on the record: its message (from the data: escaped). */
  templateError?: string;
  /** Markdown link text and target line (0-based) of the record this one repeats. */
  duplicateOf?: { label: string; line: number };
  nearDuplicateOf?: { label: string; line: number; similarity: number };
}

/** Text shown as-is in markdown: every character markdown or HTML could read as syntax is escaped. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>&~]/g, (c) => '\\' + c).replace(/\s+/g, ' ');
}

function hoverRows(facts: HoverFacts, uri: string, tokenizerName: string): string {
  const rows: string[] = [];
  rows.push(`**${facts.title}**` + (facts.format ? ` · ${FORMAT_LABELS[facts.format]}` : ' · unknown format'));
  if (facts.tokens !== undefined) {
    rows.push(
      facts.tokensExact
        ? `${facts.tokens} tokens (${tokenizerName})`
        : `≈ ${facts.tokens} tokens (estimate: no tokenizer found; set \`tokenizer\` in the Datanet or \`modelfactory.dataset.tokenizer\`)`,
    );
  }
  if (facts.templateError !== undefined) {
    rows.push(`No token count: the chat template fails on this record (${escapeMarkdown(facts.templateError)})`);
  }
  if (facts.duplicateOf) {
    const { label, line } = facts.duplicateOf;
    rows.push(`Exact duplicate of [${label}](${uri}#L${line + 1})`);
  }
  if (facts.nearDuplicateOf) {
    const { label, line, similarity } = facts.nearDuplicateOf;
    rows.push(`Near duplicate of [${label}](${uri}#L${line + 1}) (similarity ≈ ${similarity.toFixed(2)})`);
  }
  return rows.join('\n\n');
}

export function datasetHover(
  validator: DatasetValidator,
  line: number,
  uri: string,
  tokenizerName: string,
): Hover | undefined {
  const info = validator.recordInfo(line);
  if (!info) return undefined;
  const facts: HoverFacts = { title: `Record ${line + 1}`, tokensExact: info.tokensExact };
  if (info.format) facts.format = info.format;
  if (info.tokens !== undefined) facts.tokens = info.tokens;
  if (info.templateError !== undefined) facts.templateError = info.templateError;
  if (info.duplicateOf !== undefined)
    facts.duplicateOf = { label: `line ${info.duplicateOf + 1}`, line: info.duplicateOf };
  if (info.nearDuplicateOf) {
    const { line: other, similarity } = info.nearDuplicateOf;
    facts.nearDuplicateOf = { label: `line ${other + 1}`, line: other, similarity };
  }
  const text = validator.lineText(line);
  return {
    contents: hoverRows(facts, uri, tokenizerName),
    range: { start: { line, character: 0 }, end: { line, character: text.length } },
  };
}

/** Hover on the element of a `.json` array dataset under `position`. */
export function jsonArrayHover(result: JsonArrayResult, position: Position, uri: string): Hover | undefined {
  const index = recordAtOffset(result.records, result.offsetAt(position));
  const record = result.records[index];
  if (!record) return undefined;
  const lineOf = (i: number) => result.positionAt(result.records[i]?.start ?? 0).line;
  const first = result.positionAt(record.start).line;
  const facts: HoverFacts = { title: `Record ${index + 1} (line ${first + 1})`, tokensExact: record.tokensExact };
  if (record.format) facts.format = record.format;
  if (record.tokens !== undefined) facts.tokens = record.tokens;
  if (record.duplicateOf !== undefined) {
    facts.duplicateOf = { label: `record ${record.duplicateOf + 1}`, line: lineOf(record.duplicateOf) };
  }
  if (record.nearDuplicateOf) {
    const { index: other, similarity } = record.nearDuplicateOf;
    facts.nearDuplicateOf = { label: `record ${other + 1}`, line: lineOf(other), similarity };
  }
  const range: Range = { start: result.positionAt(record.start), end: result.positionAt(record.end) };
  return { contents: hoverRows(facts, uri, result.tokenizer), range };
}
