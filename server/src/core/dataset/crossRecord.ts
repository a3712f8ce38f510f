// The cross-record half of dataset validation, shared by the three validators: the editor's
// incremental DatasetValidator (validator.ts), the streaming JSONL validator (stream.ts) and `.json`
// arrays, in memory or streamed (jsonArray.ts, jsonArrayStream.ts). One set of finding builders (one
// wording), one append-only duplicate index for the validators that see records once in order, and
// one tally of the statistics. The editor keeps its own incremental buckets (an edit must remove a
// line's entries), but builds its findings and its statistics here too.
import type { Finding, Position, Range } from '../types';
import { makeFinding } from './context';
import { EXACT_SCHEME, ExactDuplicateTable } from './dedupExact';
import { BANDS, BINS, NEAR_SCHEME, NearDuplicateIndex } from './dedupNear';
import type { NearReport } from './dedupNear';
import { NO_TOKENS } from './exampleTokens';
import { RECORD_FORMATS } from './formats';
import type { RecordFormat } from './formats';
import { FORMAT_LABELS, withArticle } from './record';
import { emptyFormatCounts, majorityFormat, tokenPercentiles } from './stats';
import type { DatasetStats } from './stats';

/**
 * How the duplicate indices are computed: the near-duplicate signature and band keys, and the exact
 * hash. A hub stores it beside its rows and rebuilds them when it differs (hub/reindex.ts).
 */
export const DEDUP_SCHEME = `${NEAR_SCHEME}+${EXACT_SCHEME}`;

/** Per-record codes: a format's index in RECORD_FORMATS, or one of these. */
export const LINE_UNKNOWN_FORMAT = 253;
export const LINE_INVALID = 254;
export const LINE_BLANK = 255;

export class GrowableU32 {
  data = new Uint32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) this.reserve(1);
    this.data[this.length++] = v;
  }
  /** Room for `more` values after `length` (for writing them in place). */
  reserve(more: number): void {
    if (this.length + more <= this.data.length) return;
    const next = new Uint32Array(Math.max(this.data.length * 2, this.length + more));
    next.set(this.data);
    this.data = next;
  }
  view(): Uint32Array {
    return this.data.subarray(0, this.length);
  }
}

export class GrowableU8 {
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
  /** Room for `more` values after `length` (for writing them in place). */
  reserve(more: number): void {
    if (this.length + more <= this.data.length) return;
    const next = new Uint8Array(Math.max(this.data.length * 2, this.length + more));
    next.set(this.data);
    this.data = next;
  }
}

export class GrowableF64 {
  data = new Float64Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
}

/**
 * A dedup finding over `range` pointing at the first occurrence at `first`. `unit` names what to
 * delete: a JSONL line or a `.json` record; `element` is the first occurrence's index in a `.json`
 * array (for its quick fix).
 */
export function duplicateFinding(
  rule: 'dedup/exact' | 'dedup/near',
  severity: Finding['severity'],
  range: Range,
  first: Position,
  similarity: number | undefined,
  unit: 'line' | 'record' = 'line',
  element?: number,
): Finding {
  const message =
    rule === 'dedup/exact'
      ? `Exact duplicate of line ${first.line + 1}: duplicates skew training toward one example. Delete this ${unit}.`
      : `Near duplicate of line ${first.line + 1} (about ${Math.round((similarity ?? 0) * 100)}% similar): keep the better one, or make them differ.`;
  const data: Record<string, unknown> = { duplicateOf: first.line };
  if (element !== undefined) data.element = element;
  if (similarity !== undefined) data.similarity = Math.round(similarity * 1000) / 1000;
  return {
    rule,
    severity,
    range,
    message,
    related: [{ range: { start: first, end: first }, message: 'First occurrence' }],
    data,
  };
}

/** A dedup finding on the whole of JSONL `line` pointing at `firstLine`. */
export function dedupFinding(
  rule: 'dedup/exact' | 'dedup/near',
  severity: Finding['severity'],
  line: number,
  lineLength: number,
  firstLine: number,
  similarity: number | undefined,
): Finding {
  return duplicateFinding(
    rule,
    severity,
    { start: { line, character: 0 }, end: { line, character: lineLength } },
    { line: firstLine, character: 0 },
    similarity,
  );
}

export function mixedFormatMessage(format: RecordFormat, majority: RecordFormat): string {
  return `This is ${withArticle(format)} record, but most of this file is ${FORMAT_LABELS[majority]}: convert it, or move it to a file of its own.`;
}

/** format/mixed over `range`. */
export function mixedFormatFinding(
  severity: Finding['severity'],
  range: Range,
  format: RecordFormat,
  majority: RecordFormat,
): Finding {
  const f = makeFinding('format/mixed', severity, 0, 0, 0, mixedFormatMessage(format, majority), {
    format,
    expected: majority,
  });
  f.range = range;
  return f;
}

/**
 * Exact and near duplicates of records seen once, in order (the stream and `.json` arrays): a 53-bit
 * value hash table, answered at once (`check`), and a capped MinHash LSH index (`near`), whose answers
 * come through `onNear` in record order, most of them at `finish` (see NearDuplicateIndex).
 */
export class AppendOnlyDuplicates {
  private readonly exact = new ExactDuplicateTable();
  private readonly near: NearDuplicateIndex;
  /** After `check` found an exact duplicate: the id of the record it repeats. */
  first = -1;

  constructor(threshold: number, onNear: NearReport, nearCapacity = 1_000_000) {
    this.near = new NearDuplicateIndex(threshold, onNear, nearCapacity);
  }

  /**
   * Whether record `id` repeats an earlier one exactly (`first` names it); when not, and it has near-duplicate
   * keys (`signatures`/`bandKeys` at their offsets), it goes to the near-duplicate index.
   */
  check(
    id: number,
    hash: number,
    signatures: Uint8Array | undefined,
    sigOffset: number,
    bandKeys: Uint32Array | undefined,
    keyOffset: number,
  ): boolean {
    if (hash < 0) return false;
    const first = this.exact.firstOrAdd(hash, id);
    if (first >= 0) {
      this.first = first;
      return true;
    }
    if (signatures && bandKeys) this.near.add(signatures, sigOffset, bandKeys, keyOffset, id);
    return false;
  }

  /** The input is over: reports the near duplicates not yet reported. */
  finish(): void {
    this.near.finish();
  }

  get bytes(): number {
    return this.exact.bytes + this.near.bytes;
  }
}

/** The sizes of one signature and its band keys, for callers that slice block buffers. */
export const SIGNATURE_BYTES = BINS;
export const BAND_KEYS = BANDS;

/**
 * The statistics of records seen once, in order, and what the end-of-file format/mixed pass needs:
 * per record its code and whether it carries an error (typed arrays, a few bytes a record).
 */
export class RecordTally {
  blank = 0;
  invalid = 0;
  unknownFormat = 0;
  exactDuplicates = 0;
  nearDuplicates = 0;
  records = 0;
  readonly formatCounts = emptyFormatCounts();
  readonly findingsByRule: Record<string, number> = {};
  private readonly tokens = new GrowableU32();
  private allTokensExact = true;
  /** Per record (and blank line): its code. */
  readonly codes = new GrowableU8();
  /** Per record: 1 when it carries an error, 0 when not, 2 for a blank line (not a record). */
  readonly errors = new GrowableU8();
  /** An error was found for the record `add` takes next, before it was added (markError). */
  private errorBeforeAdd = false;

  /** Counts a finding by rule. */
  count(f: Finding): void {
    this.findingsByRule[f.rule] = (this.findingsByRule[f.rule] ?? 0) + 1;
  }

  /** Adds the next line or element; `tokens` for a record of a known format (NO_TOKENS: none). */
  add(code: number, error: boolean, tokens = NO_TOKENS): void {
    if (code === LINE_BLANK) this.blank++;
    else {
      this.records++;
      if (code === LINE_INVALID) this.invalid++;
      else if (code === LINE_UNKNOWN_FORMAT) this.unknownFormat++;
      else {
        this.formatCounts[RECORD_FORMATS[code] ?? 'text']++;
        if (tokens !== NO_TOKENS) this.tokens.push(tokens);
      }
    }
    this.codes.push(code);
    this.errors.push(code === LINE_BLANK ? 2 : error || this.errorBeforeAdd ? 1 : 0);
    this.errorBeforeAdd = false;
  }

  /** Some token count came from the estimate. */
  estimated(): void {
    this.allTokensExact = false;
  }

  /**
   * The format/mixed findings against the majority format, in order (none when the file's format is
   * given by its Datanet, or the rule is off); `range` places record `i`.
   */
  mixed(
    severity: Finding['severity'] | undefined,
    demanded: RecordFormat | undefined,
    range: (i: number) => Range,
    emit: (f: Finding) => void,
  ): void {
    if (demanded || !severity) return;
    const majority = majorityFormat(this.formatCounts);
    if (!majority) return;
    const majorityCode = RECORD_FORMATS.indexOf(majority);
    for (let i = 0; i < this.codes.length; i++) {
      const code = this.codes.data[i] ?? LINE_BLANK;
      if (code >= RECORD_FORMATS.length || code === majorityCode) continue;
      const format = RECORD_FORMATS[code];
      if (!format) continue;
      const f = mixedFormatFinding(severity, range(i), format, majority);
      this.count(f);
      emit(f);
      if (severity === 'error') this.markError(i);
    }
  }

  /**
   * Record `i` carries an error found apart from its own findings (format/mixed, dedup/near): after it
   * was added, or, for the record `add` takes next, before.
   */
  markError(i: number): void {
    if (i >= this.errors.length) this.errorBeforeAdd = true;
    else if (this.errors.data[i] === 0) this.errors.data[i] = 1;
  }

  stats(lines: number): DatasetStats {
    let accepted = 0;
    for (let i = 0; i < this.errors.length; i++) if (this.errors.data[i] === 0) accepted++;
    return datasetStats({
      lines,
      records: this.records,
      blank: this.blank,
      invalid: this.invalid,
      formatCounts: this.formatCounts,
      unknownFormat: this.unknownFormat,
      exactDuplicates: this.exactDuplicates,
      nearDuplicates: this.nearDuplicates,
      tokens: this.tokens.view().slice(),
      tokensExact: this.allTokensExact,
      findingsByRule: this.findingsByRule,
      accepted,
    });
  }
}

/** The statistics object every validator returns, from its counts. */
export function datasetStats(c: {
  lines: number;
  records: number;
  blank: number;
  invalid: number;
  formatCounts: Readonly<Record<RecordFormat, number>>;
  unknownFormat: number;
  exactDuplicates: number;
  nearDuplicates: number;
  tokens: Uint32Array | number[];
  tokensExact: boolean;
  findingsByRule: Record<string, number>;
  accepted: number;
}): DatasetStats {
  const majority = majorityFormat(c.formatCounts);
  const stats: DatasetStats = {
    lines: c.lines,
    records: c.records,
    blank: c.blank,
    invalid: c.invalid,
    formats: { ...c.formatCounts },
    unknownFormat: c.unknownFormat,
    exactDuplicates: c.exactDuplicates,
    nearDuplicates: c.nearDuplicates,
    tokens: tokenPercentiles(c.tokens, c.tokensExact),
    findingsByRule: { ...c.findingsByRule },
    acceptance: c.records === 0 ? 1 : c.accepted / c.records,
  };
  if (majority) stats.majorityFormat = majority;
  return stats;
}
