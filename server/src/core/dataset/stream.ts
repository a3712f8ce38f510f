// DatasetStream: the CLI's validator for JSONL files of any size, read from disk in chunks. It
// decodes UTF-8 itself (so invalid bytes are reported where they are), splits lines by the editor's
// policy (LF, CRLF, lone CR; see encoding.ts), runs the same per-record rules as the editor, and keeps
// cross-record state in typed arrays: 53-bit value hashes for exact duplicates and a capped MinHash
// LSH index for near duplicates. Findings are passed to the callback as they are produced; the
// format/mixed findings, which need the whole file's majority, come at end().
//
// The work is split in two so that a host may run the first part on other threads:
// - BlockAnalyzer: a block of whole lines -> a BlockAnalysis (per-record findings and compact typed
//   arrays, line numbers relative to the block). Needs nothing from other blocks.
// - CrossRecordChecker: applies analyses strictly in file order: duplicates, line endings, the
//   invalid UTF-8 cap, statistics, then format/mixed at finish.
import type { Finding } from '../types';
import type { DatasetValidatorOptions } from './context';
import {
  AppendOnlyDuplicates,
  GrowableF64,
  GrowableU32,
  GrowableU8,
  LINE_BLANK,
  LINE_INVALID,
  LINE_UNKNOWN_FORMAT,
  RecordTally,
  dedupFinding,
} from './crossRecord';
import { BANDS, BINS } from './dedupNear';
import { NO_TOKENS } from './exampleTokens';
import { EolTracker, MAX_INVALID_UTF8_FINDINGS, bomFinding, invalidUtf8Finding, utf8SequenceAt } from './encoding';
import type { EolKind } from './encoding';
import { RECORD_FORMATS } from './formats';
import { RecordAnalyzer } from './record';
import type { LineMediaRef } from './mediaFiles';
import type { DatasetStats } from './stats';

export interface DatasetStreamOptions extends DatasetValidatorOptions {
  /**
   * Records admitted to the near-duplicate index (default 1,000,000: about 128 MB of signatures plus
   * the band tables). Later records are still compared with the admitted ones, but not added.
   */
  nearIndexCapacity?: number;
  /**
   * Called in file order with each record's token count (0-based line), for records that have one (not
   * those the chat template fails on). Runs on the thread that applies the analyses.
   */
  onRecordTokens?: (line: number, tokens: number) => void;
  /**
   * Called in file order with the files each record names (media/missing-file), for the host to check
   * on disk once the file is read. Runs on the thread that applies the analyses.
   */
  onMediaRefs?: (refs: LineMediaRef[]) => void;
  /**
   * Called in file order with each record's dedup/exact hash and, when it has one, its dedup/near
   * signature and band keys (views into reused buffers: copy what you keep), for a host that checks
   * records against an index of its own (the Datanet hub). Runs on the thread that applies the analyses.
   */
  onRecordKeys?: (line: number, hash: number, signature?: Uint8Array, bandKeys?: Uint32Array) => void;
  /** The host's ASCII fast path (Environment.decodeAscii); without it, every block goes through TextDecoder. */
  decodeAscii?: (bytes: Uint8Array) => string | undefined;
}

/** What `ModelFactoryService.lintDatasetFile` feeds: a DatasetStream, or a host's parallel equivalent. */
export interface DatasetChunkSink {
  push(chunk: Uint8Array): void | Promise<void>;
  end(): void | Promise<void>;
  stats(): DatasetStats;
}

/** Per-line codes of a BlockAnalysis: a format's index in RECORD_FORMATS, or one of these. */
export { LINE_BLANK, LINE_INVALID, LINE_UNKNOWN_FORMAT } from './crossRecord';

const EOL_CODES: readonly (EolKind | undefined)[] = [undefined, 'LF', 'CRLF', 'CR'];
const EOL_CODE: Readonly<Record<EolKind, number>> = { LF: 1, CRLF: 2, CR: 3 };

/**
 * The per-line results of one block of whole lines. Plain data and typed arrays, so that it crosses
 * threads cheaply (see `blockAnalysisBuffers`). Lines and byte offsets are relative to the block.
 */
export interface BlockAnalysis {
  lineCount: number;
  byteLength: number;
  /** Per line: LINE_BLANK, LINE_INVALID, LINE_UNKNOWN_FORMAT or the format's index. */
  lineCodes: Uint8Array;
  /** Per line: UTF-16 length of its text (without a leading BOM). */
  lineLengths: Uint32Array;
  /** Per line: 0 for none (the last line of a file), else 1 LF, 2 CRLF, 3 CR. */
  eols: Uint8Array;
  /** Per line: 53-bit value hash, or -1. */
  valueHashes: Float64Array;
  /** Per line: 1 when the record has a near-duplicate signature. */
  hasSignature: Uint8Array;
  /** BINS bytes per line with a signature, in line order. */
  signatures: Uint8Array;
  /** BANDS keys per line with a signature, in line order. */
  bandKeys: Uint32Array;
  /** Token counts of records of a known format, in line order. */
  tokens: Uint32Array;
  /** False when some token count above came from the estimate. */
  tokensExact: boolean;
  /** Per-record findings in line order. */
  findings: Finding[];
  /** The files records name, in line order (lines relative to the block). */
  media: LineMediaRef[];
  /** Four numbers per invalid UTF-8 sequence (line, column, byte offset, first byte), at most MAX_INVALID_UTF8_FINDINGS. */
  invalidUtf8: Uint32Array;
  /** All invalid sequences in the block, reported or not. */
  invalidUtf8Total: number;
  /** The block starts the file and its first line starts with a byte order mark. */
  bom: boolean;
}

/** The buffers of an analysis, to transfer rather than copy between threads. */
export function blockAnalysisBuffers(a: BlockAnalysis): ArrayBuffer[] {
  return [
    a.lineCodes,
    a.lineLengths,
    a.eols,
    a.valueHashes,
    a.hasSignature,
    a.signatures,
    a.bandKeys,
    a.tokens,
    a.invalidUtf8,
  ].map((array) => array.buffer as ArrayBuffer);
}

/** The most bytes decoded into one string (unless a line is longer): below the engine's large-object size. */
const DECODE_PIECE = 64 * 1024;

/** Runs every per-record rule over blocks of whole lines; keeps no state between blocks. */
export class BlockAnalyzer {
  private readonly records: RecordAnalyzer;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  private readonly lenientDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  // The block being analysed; reset by analyze().
  private atFileStart = false;
  private line = 0;
  private bom = false;
  private findings: Finding[] = [];
  private media: LineMediaRef[] = [];
  private lineCodes = new GrowableU8();
  private lineLengths = new GrowableU32();
  private eols = new GrowableU8();
  private valueHashes = new GrowableF64();
  private hasSignature = new GrowableU8();
  private signatures = new GrowableU8();
  private bandKeys = new GrowableU32();
  private tokens = new GrowableU32();
  private tokensExact = true;
  private invalidUtf8 = new GrowableU32();
  private invalidUtf8Total = 0;

  private readonly decodeAscii: ((bytes: Uint8Array) => string | undefined) | undefined;

  constructor(opts: DatasetStreamOptions) {
    this.records = new RecordAnalyzer(opts);
    this.decodeAscii = opts.decodeAscii;
  }

  /**
   * Analyses `block`: whole lines, the last one unterminated only at the end of the file. A lone CR
   * at the end of a block counts as a line ending, so a CRLF must not be split between blocks.
   */
  analyze(block: Uint8Array, atFileStart: boolean): BlockAnalysis {
    this.atFileStart = atFileStart;
    this.line = 0;
    this.bom = false;
    this.findings = [];
    this.media = [];
    this.lineCodes.length = 0;
    this.lineLengths.length = 0;
    this.eols.length = 0;
    this.valueHashes.length = 0;
    this.hasSignature.length = 0;
    this.signatures.length = 0;
    this.bandKeys.length = 0;
    this.tokens.length = 0;
    this.tokensExact = true;
    this.invalidUtf8.length = 0;
    this.invalidUtf8Total = 0;
    this.analyzeLines(block);
    return {
      lineCount: this.line,
      byteLength: block.length,
      lineCodes: this.lineCodes.data.slice(0, this.lineCodes.length),
      lineLengths: this.lineLengths.data.slice(0, this.lineLengths.length),
      eols: this.eols.data.slice(0, this.eols.length),
      valueHashes: this.valueHashes.data.slice(0, this.valueHashes.length),
      hasSignature: this.hasSignature.data.slice(0, this.hasSignature.length),
      signatures: this.signatures.data.slice(0, this.signatures.length),
      bandKeys: this.bandKeys.data.slice(0, this.bandKeys.length),
      tokens: this.tokens.data.slice(0, this.tokens.length),
      tokensExact: this.tokensExact,
      findings: this.findings,
      media: this.media,
      invalidUtf8: this.invalidUtf8.data.slice(0, this.invalidUtf8.length),
      invalidUtf8Total: this.invalidUtf8Total,
      bom: this.bom,
    };
  }

  /**
   * Decodes and splits `block` a piece at a time: pieces end after a line feed and hold at most
   * DECODE_PIECE bytes, unless one line is longer. A string of a whole 1 MiB block is allocated in the
   * engine's large-object space, fresh pages every time: most of the decoding's cost.
   */
  private analyzeLines(block: Uint8Array): void {
    for (let start = 0; start < block.length;) {
      let end = block.length;
      if (end - start > DECODE_PIECE) {
        let lf = block.lastIndexOf(0x0a, start + DECODE_PIECE - 1);
        if (lf < start) lf = block.indexOf(0x0a, start + DECODE_PIECE);
        if (lf >= 0) end = lf + 1;
      }
      this.analyzePiece(block.subarray(start, end), start);
      start = end;
    }
  }

  /** Lines of `piece` (at `pieceOffset` in the block): the host's ASCII decoder, else UTF-8 decoding. */
  private analyzePiece(piece: Uint8Array, pieceOffset: number): void {
    const ascii = this.decodeAscii?.(piece);
    if (ascii !== undefined) {
      this.splitDecoded(ascii, true);
      return;
    }
    let text: string | undefined;
    try {
      text = this.decoder.decode(piece);
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      // As many UTF-16 units as bytes: every byte was ASCII, so every line is.
      this.splitDecoded(text, text.length === piece.length);
      return;
    }
    // Invalid UTF-8 somewhere: go line by line so each bad byte is reported at its line and column.
    let start = 0;
    while (start < piece.length) {
      let end = start;
      while (end < piece.length && piece[end] !== 0x0a && piece[end] !== 0x0d) end++;
      const lineText = this.decodeLineReporting(piece.subarray(start, end), pieceOffset + start);
      let next = end;
      let kind: EolKind | undefined;
      if (end < piece.length) {
        kind = piece[end] === 0x0a ? 'LF' : piece[end + 1] === 0x0a ? 'CRLF' : 'CR';
        next = end + (kind === 'CRLF' ? 2 : 1);
      }
      this.handleLine(lineText, kind);
      start = next;
    }
  }

  private decodeLineReporting(bytes: Uint8Array, byteOffset: number): string {
    try {
      return this.decoder.decode(bytes);
    } catch {
      // A BOM on the file's first line is dropped from the text, so columns there are one less.
      const bomShift =
        this.atFileStart && this.line === 0 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 1 : 0;
      let column = 0;
      for (let i = 0; i < bytes.length;) {
        const b = bytes[i] ?? 0;
        const len = b < 0x80 ? 1 : utf8SequenceAt(bytes, i, bytes.length);
        if (len > 0) {
          column += len === 4 ? 2 : 1;
          i += len;
        } else {
          // The file-wide cap is applied in order by CrossRecordChecker; a block never needs more.
          if (this.invalidUtf8Total < MAX_INVALID_UTF8_FINDINGS) {
            this.invalidUtf8.push(this.line);
            this.invalidUtf8.push(column - bomShift);
            this.invalidUtf8.push(byteOffset + i);
            this.invalidUtf8.push(b);
          }
          this.invalidUtf8Total++;
          column++;
          i += -len;
        }
      }
      return this.lenientDecoder.decode(bytes);
    }
  }

  private splitDecoded(text: string, ascii: boolean): void {
    // Line ends by the engine's indexOf, one search per kind of end: a loop over the text here would
    // cost more than the rest of the split (CRLF files are common).
    let nextLf = text.indexOf('\n');
    let nextCr = text.indexOf('\r');
    let start = 0;
    const n = text.length;
    while (start < n) {
      if (nextLf >= 0 && nextLf < start) nextLf = text.indexOf('\n', start);
      if (nextCr >= 0 && nextCr < start) nextCr = text.indexOf('\r', start);
      let end: number;
      let kind: EolKind | undefined;
      if (nextCr < 0 || (nextLf >= 0 && nextLf < nextCr)) {
        end = nextLf < 0 ? n : nextLf;
        if (nextLf >= 0) kind = 'LF';
      } else {
        end = nextCr;
        kind = text.charCodeAt(end + 1) === 0x0a ? 'CRLF' : 'CR';
      }
      this.handleLine(text.slice(start, end), kind, ascii);
      start = end + (kind === 'CRLF' ? 2 : kind ? 1 : 0);
      if (!kind) break;
    }
  }

  private handleLine(text: string, eolKind: EolKind | undefined, ascii = false): void {
    if (this.atFileStart && this.line === 0 && text.charCodeAt(0) === 0xfeff) {
      text = text.slice(1);
      this.bom = true;
    }
    // A signature and its band keys are written in place after the block's last ones (kept only when
    // the record has them).
    const hasher = this.records.hasher;
    this.signatures.reserve(BINS);
    this.bandKeys.reserve(BANDS);
    hasher.writeInto(this.signatures.data, this.signatures.length, this.bandKeys.data, this.bandKeys.length);
    const a = this.records.analyze(text, this.line, ascii);
    hasher.writeInto();
    for (const f of a.findings) this.findings.push(f);
    if (a.media) for (const ref of a.media) this.media.push({ ...ref, line: this.line });
    let code: number;
    if (a.kind === 'blank') code = LINE_BLANK;
    else if (a.kind === 'invalid') code = LINE_INVALID;
    else if (!a.format) code = LINE_UNKNOWN_FORMAT;
    else {
      code = RECORD_FORMATS.indexOf(a.format);
      this.tokens.push(a.tokens);
      if (!a.tokensExact) this.tokensExact = false;
    }
    this.lineCodes.push(code);
    this.lineLengths.push(text.length);
    this.eols.push(eolKind ? EOL_CODE[eolKind] : 0);
    this.valueHashes.push(a.valueHash);
    this.hasSignature.push(a.hasSignature ? 1 : 0);
    if (a.hasSignature) {
      this.signatures.length += BINS;
      this.bandKeys.length += BANDS;
    }
    this.line++;
  }
}

/**
 * The cross-record half: applies block analyses strictly in file order and emits every finding in
 * the order the single-threaded stream always has (per line: invalid UTF-8, BOM, record findings,
 * duplicates, line ending; format/mixed at finish).
 */
export class CrossRecordChecker {
  private readonly duplicates: AppendOnlyDuplicates;
  private readonly eol = new EolTracker();
  private line = 0;
  private byteOffset = 0;
  private invalidUtf8 = 0;
  private finished = false;
  private readonly exactSeverity;
  private readonly nearSeverity;
  private readonly eolSeverity;
  private readonly utf8Severity;
  private readonly bomSeverity;

  // Per line, for statistics and the end-of-file format/mixed pass.
  private readonly tally = new RecordTally();
  private readonly lineLength = new GrowableU32();

  constructor(
    private readonly opts: DatasetStreamOptions,
    private readonly onFinding: (finding: Finding) => void,
  ) {
    this.duplicates = new AppendOnlyDuplicates(
      opts.nearThreshold,
      (line, first, similarity) => this.nearFound(line, first, similarity),
      opts.nearIndexCapacity ?? 1_000_000,
    );
    this.exactSeverity = opts.severityOf('dedup/exact');
    this.nearSeverity = opts.severityOf('dedup/near');
    this.eolSeverity = opts.severityOf('encoding/mixed-eol');
    this.utf8Severity = opts.severityOf('encoding/invalid-utf8');
    this.bomSeverity = opts.severityOf('encoding/bom');
  }

  /** Lines applied so far. */
  get lines(): number {
    return this.line;
  }

  /** Applies the next block of the file. */
  apply(block: BlockAnalysis): void {
    if (this.finished) throw new Error('CrossRecordChecker: apply after finish');
    const base = this.line;
    const findings = block.findings;
    const invalid = block.invalidUtf8;
    const tally = this.tally;
    let findingAt = 0;
    let invalidAt = 0;
    let signatureAt = 0;
    let tokenAt = 0;
    for (let rel = 0; rel < block.lineCount; rel++) {
      const line = base + rel;
      let error = false;
      for (; invalidAt < invalid.length && invalid[invalidAt] === rel; invalidAt += 4) {
        if (this.utf8Severity && this.invalidUtf8 < MAX_INVALID_UTF8_FINDINGS) {
          const column = invalid[invalidAt + 1] ?? 0;
          const offset = this.byteOffset + (invalid[invalidAt + 2] ?? 0);
          this.emit(invalidUtf8Finding(this.utf8Severity, line, column, offset, invalid[invalidAt + 3] ?? 0));
          if (this.utf8Severity === 'error') error = true;
        }
        this.invalidUtf8++;
      }
      if (rel === 0 && block.bom && this.bomSeverity) this.emit(bomFinding(this.bomSeverity));
      for (; findingAt < findings.length; findingAt++) {
        const f = findings[findingAt] as Finding;
        if (f.range.start.line !== rel) break;
        f.range.start.line += base;
        f.range.end.line += base;
        if (f.severity === 'error') error = true;
        this.emit(f);
      }
      const code = block.lineCodes[rel] ?? LINE_BLANK;
      const length = block.lineLengths[rel] ?? 0;
      let tokens = NO_TOKENS;
      if (code !== LINE_BLANK) {
        if (code !== LINE_INVALID && code !== LINE_UNKNOWN_FORMAT) {
          tokens = block.tokens[tokenAt++] ?? 0;
          if (tokens !== NO_TOKENS) this.opts.onRecordTokens?.(line, tokens);
        }
        const hash = block.valueHashes[rel] ?? -1;
        const hasSignature = block.hasSignature[rel] === 1;
        const sigs = hasSignature ? block.signatures : undefined;
        const keys = hasSignature ? block.bandKeys : undefined;
        if (hash >= 0 && this.opts.onRecordKeys) {
          this.opts.onRecordKeys(
            line,
            hash,
            sigs?.subarray(signatureAt * BINS, (signatureAt + 1) * BINS),
            keys?.subarray(signatureAt * BANDS, (signatureAt + 1) * BANDS),
          );
        }
        this.lineLength.push(length);
        if (this.duplicates.check(line, hash, sigs, signatureAt * BINS, keys, signatureAt * BANDS)) {
          tally.exactDuplicates++;
          if (this.exactSeverity) {
            this.emit(dedupFinding('dedup/exact', this.exactSeverity, line, length, this.duplicates.first, undefined));
            if (this.exactSeverity === 'error') error = true;
          }
        }
        if (hasSignature) signatureAt++;
      } else this.lineLength.push(length);
      tally.add(code, error, tokens);
      const eolKind = EOL_CODES[block.eols[rel] ?? 0];
      if (eolKind) {
        const f = this.eol.see(eolKind, line, length, this.eolSeverity);
        if (f) this.emit(f);
      }
    }
    // Invalid sequences the block did not itself report still count against the file's cap.
    this.invalidUtf8 += block.invalidUtf8Total - invalid.length / 4;
    if (!block.tokensExact) tally.estimated();
    if (block.media.length > 0 && this.opts.onMediaRefs) {
      this.opts.onMediaRefs(block.media.map((ref) => ({ ...ref, line: ref.line + base })));
    }
    this.line += block.lineCount;
    this.byteOffset += block.byteLength;
  }

  /**
   * A near duplicate: most are found when the file ends (the index compares its records in one pass),
   * those past the index's capacity as their line is applied (before it is tallied).
   */
  private nearFound(line: number, first: number, similarity: number): void {
    this.tally.nearDuplicates++;
    const severity = this.nearSeverity;
    if (!severity) return;
    this.emit(dedupFinding('dedup/near', severity, line, this.lineLength.data[line] ?? 0, first, similarity));
    if (severity === 'error') this.tally.markError(line);
  }

  /** Reports what needs the whole file: near duplicates, then format/mixed against the majority format. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.duplicates.finish();
    const lengths = this.lineLength.data;
    this.tally.mixed(
      this.opts.severityOf('format/mixed'),
      this.opts.format,
      (i) => ({ start: { line: i, character: 0 }, end: { line: i, character: lengths[i] ?? 0 } }),
      this.onFinding,
    );
  }

  stats(): DatasetStats {
    return this.tally.stats(this.line);
  }

  /** Bytes held by the cross-record indices (for memory reports). */
  indexBytes(): number {
    return this.duplicates.bytes;
  }

  private emit(f: Finding): void {
    this.tally.count(f);
    this.onFinding(f);
  }
}

const EMPTY_BYTES = new Uint8Array(0);

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * The single-threaded stream: each chunk's whole lines are analysed and applied at once (the line carried
 * over from the chunk before, completed from this one's head, as a block of its own).
 */
export class DatasetStream implements DatasetChunkSink {
  private readonly analyzer: BlockAnalyzer;
  private readonly checker: CrossRecordChecker;
  private carry: Uint8Array = EMPTY_BYTES;
  private atFileStart = true;
  private ended = false;

  constructor(opts: DatasetStreamOptions, onFinding: (finding: Finding) => void) {
    this.analyzer = new BlockAnalyzer(opts);
    this.checker = new CrossRecordChecker(opts, onFinding);
  }

  /** Feeds the next chunk of the file. */
  push(chunk: Uint8Array): void {
    if (this.ended) throw new Error('DatasetStream: push after end');
    let buf = chunk;
    if (this.carry.length > 0) {
      // The carried line ends early in this chunk (most lines are far shorter than a chunk): it is
      // completed and analysed alone, and the rest of the chunk is used where it is, not copied.
      const end = this.carriedLineEnd(chunk);
      if (end < 0) {
        this.carry = concatBytes(this.carry, chunk);
        return;
      }
      this.processBlock(concatBytes(this.carry, chunk.subarray(0, end)));
      this.carry = EMPTY_BYTES;
      buf = chunk.subarray(end);
    }
    // A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
    let limit = buf.length;
    if (limit > 0 && buf[limit - 1] === 0x0d) limit--;
    const lastLf = limit > 0 ? buf.lastIndexOf(0x0a, limit - 1) : -1;
    // Only a CR after the last LF moves the cut (a search of the whole chunk for one cost a full scan).
    let lastCr = -1;
    for (let i = limit - 1; i > lastLf; i--) {
      if (buf[i] === 0x0d) {
        lastCr = i;
        break;
      }
    }
    const cut = Math.max(lastLf, lastCr) + 1;
    if (cut > 0) this.processBlock(buf.subarray(0, cut));
    this.carry = buf.slice(cut);
  }

  /**
   * Where in `chunk` the carried partial line ends, just after its line ending; -1 when it does not end
   * in this chunk or cannot tell yet (a CR as the chunk's last byte may start a CRLF).
   */
  private carriedLineEnd(chunk: Uint8Array): number {
    // A carried CR is a line ending (the chunk before ended with it): of a CRLF when an LF follows.
    if (this.carry[this.carry.length - 1] === 0x0d) return chunk.length === 0 ? -1 : chunk[0] === 0x0a ? 1 : 0;
    // Up to the first LF: any line ended by a lone CR before it is a whole line too.
    const lf = chunk.indexOf(0x0a);
    if (lf >= 0) return lf + 1;
    // No LF: up to the first CR, unless it is the chunk's last byte.
    const cr = chunk.indexOf(0x0d);
    return cr < 0 || cr + 1 >= chunk.length ? -1 : cr + 1;
  }

  /** Flushes the last line and reports what needs the whole file. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.carry.length > 0) this.processBlock(this.carry);
    this.carry = EMPTY_BYTES;
    this.checker.finish();
  }

  stats(): DatasetStats {
    return this.checker.stats();
  }

  /** Bytes held by the cross-record indices (for memory reports). */
  indexBytes(): number {
    return this.checker.indexBytes();
  }

  private processBlock(block: Uint8Array): void {
    this.checker.apply(this.analyzer.analyze(block, this.atFileStart));
    this.atFileStart = false;
  }
}
