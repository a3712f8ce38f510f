// jsonl/invalid-json and jsonl/blank-line: parsing one line, and finding where a broken line breaks.
// A line written by Python's str() or print() instead of json.dumps() is named as such, with the JSON
// it should have been when the conversion is certain (the quick fix writes it).
import { parse as parseLenient, printParseErrorCode } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';
import type { LineFindings } from './context';
import { formatCap, READ_CAPS } from '../io';
import { LINE_TOO_LONG_MARKER } from './lineCap';
import { mightBePythonLiteral, pythonLiteralToJson } from './pythonLiteral';

export type ParsedLine = { kind: 'blank' } | { kind: 'invalid' } | { kind: 'value'; value: unknown };

/** True when a line holds nothing but JSON whitespace (a blank record line). */
export function isBlankLine(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) return false;
  }
  return true;
}

/**
 * Parses one JSONL line, reporting blank and invalid lines into `out`. `depthOf`, when given, measures
 * how deep a parsed value nests (its deepest array or object, the root's being 1; -1 when it cannot
 * tell): the record analyser's exact-duplicate hash does, in its pass over the line, and the value then
 * needs no walk of its own.
 */
export function parseJsonLine(text: string, out: LineFindings, depthOf?: (value: unknown) => number): ParsedLine {
  if (isBlankLine(text)) {
    out.add(
      'jsonl/blank-line',
      0,
      text.length,
      'Blank line in a JSONL file: every line must hold one record. Delete it.',
    );
    return { kind: 'blank' };
  }
  try {
    const value: unknown = JSON.parse(text);
    const depth = depthOf ? depthOf(value) : -1;
    if (depth >= 0 ? depth > MAX_RECORD_DEPTH : depthExceeds(value, MAX_RECORD_DEPTH)) {
      reportTooDeep(text, out);
      return { kind: 'invalid' };
    }
    return { kind: 'value', value };
  } catch {
    if (text.startsWith(LINE_TOO_LONG_MARKER)) {
      const [bytes, cap] = text.slice(LINE_TOO_LONG_MARKER.length).split(':').map(Number);
      out.add(
        'jsonl/line-too-long',
        0,
        0,
        `This line is ${bytes} bytes long, over the ${formatCap(cap ?? READ_CAPS.line)} a line may hold; it is not read or checked (the lines after it are). Split the record or drop it.`,
      );
      return { kind: 'invalid' };
    }
    // A deeply nested broken line would overflow the stack of the error locators below.
    if (deepOffset(text, MAX_RECORD_DEPTH) >= 0) {
      reportTooDeep(text, out);
      return { kind: 'invalid' };
    }
    if (out.isOn('jsonl/invalid-json') && mightBePythonLiteral(text) && reportPythonLiteralSafely(text, out)) {
      return { kind: 'invalid' };
    }
    const { offset, length, reason } = jsonErrorLocation(text);
    out.add(
      'jsonl/invalid-json',
      offset,
      Math.min(text.length, offset + Math.max(1, length)),
      `Invalid JSON: ${reason}. Each line must be one complete JSON object.`,
    );
    return { kind: 'invalid' };
  }
}

/** reportPythonLiteral, where a converter that cannot walk the line (too deep) means "not a Python repr". */
function reportPythonLiteralSafely(text: string, out: LineFindings): boolean {
  try {
    return reportPythonLiteral(text, out);
  } catch {
    return false;
  }
}

/**
 * Reports a line of Python literal syntax (true when it did). When the conversion is certain, the
 * finding's data holds the JSON (`data.replacement`) for the quick fix; when Python syntax was seen but
 * something has no single JSON meaning (bytes, a set, nan...), the message says what.
 */
function reportPythonLiteral(text: string, out: LineFindings): boolean {
  const conversion = pythonLiteralToJson(text);
  if (conversion.causes.length === 0 || (!conversion.ok && !conversion.causes.includes('single quotes'))) return false;
  const what = `a Python ${conversion.container ?? 'dict'} repr (${conversion.causes.join(', ')})`;
  if (conversion.ok) {
    out.add(
      'jsonl/invalid-json',
      0,
      text.length,
      `This line is ${what}, not JSON: write records with json.dumps(record), not str(record) or print(record). In the editor, the quick fix converts this line.`,
      { python: true, replacement: conversion.json },
    );
  } else {
    out.add(
      'jsonl/invalid-json',
      conversion.offset,
      text.length,
      `This line looks like ${what}, not JSON, but cannot be converted with certainty (column ${conversion.offset + 1}: ${conversion.reason}): write records with json.dumps(record), not str(record) or print(record).`,
      { python: true },
    );
  }
  return true;
}

/**
 * Where strict JSON parsing of `text` fails. JSON.parse does not say where on every Node version,
 * so the (rare) failing line is re-read by jsonc-parser with comments and trailing commas disallowed.
 */
export function jsonErrorLocation(text: string): { offset: number; length: number; reason: string } {
  const errors: ParseError[] = [];
  try {
    parseLenient(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  } catch {
    // jsonc-parser recurses per level; a line it cannot walk is blamed whole rather than crash the check.
    return { offset: 0, length: text.length, reason: 'the line nests too deep to locate the error' };
  }
  const first = errors[0];
  if (first) {
    return { offset: first.offset, length: first.length, reason: describeParseError(printParseErrorCode(first.error)) };
  }
  // jsonc-parser accepts a few things JSON.parse rejects (e.g. lone surrogates are fine, but control
  // characters inside strings are not): find the first raw control character, else blame the line.
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) < 0x20 && text.charCodeAt(i) !== 0x09) {
      return { offset: i, length: 1, reason: 'a control character must be escaped inside a string' };
    }
  }
  return { offset: 0, length: text.length, reason: 'the line cannot be parsed' };
}

function describeParseError(code: string): string {
  switch (code) {
    case 'InvalidSymbol':
      return 'unexpected character';
    case 'InvalidNumberFormat':
      return 'malformed number';
    case 'PropertyNameExpected':
      return 'a property name in double quotes is expected';
    case 'ValueExpected':
      return 'a value is expected';
    case 'ColonExpected':
      return "':' is expected after a property name";
    case 'CommaExpected':
      return "',' is expected between items";
    case 'CloseBraceExpected':
      return "'}' is expected (the object is not closed)";
    case 'CloseBracketExpected':
      return "']' is expected (the array is not closed)";
    case 'EndOfFileExpected':
      return 'text after the end of the record';
    case 'InvalidCommentToken':
      return 'comments are not allowed in JSON';
    case 'UnexpectedEndOfComment':
      return 'unterminated comment';
    case 'UnexpectedEndOfString':
      return 'unterminated string';
    case 'UnexpectedEndOfNumber':
      return 'unterminated number';
    case 'InvalidUnicode':
      return 'invalid \\u escape';
    case 'InvalidEscapeCharacter':
      return 'invalid escape sequence';
    case 'InvalidCharacter':
      return 'a control character must be escaped inside a string';
    default:
      return code;
  }
}

/**
 * Records nested deeper than this are refused (jsonl/too-deep) before any rule walks them: the rules,
 * the hashes and Python's json module all recurse. Real records are a handful of levels deep.
 */
export const MAX_RECORD_DEPTH = 64;

/**
 * True when `value` nests arrays and objects deeper than `max`. The recursion stops one level past
 * `max`, so it cannot overflow, and it allocates nothing (this runs on every record).
 */
export function depthExceeds(value: unknown, max: number): boolean {
  return deeperThan(value, 1, max);
}

function deeperThan(v: unknown, depth: number, max: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (depth > max) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (deeperThan(v[i], depth + 1, max)) return true;
    return false;
  }
  const obj = v as Record<string, unknown>;
  for (const key in obj) if (deeperThan(obj[key], depth + 1, max)) return true;
  return false;
}

/** Offset of the first bracket past depth `max` in JSON text (strings skipped), or -1. */
export function deepOffset(text: string, max: number): number {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      // A raw line break ends a string for jsonc-parser's scanner too, which then reads on as structure.
      else if (c === 0x22 || c === 0x0a || c === 0x0d) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

function reportTooDeep(text: string, out: LineFindings): void {
  const at = Math.max(0, deepOffset(text, MAX_RECORD_DEPTH));
  out.add(
    'jsonl/too-deep',
    at,
    Math.min(text.length, at + 1),
    `This record nests arrays and objects more than ${MAX_RECORD_DEPTH} levels deep; it is not checked further and the trainer cannot load it. Flatten it.`,
  );
}
