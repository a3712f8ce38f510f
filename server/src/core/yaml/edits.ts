// Measurements that text edits of a YAML document need to fit in: its line breaks, its indentation
// step, where its top-level keys start, where a line ends.
import type { Node } from 'yaml';
import type { ParsedYaml } from './parse';

export function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** The document's indentation step: the smallest indentation of any key line, else 2. */
export function indentUnit(parsed: ParsedYaml): number {
  let unit = Infinity;
  for (let line = 0; line < parsed.lines.lineCount; line++) {
    const match = /^( +)[^\s#-]/.exec(parsed.lines.lineText(line));
    if (match) unit = Math.min(unit, match[1]!.length);
  }
  return Number.isFinite(unit) ? unit : 2;
}

/** Column where the top-level keys start (a document may be indented as a whole). */
export function topIndent(parsed: ParsedYaml): number {
  const contents = parsed.doc.contents as Node | null;
  const start = contents?.range?.[0];
  return start === undefined ? 0 : parsed.lines.positionAt(start).character;
}

/** The offset just past the line holding `offset` (after its line break), or the text's end. */
export function nextLineStart(parsed: ParsedYaml, offset: number): number {
  const line = parsed.lines.positionAt(offset).line;
  return line + 1 < parsed.lines.lineCount ? parsed.lines.lineStart(line + 1) : parsed.text.length;
}
