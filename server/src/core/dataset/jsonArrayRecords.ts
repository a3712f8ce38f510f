// The records of a `.json` array, checked one element at a time, in order: the per-record rules of a
// JSONL line (RecordAnalyzer) with their findings placed in the file, then the shared cross-record
// half (crossRecord.ts: duplicates, format/mixed, statistics). Used by the in-memory validator
// (jsonArray.ts, which finds elements with jsonc-parser) and the streamed one (jsonArrayStream.ts,
// which finds them with a byte scanner), so both report the same findings in the same words.
import type { Finding, Position } from '../types';
import type { DatasetValidatorOptions } from './context';
import {
  AppendOnlyDuplicates,
  GrowableU32,
  LINE_INVALID,
  LINE_UNKNOWN_FORMAT,
  RecordTally,
  duplicateFinding,
} from './crossRecord';
import { NO_TOKENS } from './exampleTokens';
import { RECORD_FORMATS } from './formats';
import type { LineMediaRef } from './mediaFiles';
import { RecordAnalyzer } from './record';
import type { LineAnalysis } from './record';
import type { DatasetStats } from './stats';

/** What `add` found about one element. */
export interface JsonElementResult {
  analysis: LineAnalysis;
  /** Index of the earlier element this one repeats exactly. */
  duplicateOf?: number;
  /** The files the record names, at their positions in the file. */
  media?: LineMediaRef[];
}

export interface JsonArrayCheckerOptions extends DatasetValidatorOptions {
  /** Records admitted to the near-duplicate index (see DatasetStreamOptions.nearIndexCapacity). */
  nearIndexCapacity?: number;
}

export class JsonArrayChecker {
  private readonly analyzer: RecordAnalyzer;
  private readonly duplicates: AppendOnlyDuplicates;
  private readonly tally = new RecordTally();
  /** Per element: where it starts and ends in the file (line, character). */
  private readonly startLine = new GrowableU32();
  private readonly startChar = new GrowableU32();
  private readonly endLine = new GrowableU32();
  private readonly endChar = new GrowableU32();
  private readonly exactSeverity;
  private readonly nearSeverity;
  private finished = false;
  /** The earlier element each near duplicate nearly repeats (a few elements, so a map). */
  private readonly nearOf = new Map<number, { index: number; similarity: number }>();

  constructor(
    private readonly opts: JsonArrayCheckerOptions,
    private readonly onFinding: (f: Finding) => void,
  ) {
    this.analyzer = new RecordAnalyzer(opts);
    this.duplicates = new AppendOnlyDuplicates(
      opts.nearThreshold,
      (index, first, similarity) => this.nearFound(index, first, similarity),
      opts.nearIndexCapacity ?? 1_000_000,
    );
    this.exactSeverity = opts.severityOf('dedup/exact');
    this.nearSeverity = opts.severityOf('dedup/near');
  }

  /** Elements added so far. */
  get elements(): number {
    return this.tally.codes.length;
  }

  /** Reports a finding that is not about one element (the array's own syntax). */
  report(f: Finding): void {
    this.tally.count(f);
    this.onFinding(f);
  }

  /**
   * Checks the next element: `text` is its source, `at` maps an offset in it to a position in the file.
   * `reportSyntax`: report an element that is not valid JSON by its own findings (false when the
   * caller already reported the file's syntax errors, which cover it).
   */
  add(text: string, at: (offset: number) => Position, reportSyntax: boolean): JsonElementResult {
    if (this.finished) throw new Error('JsonArrayChecker: add after finish');
    const index = this.tally.codes.length;
    const a = this.analyzer.analyze(text, 0);
    const start = at(0);
    const end = at(text.length);
    this.startLine.push(start.line);
    this.startChar.push(start.character);
    this.endLine.push(end.line);
    this.endChar.push(end.character);
    const result: JsonElementResult = { analysis: a };
    const place = (f: Finding): Finding => ({
      ...f,
      range: { start: at(f.range.start.character), end: at(f.range.end.character) },
    });
    if (a.kind !== 'record') {
      if (reportSyntax) for (const f of a.findings) this.report(place(f));
      this.tally.add(LINE_INVALID, true);
      return result;
    }
    let error = false;
    for (const f of a.findings) {
      if (f.severity === 'error') error = true;
      this.report(place(f));
    }
    if (a.media && a.media.length > 0) {
      result.media = a.media.map((ref) => {
        const from = at(ref.start);
        const to = at(ref.end);
        return {
          file: ref.file,
          line: from.line,
          start: from.character,
          end: to.line === from.line ? to.character : from.character,
        };
      });
    }
    const hasher = this.analyzer.hasher;
    const exact = this.duplicates.check(
      index,
      a.valueHash,
      a.hasSignature ? hasher.signature : undefined,
      0,
      a.hasSignature ? hasher.bandKeys : undefined,
      0,
    );
    if (exact) {
      const first = this.duplicates.first;
      result.duplicateOf = first;
      this.tally.exactDuplicates++;
      if (this.exactSeverity) {
        this.report(
          duplicateFinding(
            'dedup/exact',
            this.exactSeverity,
            { start, end },
            this.startOf(first),
            undefined,
            'record',
            first,
          ),
        );
        if (this.exactSeverity === 'error') error = true;
      }
    }
    if (a.format) {
      if (!a.tokensExact) this.tally.estimated();
      this.tally.add(RECORD_FORMATS.indexOf(a.format), error, a.tokens);
    } else this.tally.add(LINE_UNKNOWN_FORMAT, error, NO_TOKENS);
    return result;
  }

  /**
   * A near duplicate: most are found when the array ends (the index compares its records in one pass),
   * those past the index's capacity as they are added (before they are tallied).
   */
  private nearFound(index: number, first: number, similarity: number): void {
    this.tally.nearDuplicates++;
    this.nearOf.set(index, { index: first, similarity });
    const severity = this.nearSeverity;
    if (!severity) return;
    const range = { start: this.startOf(index), end: this.endOf(index) };
    this.report(duplicateFinding('dedup/near', severity, range, this.startOf(first), similarity, 'record', first));
    if (severity === 'error') this.tally.markError(index);
  }

  /** Reports what needs every element: near duplicates, then format/mixed against the majority format. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.duplicates.finish();
    this.tally.mixed(
      this.opts.severityOf('format/mixed'),
      this.opts.format,
      (i) => ({ start: this.startOf(i), end: this.endOf(i) }),
      this.onFinding,
    );
  }

  /** The earlier element that element `i` nearly repeats (known after finish). */
  nearDuplicateOf(i: number): { index: number; similarity: number } | undefined {
    return this.nearOf.get(i);
  }

  /** Element `i` carries an error (after finish: format/mixed and dedup/near errors included). */
  hasError(i: number): boolean {
    return this.tally.errors.data[i] === 1;
  }

  stats(): DatasetStats {
    return this.tally.stats(this.elements);
  }

  /** Bytes held by the cross-record indices (for memory reports). */
  indexBytes(): number {
    return this.duplicates.bytes;
  }

  private startOf(i: number): Position {
    return { line: this.startLine.data[i] ?? 0, character: this.startChar.data[i] ?? 0 };
  }

  private endOf(i: number): Position {
    return { line: this.endLine.data[i] ?? 0, character: this.endChar.data[i] ?? 0 };
  }
}
