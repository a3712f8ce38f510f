// The top-level elements of a `.json` array found by one flat scan (no recursion), for text nested too
// deep for jsonc-parser's recursive parser (a 5,000-deep element overflowed the stack and blanked the
// whole file). Each element is then checked on its own, where a too-deep one is reported as
// jsonl/too-deep and the others as usual. Only the array's own punctuation is checked here.
import type { ParseError, ParseErrorCode } from 'jsonc-parser';
import { deepOffset, MAX_RECORD_DEPTH } from './jsonl';

// jsonc-parser's ParseErrorCode is a const enum, which isolated modules cannot read: its values.
const VALUE_EXPECTED = 4 as ParseErrorCode;
const COMMA_EXPECTED = 6 as ParseErrorCode;
const CLOSE_BRACKET_EXPECTED = 8 as ParseErrorCode;
const END_OF_FILE_EXPECTED = 9 as ParseErrorCode;

export interface SplitElement {
  offset: number;
  length: number;
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0xfeff;

/**
 * The elements of the array that `text` holds, or undefined when it does not start with `[`.
 * Problems of the array's punctuation go into `errors`.
 */
export function splitTopLevelArray(text: string, errors: ParseError[]): SplitElement[] | undefined {
  let i = 0;
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== 0x5b) return undefined;
  i++;
  const elements: SplitElement[] = [];
  let start = -1;
  let depth = 0;
  let inString = false;
  let expectValue = true;
  let closed = false;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (depth === 0) {
      if (isSpace(c)) {
        if (start >= 0) {
          // A scalar element ends at whitespace; the comma or bracket after it is checked below.
          elements.push({ offset: start, length: i - start });
          start = -1;
        }
        continue;
      }
      if (c === 0x2c || c === 0x5d) {
        if (start >= 0) {
          elements.push({ offset: start, length: i - start });
          start = -1;
        } else if (expectValue && (c === 0x2c || elements.length > 0)) {
          errors.push({ error: VALUE_EXPECTED, offset: i, length: 1 });
        }
        expectValue = true;
        if (c === 0x5d) {
          closed = true;
          i++;
          break;
        }
        continue;
      }
      if (start < 0) {
        if (!expectValue) errors.push({ error: COMMA_EXPECTED, offset: i, length: 1 });
        start = i;
        expectValue = false;
      }
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      depth--;
      if (depth === 0) {
        elements.push({ offset: start, length: i + 1 - start });
        start = -1;
      }
    }
  }
  if (start >= 0) elements.push({ offset: start, length: text.length - start });
  if (!closed) errors.push({ error: CLOSE_BRACKET_EXPECTED, offset: text.length, length: 0 });
  else {
    while (i < text.length && isSpace(text.charCodeAt(i))) i++;
    if (i < text.length) errors.push({ error: END_OF_FILE_EXPECTED, offset: i, length: text.length - i });
  }
  return elements;
}

/**
 * The values of the first `limit` elements of an array's text, found by the flat scan: an element that
 * does not parse, or nests deeper than a record may, is left out. `complete: false` drops the last
 * element (the text may be cut inside it).
 */
export function leadingElementValues(text: string, limit: number, complete: boolean): unknown[] {
  const elements = splitTopLevelArray(text, []) ?? [];
  const usable = complete ? elements : elements.slice(0, -1);
  const values: unknown[] = [];
  for (const e of usable.slice(0, limit)) {
    const slice = text.slice(e.offset, e.offset + e.length);
    if (deepOffset(slice, MAX_RECORD_DEPTH) >= 0) continue;
    try {
      values.push(JSON.parse(slice));
    } catch {
      // A broken element says nothing about the file's format.
    }
  }
  return values;
}

/**
 * True when JSON text may nest deeper than a recursive tree parser can safely walk. Brackets are counted
 * inside strings too: an overestimate only sends the text down the flat path, which handles any text.
 */
export function tooDeepForTree(text: string): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_RECORD_DEPTH + 1) return true;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return false;
}
