// Quick fixes for dataset findings: delete a duplicate or blank line, rename a role to the one the
// format expects, rewrite a line of Python literal syntax as JSON. Each is a plain TextEdit, so the
// editor applies it as an undoable edit. `.json` arrays get the same fixes, on elements instead of
// lines (deleting an element takes one of its commas with it).
import type { CodeAction, Finding, Range, TextEdit } from '../types';
import { recordAtOffset } from './jsonArray';
import type { JsonArrayResult } from './jsonArray';
import type { DatasetValidator } from './validator';

/** Deletes lines first..last (inclusive) together with one line break. */
function deleteLines(validator: DatasetValidator, first: number, last: number): TextEdit {
  const lastLine = validator.lineCount() - 1;
  const endOf = (line: number) => validator.lineText(line).length;
  let range: Range;
  if (last < lastLine) range = { start: { line: first, character: 0 }, end: { line: last + 1, character: 0 } };
  else if (first > 0)
    range = { start: { line: first - 1, character: endOf(first - 1) }, end: { line: last, character: endOf(last) } };
  else range = { start: { line: 0, character: 0 }, end: { line: last, character: endOf(last) } };
  return { range, newText: '' };
}

const deleteLine = (validator: DatasetValidator, line: number) => deleteLines(validator, line, line);

/** The fix that does not depend on how records are laid out: a role renamed in place. */
function renameRole(f: Finding): CodeAction | undefined {
  if (f.rule !== 'messages/unknown-role' || typeof f.data?.['suggestion'] !== 'string') return undefined;
  const suggestion = f.data['suggestion'] as string;
  const role = String(f.data['role']);
  return {
    title: `Rename '${role}' to '${suggestion}'`,
    rule: f.rule,
    edits: [{ range: f.range, newText: JSON.stringify(suggestion) }],
    isPreferred: true,
  };
}

/** Actions for the findings in the requested range (the editor passes those it shows there). */
export function datasetCodeActions(validator: DatasetValidator, findings: readonly Finding[]): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const f of findings) {
    const line = f.range.start.line;
    const rename = renameRole(f);
    if (rename) actions.push(rename);
    else if (f.rule === 'jsonl/invalid-json' && typeof f.data?.['replacement'] === 'string') {
      const text = validator.lineText(line);
      actions.push({
        title: 'Convert this Python literal to JSON',
        rule: f.rule,
        edits: [
          {
            range: { start: { line, character: 0 }, end: { line, character: text.length } },
            newText: f.data['replacement'] as string,
          },
        ],
        isPreferred: true,
      });
    } else if (f.rule === 'dedup/exact' && typeof f.data?.['duplicateOf'] === 'number') {
      actions.push({
        title: `Remove this duplicate of line ${(f.data['duplicateOf'] as number) + 1}`,
        rule: f.rule,
        edits: [deleteLine(validator, line)],
        isPreferred: true,
      });
    } else if (f.rule === 'jsonl/blank-line') {
      actions.push({
        title: 'Remove the blank line',
        rule: f.rule,
        edits: [deleteLine(validator, line)],
        isPreferred: true,
      });
    }
  }
  return actions;
}

/** One action that removes every exact duplicate in the file (a `source.fixAll`). */
export function removeAllDuplicates(validator: DatasetValidator, findings: readonly Finding[]): CodeAction | undefined {
  const lines = [...new Set(findings.filter((f) => f.rule === 'dedup/exact').map((f) => f.range.start.line))].sort(
    (a, b) => a - b,
  );
  if (lines.length === 0) return undefined;
  // Consecutive lines become one edit, so that no two edits of the action overlap.
  const edits: TextEdit[] = [];
  for (let i = 0; i < lines.length;) {
    let j = i;
    while (j + 1 < lines.length && lines[j + 1] === lines[j]! + 1) j++;
    edits.push(deleteLines(validator, lines[i]!, lines[j]!));
    i = j + 1;
  }
  return {
    title: `Remove all ${lines.length} exact duplicate record${lines.length === 1 ? '' : 's'}`,
    rule: 'dedup/exact',
    edits,
  };
}

/**
 * Deletes the elements first..last (inclusive) of a `.json` array, with the separating comma: up to
 * the next element when there is one, else from the end of the element before.
 */
function deleteElements(result: JsonArrayResult, first: number, last: number): TextEdit {
  const records = result.records;
  const next = records[last + 1];
  const previous = records[first - 1];
  const start = next || !previous ? (records[first]?.start ?? 0) : previous.end;
  const end = next ? next.start : (records[last]?.end ?? start);
  return { range: { start: result.positionAt(start), end: result.positionAt(end) }, newText: '' };
}

/** Quick fixes for findings in a `.json` array dataset. */
export function jsonArrayCodeActions(result: JsonArrayResult, findings: readonly Finding[]): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const f of findings) {
    const rename = renameRole(f);
    if (rename) actions.push(rename);
    else if (f.rule === 'dedup/exact' && typeof f.data?.['element'] === 'number') {
      const index = recordAtOffset(result.records, result.offsetAt(f.range.start));
      if (index < 0) continue;
      actions.push({
        title: `Remove this duplicate of record ${(f.data['element'] as number) + 1}`,
        rule: f.rule,
        edits: [deleteElements(result, index, index)],
        isPreferred: true,
      });
    }
  }
  return actions;
}

/** One action that removes every exact duplicate element of a `.json` array (a `source.fixAll`). */
export function removeAllJsonArrayDuplicates(
  result: JsonArrayResult,
  findings: readonly Finding[],
): CodeAction | undefined {
  const indices = [
    ...new Set(
      findings
        .filter((f) => f.rule === 'dedup/exact')
        .map((f) => recordAtOffset(result.records, result.offsetAt(f.range.start)))
        .filter((i) => i >= 0),
    ),
  ].sort((a, b) => a - b);
  if (indices.length === 0) return undefined;
  const edits: TextEdit[] = [];
  for (let i = 0; i < indices.length;) {
    let j = i;
    while (j + 1 < indices.length && indices[j + 1] === indices[j]! + 1) j++;
    edits.push(deleteElements(result, indices[i]!, indices[j]!));
    i = j + 1;
  }
  return {
    title: `Remove all ${indices.length} exact duplicate record${indices.length === 1 ? '' : 's'}`,
    rule: 'dedup/exact',
    edits,
  };
}
