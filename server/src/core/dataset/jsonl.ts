// jsonl/invalid-json and jsonl/blank-line: parsing one line, and finding where a broken line breaks.
// A line written by Python's str() or print() instead of json.dumps() is named as such, with the JSON
// it should have been when the conversion is certain (the quick fix writes it).
import { parse as parseLenient, printParseErrorCode } from 'jsonc-parser';
import type { ParseError } from 'jsonc-parser';
import type { LineFindings } from './context';
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

/** Parses one JSONL line, reporting blank and invalid lines into `out`. */
export function parseJsonLine(text: string, out: LineFindings): ParsedLine {
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
    return { kind: 'value', value: JSON.parse(text) };
  } catch {
    if (out.isOn('jsonl/invalid-json') && mightBePythonLiteral(text) && reportPythonLiteral(text, out)) {
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
  parseLenient(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
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
