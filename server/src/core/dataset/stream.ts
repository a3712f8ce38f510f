// DatasetStream: the CLI's validator for JSONL files of any size, read from disk in chunks. It
// decodes UTF-8 itself (so invalid bytes are reported where they are), splits lines by the editor's
// policy (LF, CRLF, lone CR; see encoding.ts), runs the same per-record rules as the editor, and keeps
// cross-record state in typed arrays: 53-bit value hashes for exact duplicates and a capped MinHash
// LSH index for near duplicates. Findings are passed to the callback as they are produced; the
// format/mixed findings, which need the whole file's majority, come at end().
import type { Finding } from '../types';
import type { DatasetValidatorOptions } from './context';
import { makeFinding } from './context';
import { ExactDuplicateTable } from './dedupExact';
import { NearDuplicateIndex } from './dedupNear';
import { EolTracker, MAX_INVALID_UTF8_FINDINGS, bomFinding, invalidUtf8Finding, utf8SequenceAt } from './encoding';
import type { EolKind } from './encoding';
import { RECORD_FORMATS } from './formats';
import { RecordAnalyzer } from './record';
import { emptyFormatCounts, majorityFormat, tokenPercentiles } from './stats';
import type { DatasetStats } from './stats';
import { dedupFinding, mixedFormatMessage } from './validator';

export interface DatasetStreamOptions extends DatasetValidatorOptions {
  /**
   * Records admitted to the near-duplicate index (default 1,000,000: about 128 MB of signatures plus
   * the band tables). Later records are still compared with the admitted ones, but not added.
   */
  nearIndexCapacity?: number;
}

const NO_FORMAT = 255;

class GrowableU32 {
  data = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint32Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

class GrowableU8 {
  data = new Uint8Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Uint8Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

export class DatasetStream {
  private readonly analyzer: RecordAnalyzer;
  private readonly exact = new ExactDuplicateTable();
  private readonly near: NearDuplicateIndex;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private readonly lenientDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  private readonly eol = new EolTracker();
  private carry: Uint8Array = new Uint8Array(0);
  private line = 0;
  private byteOffset = 0;
  private invalidUtf8 = 0;
  private ended = false;
  /** An error-severity encoding finding on the line being decoded, for the acceptance count. */
  private pendingError = false;
  private readonly exactSeverity;
  private readonly nearSeverity;
  private readonly eolSeverity;
  private readonly utf8Severity;

  // Per line, for statistics and the end-of-file format/mixed pass.
  private readonly lineFormat = new GrowableU8();
  private readonly lineLength = new GrowableU32();
  private readonly lineHasError = new GrowableU8();
  private readonly tokens = new GrowableU32();
  private allTokensExact = true;
  private readonly counts = {
    blank: 0,
    invalid: 0,
    unknownFormat: 0,
    exactDuplicates: 0,
    nearDuplicates: 0,
    records: 0,
  };
  private readonly formatCounts = emptyFormatCounts();
  private readonly findingsByRule: Record<string, number> = {};

  constructor(
    private readonly opts: DatasetStreamOptions,
    private readonly onFinding: (finding: Finding) => void,
  ) {
    this.analyzer = new RecordAnalyzer(opts);
    this.near = new NearDuplicateIndex(opts.nearIndexCapacity ?? 1_000_000);
    this.exactSeverity = opts.severityOf('dedup/exact');
    this.nearSeverity = opts.severityOf('dedup/near');
    this.eolSeverity = opts.severityOf('encoding/mixed-eol');
    this.utf8Severity = opts.severityOf('encoding/invalid-utf8');
  }

  /** Feeds the next chunk of the file. */
  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error('DatasetStream: push after end');
    let buf: Uint8Array;
    if (this.carry.length === 0) buf = chunk;
    else {
      buf = new Uint8Array(this.carry.length + chunk.length);
      buf.set(this.carry);
      buf.set(chunk, this.carry.length);
    }
    // A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
    let limit = buf.length;
    if (limit > 0 && buf[limit - 1] === 0x0d) limit--;
    const lastLf = limit > 0 ? buf.lastIndexOf(0x0a, limit - 1) : -1;
    const lastCr = limit > 0 ? buf.lastIndexOf(0x0d, limit - 1) : -1;
    const cut = Math.max(lastLf, lastCr) + 1;
    if (cut > 0) this.processBlock(buf.subarray(0, cut));
    this.carry = buf.slice(cut);
  }

  /** Flushes the last line and reports what needs the whole file. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.carry.length > 0) this.processBlock(this.carry);
    this.carry = new Uint8Array(0);
    this.finishFormats();
  }

  stats(): DatasetStats {
    const majority = majorityFormat(this.formatCounts);
    let accepted = 0;
    for (let i = 0; i < this.lineHasError.length; i++) if (this.lineHasError.data[i] === 0) accepted++;
    const records = this.counts.records;
    const stats: DatasetStats = {
      lines: this.line,
      records,
      blank: this.counts.blank,
      invalid: this.counts.invalid,
      formats: { ...this.formatCounts },
      unknownFormat: this.counts.unknownFormat,
      exactDuplicates: this.counts.exactDuplicates,
      nearDuplicates: this.counts.nearDuplicates,
      tokens: tokenPercentiles(this.tokens.view().slice(), this.allTokensExact),
      findingsByRule: { ...this.findingsByRule },
      acceptance: records === 0 ? 1 : accepted / records,
    };
    if (majority) stats.majorityFormat = majority;
    return stats;
  }

  /** Bytes held by the cross-record indices (for memory reports). */
  indexBytes(): number {
    return this.exact.bytes + this.near.bytes;
  }

  private emit(f: Finding): void {
    this.findingsByRule[f.rule] = (this.findingsByRule[f.rule] ?? 0) + 1;
    this.onFinding(f);
  }

  /** `block` holds whole lines (the last one unterminated only at the end of the file). */
  private processBlock(block: Uint8Array): void {
    let text: string | undefined;
    try {
      text = this.decoder.decode(block);
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      this.splitDecoded(text);
      this.byteOffset += block.length;
      return;
    }
    // Invalid UTF-8 somewhere: go line by line so each bad byte is reported at its line and column.
    let start = 0;
    while (start < block.length) {
      let end = start;
      while (end < block.length && block[end] !== 0x0a && block[end] !== 0x0d) end++;
      const lineBytes = block.subarray(start, end);
      const lineText = this.decodeLineReporting(lineBytes, this.byteOffset + start);
      let next = end;
      let kind: EolKind | undefined;
      if (end < block.length) {
        kind = block[end] === 0x0a ? 'LF' : block[end + 1] === 0x0a ? 'CRLF' : 'CR';
        next = end + (kind === 'CRLF' ? 2 : 1);
      }
      this.handleLine(lineText, kind);
      start = next;
    }
    this.byteOffset += block.length;
  }

  private decodeLineReporting(bytes: Uint8Array, byteOffset: number): string {
    try {
      return this.decoder.decode(bytes);
    } catch {
      let column = 0;
      for (let i = 0; i < bytes.length;) {
        const b = bytes[i] ?? 0;
        const len = b < 0x80 ? 1 : utf8SequenceAt(bytes, i, bytes.length);
        if (len > 0) {
          column += len === 4 ? 2 : 1;
          i += len;
        } else {
          if (this.utf8Severity && this.invalidUtf8 < MAX_INVALID_UTF8_FINDINGS) {
            // A BOM on line 0 is dropped from the text, so columns there are one less.
            const bomShift = this.line === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 1 : 0;
            this.emit(invalidUtf8Finding(this.utf8Severity, this.line, column - bomShift, byteOffset + i, b));
            this.markError(this.utf8Severity);
          }
          this.invalidUtf8++;
          column++;
          i += -len;
        }
      }
      return this.lenientDecoder.decode(bytes);
    }
  }

  private markError(severity: Finding['severity']): void {
    if (severity === 'error') this.pendingError = true;
  }

  private splitDecoded(text: string): void {
    const hasCr = text.indexOf('\r') >= 0;
    let start = 0;
    const n = text.length;
    while (start < n) {
      let end: number;
      let kind: EolKind | undefined;
      if (!hasCr) {
        end = text.indexOf('\n', start);
        if (end < 0) end = n;
        else kind = 'LF';
      } else {
        end = start;
        while (end < n) {
          const c = text.charCodeAt(end);
          if (c === 0x0a || c === 0x0d) break;
          end++;
        }
        if (end < n) kind = text.charCodeAt(end) === 0x0a ? 'LF' : text.charCodeAt(end + 1) === 0x0a ? 'CRLF' : 'CR';
      }
      this.handleLine(text.slice(start, end), kind);
      start = end + (kind === 'CRLF' ? 2 : kind ? 1 : 0);
      if (!kind) break;
    }
  }

  private handleLine(text: string, eolKind: EolKind | undefined): void {
    const line = this.line;
    if (line === 0 && text.charCodeAt(0) === 0xfeff) {
      text = text.slice(1);
      const bomSeverity = this.opts.severityOf('encoding/bom');
      if (bomSeverity) this.emit(bomFinding(bomSeverity));
    }
    const a = this.analyzer.analyze(text, line);
    let error = this.pendingError;
    this.pendingError = false;
    for (const f of a.findings) {
      if (f.severity === 'error') error = true;
      this.emit(f);
    }
    if (a.kind === 'blank') this.counts.blank++;
    else {
      this.counts.records++;
      if (a.kind === 'invalid') this.counts.invalid++;
      else if (!a.format) this.counts.unknownFormat++;
      else {
        this.formatCounts[a.format]++;
        this.tokens.push(a.tokens);
        if (!a.tokensExact) this.allTokensExact = false;
      }
      if (a.valueHash >= 0) {
        const first = this.exact.firstOrAdd(a.valueHash, line);
        if (first >= 0) {
          this.counts.exactDuplicates++;
          if (this.exactSeverity) {
            this.emit(dedupFinding('dedup/exact', this.exactSeverity, line, text.length, first, undefined));
            if (this.exactSeverity === 'error') error = true;
          }
        } else if (a.hasSignature) {
          const near = this.near.checkAndAdd(this.analyzer.hasher, line, this.opts.nearThreshold);
          if (near) {
            this.counts.nearDuplicates++;
            if (this.nearSeverity) {
              this.emit(dedupFinding('dedup/near', this.nearSeverity, line, text.length, near.line, near.similarity));
              if (this.nearSeverity === 'error') error = true;
            }
          }
        }
      }
    }
    this.lineFormat.push(a.kind !== 'record' ? NO_FORMAT : a.format ? RECORD_FORMATS.indexOf(a.format) : NO_FORMAT - 1);
    this.lineLength.push(text.length);
    // 2 marks a blank line (not a record) for the acceptance count.
    this.lineHasError.push(a.kind === 'blank' ? 2 : error ? 1 : 0);
    if (eolKind) {
      const f = this.eol.see(eolKind, line, text.length, this.eolSeverity);
      if (f) this.emit(f);
    }
    this.line++;
  }

  private finishFormats(): void {
    const severity = this.opts.severityOf('format/mixed');
    if (this.opts.format || !severity) return;
    const majority = majorityFormat(this.formatCounts);
    if (!majority) return;
    const majorityCode = RECORD_FORMATS.indexOf(majority);
    for (let i = 0; i < this.lineFormat.length; i++) {
      const code = this.lineFormat.data[i] ?? NO_FORMAT;
      if (code >= RECORD_FORMATS.length || code === majorityCode) continue;
      const format = RECORD_FORMATS[code];
      if (!format) continue;
      this.emit(
        makeFinding(
          'format/mixed',
          severity,
          i,
          0,
          this.lineLength.data[i] ?? 0,
          mixedFormatMessage(format, majority),
          { format, expected: majority },
        ),
      );
      if (severity === 'error' && this.lineHasError.data[i] === 0) this.lineHasError.data[i] = 1;
    }
  }
}
