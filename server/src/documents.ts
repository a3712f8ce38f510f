// Open documents as arrays of lines. Datasets can be tens of MB: an incremental LSP change is
// applied to the lines it touches and reported as a line splice, so the dataset validator re-checks
// only those lines. (A TextDocument re-splits or re-concatenates the whole text on every change.)

export interface LinePosition {
  line: number;
  character: number;
}

export interface ContentChange {
  range?: { start: LinePosition; end: LinePosition };
  text: string;
}

/** Replace lines [start, start + deleteCount) with `lines`. */
export interface LineSplice {
  start: number;
  deleteCount: number;
  lines: string[];
}

const LINE_BREAK = /\r\n|\r|\n/;

export function splitLines(text: string): string[] {
  return text.split(LINE_BREAK);
}

export class LineDocument {
  private lines: string[];
  private cachedText: string | undefined;
  readonly eol: '\n' | '\r\n';

  constructor(
    readonly uri: string,
    readonly languageId: string,
    public version: number,
    text: string,
  ) {
    this.lines = splitLines(text);
    this.cachedText = text;
    this.eol = text.includes('\r\n') ? '\r\n' : '\n';
  }

  get lineCount(): number {
    return this.lines.length;
  }

  lineAt(line: number): string {
    return this.lines[line] ?? '';
  }

  allLines(): readonly string[] {
    return this.lines;
  }

  getText(): string {
    this.cachedText ??= this.lines.join(this.eol);
    return this.cachedText;
  }

  /** Applies one LSP content change and says which lines it replaced. */
  apply(change: ContentChange): LineSplice {
    this.cachedText = undefined;
    if (!change.range) {
      const deleteCount = this.lines.length;
      this.lines = splitLines(change.text);
      return { start: 0, deleteCount, lines: this.lines.slice() };
    }
    const last = this.lines.length - 1;
    const { start, end } = clampRange(change.range, last);
    const head = this.lineAt(start.line).slice(0, start.character);
    const tail = this.lineAt(end.line).slice(end.character);
    const replacement = splitLines(head + change.text + tail);
    const deleteCount = end.line - start.line + 1;
    spliceInPlace(this.lines, start.line, deleteCount, replacement);
    return { start: start.line, deleteCount, lines: replacement };
  }
}

function clampRange(range: { start: LinePosition; end: LinePosition }, lastLine: number) {
  const clamp = (p: LinePosition): LinePosition =>
    p.line > lastLine
      ? { line: lastLine, character: Number.MAX_SAFE_INTEGER }
      : { line: Math.max(0, p.line), character: Math.max(0, p.character) };
  let start = clamp(range.start);
  let end = clamp(range.end);
  if (start.line > end.line || (start.line === end.line && start.character > end.character))
    [start, end] = [end, start];
  return { start, end };
}

/** `Array.prototype.splice` with spread arguments overflows the stack for very large inserts. */
function spliceInPlace<T>(target: T[], start: number, deleteCount: number, items: T[]): void {
  if (items.length < 10_000) {
    target.splice(start, deleteCount, ...items);
    return;
  }
  const after = target.slice(start + deleteCount);
  target.length = start;
  for (const item of items) target.push(item);
  for (const item of after) target.push(item);
}
