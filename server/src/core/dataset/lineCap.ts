// Bounds on what one line of a streamed dataset may cost (SECURITY.md, "Hostile workspace"):
//   - a line longer than the cap (64 MiB by default) is never decoded or parsed, and never held beyond the
//     cap: once it passes the cap its bytes are skipped as they stream by and the line is replaced by a short marker that the record parser reports
//     as jsonl/line-too-long, so line numbers after it stay true and memory stays bounded;
//   - a file that starts with a UTF-16 byte order mark is reported as encoding/utf16 and not read further.
// It sits in front of any DatasetChunkSink (the single-threaded stream and the worker pool alike) and
// passes bytes through in chunks, never re-copying a growing line.
import type { Finding, Severity } from '../types';
import type { DatasetStats } from './stats';
import type { DatasetChunkSink } from './stream';

/** The marker a skipped line becomes: a NUL byte cannot start a JSON line, so it is never a record. */
export const LINE_TOO_LONG_MARKER = '\u0000modelfactory:line-too-long:';

const LF = 0x0a;
const CR = 0x0d;

export class LineCapSink implements DatasetChunkSink {
  /** The unfinished line's pieces (copied once, when it ends). */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** While a line over the cap streams by: its length so far. */
  private skipped = -1;
  private first = true;
  private utf16 = false;

  constructor(
    private readonly inner: DatasetChunkSink,
    private readonly maxLineBytes: number,
    private readonly onUtf16: () => void,
  ) {}

  async push(chunk: Uint8Array): Promise<void> {
    if (this.utf16 || chunk.length === 0) return;
    if (this.first) {
      this.first = false;
      if (hasUtf16Bom(chunk)) {
        this.utf16 = true;
        this.onUtf16();
        return;
      }
    }
    const cap = this.maxLineBytes;
    // [from, i): whole lines of this chunk not yet passed on.
    let from = 0;
    let lineStart = 0;
    // Line ends found by the engine's indexOf (a native scan, several times faster than a loop here).
    let nextLf = chunk.indexOf(LF);
    let nextCr = chunk.indexOf(CR);
    while (nextLf >= 0 || nextCr >= 0) {
      let i: number;
      if (nextCr < 0 || (nextLf >= 0 && nextLf < nextCr)) {
        i = nextLf;
        nextLf = chunk.indexOf(LF, i + 1);
      } else {
        i = nextCr;
        nextCr = chunk.indexOf(CR, i + 1);
      }
      if (this.skipped >= 0) {
        this.skipped += i;
        await this.inner.push(marker(this.skipped, cap));
        this.skipped = -1;
        from = i;
      } else if (this.pendingBytes + (i - lineStart) > cap) {
        if (lineStart > from) await this.inner.push(chunk.subarray(from, lineStart));
        await this.inner.push(marker(this.pendingBytes + (i - lineStart), cap));
        this.pending = [];
        this.pendingBytes = 0;
        from = i;
      } else if (this.pendingBytes > 0) {
        // The line that began in an earlier chunk ends here: join it once and pass it on.
        const joined = new Uint8Array(this.pendingBytes + (i - from));
        let at = 0;
        for (const piece of this.pending) {
          joined.set(piece, at);
          at += piece.length;
        }
        joined.set(chunk.subarray(from, i), at);
        await this.inner.push(joined);
        this.pending = [];
        this.pendingBytes = 0;
        from = i;
      }
      lineStart = i + 1;
    }
    if (this.skipped >= 0) {
      this.skipped += chunk.length;
      return;
    }
    const tail = chunk.length - lineStart;
    if (this.pendingBytes + tail > cap) {
      if (lineStart > from) await this.inner.push(chunk.subarray(from, lineStart));
      this.skipped = this.pendingBytes + tail;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    if (lineStart > from) await this.inner.push(chunk.subarray(from, lineStart));
    if (tail > 0) {
      this.pending.push(chunk.subarray(lineStart));
      this.pendingBytes += tail;
    }
  }

  async end(): Promise<void> {
    if (this.skipped >= 0) await this.inner.push(marker(this.skipped, this.maxLineBytes));
    else if (this.pendingBytes > 0) {
      const joined = new Uint8Array(this.pendingBytes);
      let at = 0;
      for (const piece of this.pending) {
        joined.set(piece, at);
        at += piece.length;
      }
      await this.inner.push(joined);
    }
    this.pending = [];
    this.pendingBytes = 0;
    this.skipped = -1;
    await this.inner.end();
  }

  stats(): DatasetStats {
    return this.inner.stats();
  }
}

function marker(bytes: number, cap: number): Uint8Array {
  return new TextEncoder().encode(`${LINE_TOO_LONG_MARKER}${bytes}:${cap}`);
}

/** True when bytes start with a UTF-16 byte order mark (either byte order). */
export function hasUtf16Bom(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
}

export function utf16Finding(severity: Severity): Finding {
  return {
    rule: 'encoding/utf16',
    severity,
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    message:
      'This file is UTF-16 (it starts with a UTF-16 byte order mark); datasets must be UTF-8, so it is not checked further. Re-save it as UTF-8 (iconv -f UTF-16 -t UTF-8).',
  };
}
