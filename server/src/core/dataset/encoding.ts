// encoding/bom, encoding/invalid-utf8, encoding/mixed-eol over raw bytes. Columns are UTF-16 code
// units of the text as VS Code decodes it (one U+FFFD per maximal invalid subsequence).
//
// Line policy (the editor's): LF, CRLF and a lone CR each end a line. U+2028 and U+2029 do not: JSON
// allows them raw inside strings, and they stay part of the line.
import { hasUtf16Bom, utf16Finding } from './lineCap';
import type { Finding, Severity } from '../types';
import { effectiveSeverity } from '../rules';
import { makeFinding } from './context';

/**
 * Length of the valid UTF-8 sequence starting at `i`, or minus the length of the maximal invalid
 * subpart there (what a decoder replaces by one U+FFFD).
 */
export function utf8SequenceAt(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i] ?? 0;
  if (b0 < 0x80) return 1;
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    if (b0 === 0xe0) lo = 0xa0;
    if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f;
  } else return -1;
  for (let k = 1; k <= need; k++) {
    if (i + k >= end) return -k;
    const b = bytes[i + k] ?? 0;
    if (b < lo || b > hi) return -k;
    lo = 0x80;
    hi = 0xbf;
  }
  return need + 1;
}

export type EolKind = 'LF' | 'CRLF' | 'CR';

const EOL_NAMES: Readonly<Record<EolKind, string>> = { LF: 'LF (\\n)', CRLF: 'CRLF (\\r\\n)', CR: 'CR (\\r)' };

/** Tracks line endings and reports the first that differs from the file's first one. */
export class EolTracker {
  first: EolKind | undefined;
  reported = false;
  readonly counts: Record<EolKind, number> = { LF: 0, CRLF: 0, CR: 0 };

  /** Records the ending of `line` (at `column`); returns the finding for the first mismatch. */
  see(kind: EolKind, line: number, column: number, severity: Severity | undefined): Finding | undefined {
    this.counts[kind]++;
    if (this.first === undefined) {
      this.first = kind;
      return undefined;
    }
    if (kind === this.first || this.reported || !severity) return undefined;
    this.reported = true;
    return makeFinding(
      'encoding/mixed-eol',
      severity,
      line,
      column,
      column,
      `This line ends with ${EOL_NAMES[kind]} but the file started with ${EOL_NAMES[this.first]}: convert the file to one line ending (for example with "Change End of Line Sequence").`,
      { eol: kind, expected: this.first },
    );
  }
}

export function bomFinding(severity: Severity): Finding {
  return makeFinding(
    'encoding/bom',
    severity,
    0,
    0,
    0,
    'The file starts with a UTF-8 byte order mark, which many loaders reject: save it as UTF-8 without BOM.',
  );
}

export function invalidUtf8Finding(
  severity: Severity,
  line: number,
  column: number,
  byteOffset: number,
  byte: number,
): Finding {
  return makeFinding(
    'encoding/invalid-utf8',
    severity,
    line,
    column,
    column + 1,
    `Byte 0x${byte.toString(16).padStart(2, '0').toUpperCase()} at offset ${byteOffset} is not valid UTF-8: re-save the file as UTF-8 (it may be Latin-1 or Windows-1252).`,
    { byteOffset },
  );
}

/** Invalid UTF-8 findings are capped per file: a binary or Latin-1 file would otherwise report thousands. */
export const MAX_INVALID_UTF8_FINDINGS = 100;

/**
 * Encoding findings for a whole file's bytes (the editor gets text already decoded by VS Code, so
 * the shell passes the bytes from disk). `severityOf` defaults to each rule's default severity.
 */
export function checkEncoding(
  bytes: Uint8Array,
  severityOf: (rule: string) => Severity | undefined = (rule) => effectiveSeverity(rule),
): Finding[] {
  const findings: Finding[] = [];
  if (hasUtf16Bom(bytes)) {
    const severity = severityOf('encoding/utf16');
    return severity ? [utf16Finding(severity)] : [];
  }
  const bomSeverity = severityOf('encoding/bom');
  const utf8Severity = severityOf('encoding/invalid-utf8');
  const eolSeverity = severityOf('encoding/mixed-eol');
  let i = 0;
  const n = bytes.length;
  if (n >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    if (bomSeverity) findings.push(bomFinding(bomSeverity));
    i = 3;
  }
  const eol = new EolTracker();
  let line = 0;
  let column = 0;
  let invalidCount = 0;
  while (i < n) {
    const b = bytes[i] ?? 0;
    if (b === 0x0a || b === 0x0d) {
      const kind: EolKind = b === 0x0a ? 'LF' : bytes[i + 1] === 0x0a ? 'CRLF' : 'CR';
      const f = eol.see(kind, line, column, eolSeverity);
      if (f) findings.push(f);
      i += kind === 'CRLF' ? 2 : 1;
      line++;
      column = 0;
      continue;
    }
    if (b < 0x80) {
      i++;
      column++;
      continue;
    }
    const len = utf8SequenceAt(bytes, i, n);
    if (len > 0) {
      column += len === 4 ? 2 : 1;
      i += len;
    } else {
      if (utf8Severity && invalidCount < MAX_INVALID_UTF8_FINDINGS) {
        findings.push(invalidUtf8Finding(utf8Severity, line, column, i, b));
      }
      invalidCount++;
      column++;
      i += -len;
    }
  }
  return findings;
}
