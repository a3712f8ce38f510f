// `.json` arrays of any size, read in chunks: a byte scanner finds each top-level element (its bytes,
// and where it starts and ends in the file's lines and UTF-16 columns) and hands it to the same
// per-record and cross-record checks as the in-memory path (JsonArrayChecker), so memory is bounded
// by the largest element, not the file. An element over `maxElementBytes` is not held: it becomes a
// jsonl/line-too-long finding and the scan goes on. Only the array's own punctuation is checked by the
// scanner (like the flat split in jsonArraySplit.ts); each element is then parsed on its own.
import type { Finding, Position } from '../types';
import { LINE_TOO_LONG_MARKER } from './lineCap';
import { JsonArrayChecker } from './jsonArrayRecords';
import type { JsonArrayCheckerOptions } from './jsonArrayRecords';
import type { LineMediaRef } from './mediaFiles';
import type { DatasetStats } from './stats';
import type { DatasetChunkSink } from './stream';

/** What the scanner found: an element, or a problem of the array's punctuation. */
export interface ScannedElement {
  /** The element's bytes; undefined when it was longer than the cap (then `byteLength` says how long). */
  bytes: Uint8Array | undefined;
  byteLength: number;
  start: Position;
  end: Position;
}

export type ArrayProblem =
  'not-an-array' | 'value-expected' | 'comma-expected' | 'close-bracket-expected' | 'end-of-file-expected';

const LF = 0x0a;
const CR = 0x0d;

const BOM = [0xef, 0xbb, 0xbf];

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === LF || c === CR;

/** UTF-16 units a byte adds to a column: 1 for ASCII and a lead byte, 2 for a 4-byte lead, 0 for a continuation byte. */
const UNITS = new Uint8Array(256);
for (let b = 0; b < 256; b++) UNITS[b] = b < 0x80 ? 1 : b < 0xc0 ? 0 : b < 0xf0 ? 1 : 2;

enum State {
  /** Before the opening bracket (a BOM and whitespace allowed). */
  Start,
  /** Inside the array, between elements. */
  Between,
  /** Inside an element. */
  Element,
  /** After the closing bracket. */
  After,
  /** The file is not an array: nothing more is read. */
  Done,
}

/**
 * Splits a `.json` array's bytes, pushed in chunks of any size, into its top-level elements.
 * Positions use the editor's line breaks (LF, CRLF, lone CR) and UTF-16 columns.
 */
export class JsonArrayScanner {
  private state = State.Start;
  private line = 0;
  private column = 0;
  private afterCr = false;
  /** Bytes of a leading byte order mark seen so far (3 once past the file's start). */
  private bomBytes = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private expectValue = true;
  private elements = 0;
  private reportedTrailing = false;
  // The element being read.
  private pieces: Uint8Array[] = [];
  private pieceBytes = 0;
  private elementBytes = 0;
  private elementStart: Position = { line: 0, character: 0 };
  /** Bytes of the current chunk from which the element runs (-1: it started in an earlier chunk or none is open). */
  private chunkFrom = -1;

  constructor(
    private readonly maxElementBytes: number,
    private readonly onElement: (e: ScannedElement) => void,
    private readonly onProblem: (problem: ArrayProblem, at: Position) => void,
  ) {}

  push(chunk: Uint8Array): void {
    let i = 0;
    // A byte order mark, which may come split over chunks, is not part of the text.
    for (; this.bomBytes < 3 && i < chunk.length && chunk[i] === BOM[this.bomBytes]; i++) this.bomBytes++;
    if (i < chunk.length) this.bomBytes = 3;
    for (; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (this.state === State.Element) {
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (c === 0x5c) this.escaped = true;
          else if (c === 0x22) this.inString = false;
        } else if (this.depth === 0) {
          // A scalar element: it ends at whitespace, a comma or the closing bracket.
          if (isSpace(c) || c === 0x2c || c === 0x5d) {
            this.closeElement(chunk, i);
            this.between(c, i);
            this.advance(c);
            continue;
          }
          if (c === 0x22) this.inString = true;
        } else if (c === 0x22) this.inString = true;
        else if (c === 0x5b || c === 0x7b) this.depth++;
        else if (c === 0x5d || c === 0x7d) {
          if (--this.depth === 0) {
            this.advance(c);
            this.closeElement(chunk, i + 1);
            continue;
          }
        }
      } else if (this.state === State.Between) this.between(c, i);
      else if (this.state === State.Start) {
        if (!isSpace(c)) {
          if (c === 0x5b) this.state = State.Between;
          else {
            this.onProblem('not-an-array', this.here());
            this.state = State.Done;
            return;
          }
        }
      } else if (this.state === State.After) {
        if (!isSpace(c) && !this.reportedTrailing) {
          this.reportedTrailing = true;
          this.onProblem('end-of-file-expected', this.here());
        }
      } else return;
      this.advance(c);
    }
    this.keepPiece(chunk);
  }

  end(): void {
    if (this.state === State.Element) this.closeElement(new Uint8Array(0), 0);
    if (this.state === State.Start) this.onProblem('not-an-array', this.here());
    else if (this.state === State.Between || this.state === State.Element)
      this.onProblem('close-bracket-expected', this.here());
  }

  private here(): Position {
    return { line: this.line, character: this.column };
  }

  /** Moves the position past byte `c`. */
  private advance(c: number): void {
    if (c === LF) {
      if (!this.afterCr) {
        this.line++;
        this.column = 0;
      }
      this.afterCr = false;
    } else if (c === CR) {
      this.line++;
      this.column = 0;
      this.afterCr = true;
    } else {
      this.column += UNITS[c] as number;
      this.afterCr = false;
    }
  }

  /** Byte `c` at depth 0 between elements. */
  private between(c: number, i: number): void {
    if (isSpace(c)) return;
    if (c === 0x2c || c === 0x5d) {
      if (this.expectValue && (c === 0x2c || this.elements > 0)) this.onProblem('value-expected', this.here());
      this.expectValue = true;
      if (c === 0x5d) this.state = State.After;
      return;
    }
    if (!this.expectValue) this.onProblem('comma-expected', this.here());
    this.expectValue = false;
    this.state = State.Element;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.pieces = [];
    this.pieceBytes = 0;
    this.elementBytes = 0;
    this.elementStart = this.here();
    this.chunkFrom = i;
    if (c === 0x22) this.inString = true;
    else if (c === 0x5b || c === 0x7b) this.depth = 1;
  }

  /** The open element ends before byte `end` of `chunk`. */
  private closeElement(chunk: Uint8Array, end: number): void {
    const from = Math.max(0, this.chunkFrom);
    const tail = end - from;
    const byteLength = this.elementBytes + tail;
    let bytes: Uint8Array | undefined;
    if (byteLength <= this.maxElementBytes) {
      if (this.pieces.length === 0) bytes = chunk.subarray(from, end);
      else {
        bytes = new Uint8Array(byteLength);
        let at = 0;
        for (const p of this.pieces) {
          bytes.set(p, at);
          at += p.length;
        }
        bytes.set(chunk.subarray(from, end), at);
      }
    }
    this.pieces = [];
    this.pieceBytes = 0;
    this.elementBytes = 0;
    this.chunkFrom = -1;
    this.state = State.Between;
    this.elements++;
    this.onElement({ bytes, byteLength, start: this.elementStart, end: this.here() });
  }

  /** At the end of a chunk: keeps the open element's part of it (copied), unless it is over the cap. */
  private keepPiece(chunk: Uint8Array): void {
    if (this.state !== State.Element) return;
    const from = Math.max(0, this.chunkFrom);
    const n = chunk.length - from;
    this.elementBytes += n;
    if (this.elementBytes <= this.maxElementBytes) {
      this.pieces.push(chunk.slice(from));
      this.pieceBytes += n;
    } else if (this.pieces.length > 0) {
      this.pieces = [];
      this.pieceBytes = 0;
    }
    this.chunkFrom = -1;
  }
}

const PROBLEM_MESSAGES: Readonly<Record<ArrayProblem, string>> = {
  'not-an-array':
    'A .json dataset must be an array of records: wrap the records in [ ... ], or use JSON Lines (.jsonl).',
  'value-expected': 'Invalid JSON (ValueExpected): a .json dataset must be one array of records.',
  'comma-expected': 'Invalid JSON (CommaExpected): a .json dataset must be one array of records.',
  'close-bracket-expected': 'Invalid JSON (CloseBracketExpected): a .json dataset must be one array of records.',
  'end-of-file-expected': 'Invalid JSON (EndOfFileExpected): a .json dataset must be one array of records.',
};

export interface JsonArrayStreamOptions extends JsonArrayCheckerOptions {
  /** Called in order with the files each record names (media/missing-file), for the host to check. */
  onMediaRefs?: (refs: LineMediaRef[]) => void;
}

/**
 * A `.json` array dataset validated as its bytes stream by (the CLI's path for files over the
 * in-memory cap). Findings go to `onFinding` element by element; format/mixed comes at end().
 */
export class JsonArrayStream implements DatasetChunkSink {
  private readonly scanner: JsonArrayScanner;
  private readonly checker: JsonArrayChecker;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private ended = false;

  constructor(
    private readonly opts: JsonArrayStreamOptions,
    maxElementBytes: number,
    onFinding: (f: Finding) => void,
  ) {
    this.checker = new JsonArrayChecker(opts, onFinding);
    const invalid = opts.severityOf('jsonl/invalid-json');
    this.scanner = new JsonArrayScanner(
      maxElementBytes,
      (e) => this.element(e, maxElementBytes),
      (problem, at) => {
        if (!invalid) return;
        const end = { line: at.line, character: at.character + 1 };
        this.checker.report({
          rule: 'jsonl/invalid-json',
          severity: invalid,
          range: { start: at, end },
          message: PROBLEM_MESSAGES[problem],
        });
      },
    );
  }

  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error('JsonArrayStream: push after end');
    this.scanner.push(chunk);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.scanner.end();
    this.checker.finish();
  }

  stats(): DatasetStats {
    return this.checker.stats();
  }

  /** Bytes held by the cross-record indices (for memory reports). */
  indexBytes(): number {
    return this.checker.indexBytes();
  }

  private element(e: ScannedElement, cap: number): void {
    const start = e.start;
    if (!e.bytes) {
      // The record is not read: the finding sits at its first character.
      this.checker.add(`${LINE_TOO_LONG_MARKER}${e.byteLength}:${cap}`, () => start, true);
      return;
    }
    const text = this.decoder.decode(e.bytes);
    // Offsets within the element to file positions: its own line breaks, from where it starts.
    const breaks: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === LF) breaks.push(i + 1);
      else if (c === CR) {
        if (text.charCodeAt(i + 1) === LF) i++;
        breaks.push(i + 1);
      }
    }
    const at =
      breaks.length === 0
        ? (offset: number): Position => ({ line: start.line, character: start.character + offset })
        : (offset: number): Position => {
            let lo = 0;
            let hi = breaks.length;
            while (lo < hi) {
              const mid = (lo + hi) >> 1;
              if ((breaks[mid] as number) <= offset) lo = mid + 1;
              else hi = mid;
            }
            if (lo === 0) return { line: start.line, character: start.character + offset };
            return { line: start.line + lo, character: offset - (breaks[lo - 1] as number) };
          };
    const media = this.checker.add(text, at, true).media;
    if (media && this.opts.onMediaRefs) this.opts.onMediaRefs(media);
  }
}
