// Quick fixes for dataset findings: delete a duplicate or blank line, rename a role to the one the
// format expects. Each is a plain TextEdit, so the editor applies it as an undoable edit.
import type { CodeAction, Finding, Range, TextEdit } from '../types';
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

/** Actions for the findings in the requested range (the editor passes those it shows there). */
export function datasetCodeActions(validator: DatasetValidator, findings: readonly Finding[]): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const f of findings) {
    const line = f.range.start.line;
    if (f.rule === 'dedup/exact' && typeof f.data?.['duplicateOf'] === 'number') {
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
    } else if (f.rule === 'messages/unknown-role' && typeof f.data?.['suggestion'] === 'string') {
      const suggestion = f.data['suggestion'] as string;
      const role = String(f.data['role']);
      actions.push({
        title: `Rename '${role}' to '${suggestion}'`,
        rule: f.rule,
        edits: [{ range: f.range, newText: JSON.stringify(suggestion) }],
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
