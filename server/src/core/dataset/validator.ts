// DatasetValidator: the editor's incremental validator for one JSONL document. Each line keeps its
// own findings; exact duplicates, near duplicates and the majority format are indexed incrementally
// (an edit removes the old line's entries and adds the new one's), so an edit re-checks only the
// changed lines and the lines that share a hash or an LSH band with them.
import type { Finding } from '../types';
import type { DatasetValidatorOptions } from './context';
import { datasetStats, dedupFinding, mixedFormatFinding } from './crossRecord';
import { BANDS, BINS, KeyFilter, signatureSimilarity, smallKey } from './dedupNear';
import { countRecordText, ExampleTokenCounter, NO_TOKENS } from './exampleTokens';
import type { ExampleCount } from './exampleTokens';
import type { LineMediaRef, MediaRef } from './mediaFiles';
import { RECORD_FORMATS } from './formats';
import type { RecordFormat } from './formats';
import { RecordAnalyzer, hasError } from './record';
import type { LineKind } from './record';
import { emptyFormatCounts, majorityFormat, tokenPercentiles } from './stats';
import type { DatasetStats, TokenPercentiles } from './stats';

export type { DatasetValidatorOptions } from './context';

/** Exact token statistics of a document's records (DatasetValidator.exactTokenStats). */
export interface ExactTokenStats {
  tokens: TokenPercentiles;
  /** 0-based lines of the counted records, and their counts. */
  lines: Uint32Array;
  perLine: Uint32Array;
  /** Records over `limit`. */
  overLimit: number;
  limit: number;
  /** Records the chat template failed on (not counted). */
  templateErrors: number;
}

/** Counts a batch of lines on this thread. */
export function countLinesHere(counter: ExampleTokenCounter): (texts: string[]) => Promise<(ExampleCount | null)[]> {
  return (texts) => Promise.resolve(texts.map((t) => countRecordText(t, counter) ?? null));
}

export interface RecordInfo {
  format?: RecordFormat;
  tokens?: number;
  tokensExact: boolean;
  /** The chat template failed on the record: its message (and no `tokens`). */
  templateError?: string;
  duplicateOf?: number;
  nearDuplicateOf?: { line: number; similarity: number };
}

/** Lines whose signatures one slab holds. */
const SLAB_LINES = 4096;

/**
 * Signatures and band keys of many lines in two typed arrays: a line keeps a slot, not two typed arrays
 * of its own (allocating those per line cost more than computing them).
 */
class KeySlab {
  readonly signatures = new Uint8Array(SLAB_LINES * BINS);
  readonly bandKeys = new Uint32Array(SLAB_LINES * BANDS);
  /** The id of each slot's line, -1 once the line is gone (slots are not reused). */
  readonly ids = new Int32Array(SLAB_LINES);
  used = 0;
  /** Slots whose line is still there. */
  live = 0;
}

/** Line kinds as codes (LineTable.kind). */
const KIND_BLANK = 0;
const KIND_INVALID = 1;
const KIND_RECORD = 2;
const KIND_CODES: Readonly<Record<LineKind, number>> = {
  blank: KIND_BLANK,
  invalid: KIND_INVALID,
  record: KIND_RECORD,
};
/** LineTable.format of a line without a known format (else the format's index in RECORD_FORMATS). */
const NO_FORMAT = 255;

function grownTo<T extends Uint8Array | Uint32Array | Int32Array | Float64Array>(
  a: T,
  n: number,
  make: (n: number) => T,
): T {
  const next = make(n);
  next.set(a);
  return next;
}

/**
 * The state of every line, in columns indexed by the line's id: numbers in typed arrays, the text and
 * the few lines' findings, files and exact counts in plain arrays. Ids are small integers reused once
 * a line goes (`next`, `release`), so the bucket tables and the slabs hold numbers, not pointers.
 *
 * Why columns: an object per line (with its analysis object, its findings list and its boxed 53-bit
 * hash) was some 250 bytes of young objects a line that every young-generation collection copied, and
 * then copied again into the old generation: about 6 ms of the editor path's 62 for 10 MB
 * (`bench/dataset.ts full`; measured with --trace-gc against the stream, which keeps nothing a line).
 * A pointer to a young object stored in an old array also takes the write barrier's slow path: the
 * columns of pointers are made fresh for a whole document (see `reset`).
 */
class LineTable {
  /** Ids handed out so far (the columns have room for at least this many). */
  private count = 0;
  private readonly free: number[] = [];
  texts: (string | undefined)[] = [];
  /** A line's own findings, undefined for none. */
  findings: (Finding[] | undefined)[] = [];
  media: (MediaRef[] | undefined)[] = [];
  /** The exact count in the model's terms, once asked for (hover, statistics); null: not a countable record. */
  exact: (ExampleCount | null | undefined)[] = [];
  /** The slab holding the line's signature and band keys (at `slot`), when the record has them. */
  slabOf: (KeySlab | undefined)[] = [];
  /** Current 0-based line number; kept up to date on every edit. */
  index = new Int32Array(1024);
  /** The line number baked into the line's findings; they are re-based lazily when lines shift. */
  findingsLine = new Int32Array(1024);
  kind = new Uint8Array(1024);
  format = new Uint8Array(1024);
  /** Token estimate, NO_TOKENS for none. */
  tokens = new Uint32Array(1024);
  tokensExact = new Uint8Array(1024);
  /** 53-bit value hash, -1 for none. */
  hash = new Float64Array(1024);
  slot = new Int32Array(1024);
  /** The id of the line's near duplicate, -1 for none, and their similarity. */
  nearOf = new Int32Array(1024);
  nearSim = new Float64Array(1024);

  /** Forgets every line: the whole document is replaced by `lines` lines. */
  reset(lines: number): void {
    this.count = 0;
    this.free.length = 0;
    this.texts = new Array<string | undefined>(lines);
    this.findings = new Array<Finding[] | undefined>(lines);
    this.media = [];
    this.exact = [];
    this.slabOf = new Array<KeySlab | undefined>(lines);
    this.ensure(lines);
  }

  /** A fresh id, its columns cleared. */
  next(): number {
    const reused = this.free.pop();
    const id = reused ?? this.count++;
    if (reused === undefined && id >= this.index.length) this.ensure(id + 1);
    this.nearOf[id] = -1;
    return id;
  }

  /** The line `id` is gone: its id may be handed out again. */
  release(id: number): void {
    this.texts[id] = undefined;
    this.findings[id] = undefined;
    this.media[id] = undefined;
    this.exact[id] = undefined;
    this.slabOf[id] = undefined;
    this.free.push(id);
  }

  private ensure(n: number): void {
    if (n <= this.index.length) return;
    const size = Math.max(n, this.index.length * 2);
    this.index = grownTo(this.index, size, (k) => new Int32Array(k));
    this.findingsLine = grownTo(this.findingsLine, size, (k) => new Int32Array(k));
    this.kind = grownTo(this.kind, size, (k) => new Uint8Array(k));
    this.format = grownTo(this.format, size, (k) => new Uint8Array(k));
    this.tokens = grownTo(this.tokens, size, (k) => new Uint32Array(k));
    this.tokensExact = grownTo(this.tokensExact, size, (k) => new Uint8Array(k));
    this.hash = grownTo(this.hash, size, (k) => new Float64Array(k));
    this.slot = grownTo(this.slot, size, (k) => new Int32Array(k));
    this.nearOf = grownTo(this.nearOf, size, (k) => new Int32Array(k));
    this.nearSim = grownTo(this.nearSim, size, (k) => new Float64Array(k));
  }
}

/** A bucket is one line's id or a list of ids sorted by line; most hold one record, so no array is allocated. */
type Bucket = number | number[];

/**
 * Buckets by 30-bit key (smallKey), for exact hashes and near-duplicate bands: open addressing over key + 1 in an
 * Int32Array, the buckets in a parallel Int32Array: 0 for none, id + 1 for a bucket of one line, -(n + 1) for list
 * n of `lists`. A JavaScript Map cannot be sized beforehand, and growing one key by key cost most of indexing a
 * whole document; this table is sized for it at once. A deleted key keeps its slot with no bucket (set uses it
 * again); growing drops such slots.
 */
class BucketTable {
  private keys: Int32Array;
  private values: Int32Array;
  private mask: number;
  /** Slots holding a key, with or without a bucket. */
  private used = 0;
  private readonly lists: (number[] | undefined)[] = [];
  private readonly freeLists: number[] = [];

  constructor(expected = 0) {
    const slots = 2 ** Math.max(10, Math.ceil(Math.log2((expected * 4) / 3 + 1)));
    this.keys = new Int32Array(slots);
    this.values = new Int32Array(slots);
    this.mask = slots - 1;
  }

  /** The slot of `key`: its own, or the empty one it would take (one probe for a lookup and an insert). */
  find(key: number): number {
    const k = key + 1;
    const keys = this.keys;
    for (let s = Math.imul(k, 0x9e3779b1) & this.mask; ; s = (s + 1) & this.mask) {
      const x = keys[s] as number;
      if (x === k || x === 0) return s;
    }
  }

  get(key: number): Bucket | undefined {
    return this.at(this.find(key));
  }

  /** Room for `n` more keys without growing: after it, `find` and `place` need no check. */
  reserve(n: number): void {
    if ((this.used + n) * 4 > this.keys.length * 3) this.grow(n);
  }

  /** The bucket at a slot `find` gave, undefined for an empty slot (or a deleted key). */
  at(slot: number): Bucket | undefined {
    const v = this.values[slot] as number;
    if (v > 0) return v - 1;
    return v === 0 ? undefined : this.lists[-v - 1];
  }

  /** Puts `bucket` at a slot `find` gave for `key` (after `reserve`). */
  place(slot: number, key: number, bucket: Bucket): void {
    if (this.keys[slot] === 0) {
      this.keys[slot] = key + 1;
      this.used++;
    }
    const old = this.values[slot] as number;
    if (typeof bucket === 'number') {
      this.dropList(old);
      this.values[slot] = bucket + 1;
    } else if (old >= 0 || this.lists[-old - 1] !== bucket) {
      this.dropList(old);
      const n = this.freeLists.pop() ?? this.lists.length;
      this.lists[n] = bucket;
      this.values[slot] = -(n + 1);
    }
  }

  set(key: number, bucket: Bucket): void {
    this.reserve(1);
    this.place(this.find(key), key, bucket);
  }

  delete(key: number): void {
    const slot = this.find(key);
    this.dropList(this.values[slot] as number);
    this.values[slot] = 0;
  }

  private dropList(value: number): void {
    if (value >= 0) return;
    this.lists[-value - 1] = undefined;
    this.freeLists.push(-value - 1);
  }

  private grow(room = 1): void {
    const keys = this.keys;
    const values = this.values;
    let live = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) live++;
    const slots = 2 ** Math.max(10, Math.ceil(Math.log2(((live * 2 + room) * 4) / 3 + 1)));
    this.keys = new Int32Array(slots);
    this.values = new Int32Array(slots);
    this.mask = slots - 1;
    this.used = 0;
    for (let i = 0; i < keys.length; i++) {
      const v = values[i] as number;
      if (v === 0) continue;
      const s = this.find((keys[i] as number) - 1);
      this.keys[s] = keys[i] as number;
      this.values[s] = v;
      this.used++;
    }
  }
}

/**
 * Near-duplicate candidates of a line are the first NEAR_WINDOW lines of each of its LSH buckets (those
 * before it). Templated data can put thousands of records in one bucket; the window keeps a check,
 * and the lines an edit disturbs, bounded. The streaming index applies the same idea (MAX_PER_KEY).
 */
const NEAR_WINDOW = 8;

/** Where a line at `line` goes in bucket `b` (ids sorted by their line in `index`). */
function searchIndex(b: readonly number[], line: number, index: Int32Array): number {
  let lo = 0;
  let hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((index[b[mid] as number] as number) < line) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Adds line `id` in line order (`index`: the lines of ids); returns its position in the bucket. */
function bucketAdd(map: BucketTable, key: number, id: number, index: Int32Array): number {
  const b = map.get(key);
  const line = index[id] as number;
  if (b === undefined) {
    map.set(key, id);
    return 0;
  }
  if (typeof b === 'number') {
    const first = (index[b] as number) < line;
    map.set(key, first ? [b, id] : [id, b]);
    return first ? 1 : 0;
  }
  const last = b[b.length - 1];
  if (last === undefined || (index[last] as number) < line) {
    b.push(id);
    return b.length - 1;
  }
  const at = searchIndex(b, line, index);
  b.splice(at, 0, id);
  return at;
}

/** Removes line `id` (whose line in `index` is still the one it was added with); returns its former position or -1. */
function bucketRemove(map: BucketTable, key: number, id: number, index: Int32Array): number {
  const b = map.get(key);
  if (b === undefined) return -1;
  if (typeof b === 'number') {
    if (b !== id) return -1;
    map.delete(key);
    return 0;
  }
  let at = searchIndex(b, index[id] as number, index);
  if (b[at] !== id) at = b.indexOf(id);
  if (at < 0) return -1;
  b.splice(at, 1);
  if (b.length === 1) map.set(key, b[0] as number);
  else if (b.length === 0) map.delete(key);
  return at;
}

/** Adds to `out` the bucket's lines at positions `from` and later. */
function addFrom(b: Bucket | undefined, from: number, out: Set<number>): void {
  if (b === undefined) return;
  if (typeof b === 'number') {
    if (from === 0) out.add(b);
    return;
  }
  for (let i = from; i < b.length; i++) out.add(b[i] as number);
}

export class DatasetValidator {
  private readonly analyzer: RecordAnalyzer;
  /** Line ids in document order. */
  private order: number[] = [];
  private readonly t = new LineTable();
  private exactGroups = new BucketTable();
  /**
   * Buckets of the band keys that more than one line may hold. Most keys belong to one line, and a table
   * of every key cost a cache miss per key: a key that is not here is held by one line at most, which
   * `filter` tells apart from a key no line ever held. An edit that adds a key the filter has seen finds
   * the key's lines in the slabs first (gatherHolders).
   */
  private nearBuckets = new BucketTable();
  private filter = new KeyFilter(0);
  private readonly formatCounts = emptyFormatCounts();
  private slab = new KeySlab();
  /** Every slab with lines, in the order they were made (a whole document's lines are in line order). */
  private slabs: KeySlab[] = [this.slab];

  constructor(private readonly opts: DatasetValidatorOptions) {
    this.analyzer = new RecordAnalyzer(opts);
  }

  /** For tests: the slabs of keys kept (one a 4,096 lines that have signatures, while any is there). */
  get slabCount(): number {
    return this.slabs.length;
  }

  /** Replace lines [start, start+deleteCount) with `lines` (the whole text on first call: update(0, 0, lines)). */
  update(start: number, deleteCount: number, lines: string[]): void {
    start = Math.max(0, Math.min(start, this.order.length));
    deleteCount = Math.max(0, Math.min(deleteCount, this.order.length - start));
    const whole = start === 0 && deleteCount === this.order.length;
    const added = new Array<number>(lines.length);
    if (whole) {
      // Every line is new: no line's duplicate survives, so every line with a signature is recomputed
      // once all are indexed, and no set of disturbed lines is needed.
      this.t.reset(lines.length);
      this.exactGroups = new BucketTable(lines.length);
      this.slab = new KeySlab();
      this.slabs = [this.slab];
      for (const f of Object.keys(this.formatCounts) as (keyof typeof this.formatCounts)[]) this.formatCounts[f] = 0;
      for (let k = 0; k < lines.length; k++) added[k] = this.analyzeLine(lines[k] as string, k);
      this.order = added;
      for (const id of added) this.index(id, undefined);
      this.nearOfWhole();
      return;
    }
    const t = this.t;
    const dirty = new Set<number>();
    const removed = this.order.slice(start, start + deleteCount);
    // The removed lines' keys: one not in the buckets was held by that line alone (see nearBuckets).
    const freed = new Set<number>();
    let emptied = false;
    for (const id of removed) {
      this.unindex(id, dirty);
      const slab = t.slabOf[id];
      if (!slab) continue;
      const slot = t.slot[id] as number;
      slab.ids[slot] = -1;
      if (--slab.live === 0 && slab !== this.slab) emptied = true;
      for (let b = 0; b < BANDS; b++) freed.add(smallKey(slab.bandKeys[slot * BANDS + b] as number));
    }
    // Edits append slots and never reuse them: a slab whose lines are all gone is let go, so that a long
    // session of edits neither keeps its memory nor makes gatherHolders read it.
    if (emptied) this.slabs = this.slabs.filter((slab) => slab.live > 0 || slab === this.slab);
    // The slots before this mark are the lines that were there before the edit.
    const before = { slabs: this.slabs.length, used: this.slab.used };

    for (let k = 0; k < lines.length; k++) added[k] = this.analyzeLine(lines[k] as string, start + k);
    this.order = this.order.slice(0, start).concat(added, this.order.slice(start + deleteCount));
    for (let i = start + added.length; i < this.order.length; i++) t.index[this.order[i] as number] = i;
    this.gatherHolders(added, before, freed);
    for (const id of added) this.index(id, dirty);
    // Removed ids are handed out again only by a later update, once no line's near duplicate names them.
    for (const id of removed) {
      dirty.delete(id);
      t.release(id);
    }
    for (const id of dirty) this.recomputeNear(id);
  }

  lineCount(): number {
    return this.order.length;
  }

  /** The files records name (media/missing-file), at their current lines. */
  mediaRefs(): LineMediaRef[] {
    const out: LineMediaRef[] = [];
    for (let i = 0; i < this.order.length; i++) {
      const media = this.t.media[this.order[i] as number];
      if (media) for (const ref of media) out.push({ ...ref, line: i });
    }
    return out;
  }

  lineText(line: number): string {
    const id = this.order[line];
    return id === undefined ? '' : (this.t.texts[id] ?? '');
  }

  /** All current findings, ordered by line. */
  findings(): Finding[] {
    const out: Finding[] = [];
    const t = this.t;
    const majority = this.opts.format ? undefined : majorityFormat(this.formatCounts);
    const majorityCode = majority ? RECORD_FORMATS.indexOf(majority) : NO_FORMAT;
    const mixedSeverity = this.opts.severityOf('format/mixed');
    const exactSeverity = this.opts.severityOf('dedup/exact');
    const nearSeverity = this.opts.severityOf('dedup/near');
    const last = this.order.length - 1;
    for (let i = 0; i < this.order.length; i++) {
      const id = this.order[i] as number;
      const own = this.rebase(id, i);
      if (own) {
        for (const f of own) {
          if (i === last && t.texts[id] === '' && f.rule === 'jsonl/blank-line') continue;
          out.push(f);
        }
      }
      const format = t.format[id] as number;
      if (mixedSeverity && majority && format !== NO_FORMAT && format !== majorityCode) {
        const range = { start: { line: i, character: 0 }, end: { line: i, character: (t.texts[id] as string).length } };
        out.push(mixedFormatFinding(mixedSeverity, range, RECORD_FORMATS[format] as RecordFormat, majority));
      }
      this.crossFindings(id, i, exactSeverity, nearSeverity, out);
    }
    return out;
  }

  recordInfo(line: number): RecordInfo | undefined {
    const id = this.order[line];
    const t = this.t;
    if (id === undefined || t.kind[id] !== KIND_RECORD) return undefined;
    const info: RecordInfo = { tokensExact: t.tokensExact[id] === 1 };
    const format = t.format[id] as number;
    if (format !== NO_FORMAT) {
      info.format = RECORD_FORMATS[format];
      // With a tokenizer, the record's exact count in the model's terms (counted once per line version).
      const exact = this.exactCount(line);
      if (exact?.error !== undefined) {
        info.templateError = exact.error;
        info.tokensExact = true;
      } else if (exact) {
        info.tokens = exact.tokens;
        info.tokensExact = exact.exact;
      } else if (t.tokens[id] !== NO_TOKENS) info.tokens = t.tokens[id];
    }
    const first = this.exactFirst(id);
    if (first >= 0) info.duplicateOf = t.index[first];
    else {
      const near = t.nearOf[id] as number;
      if (near >= 0) info.nearDuplicateOf = { line: t.index[near] as number, similarity: t.nearSim[id] as number };
    }
    return info;
  }

  /** The counter of records in the model's terms, when the options carry one with a tokenizer. */
  private exactCounter(): ExampleTokenCounter | undefined {
    const counter = this.opts.tokenCounter;
    return counter instanceof ExampleTokenCounter && counter.exact ? counter : undefined;
  }

  /**
   * The exact count of the record on `line` (rendered and encoded), computed once per version of the
   * line; undefined without a tokenizer, null for a line that is not a record the contract accepts.
   */
  exactCount(line: number): ExampleCount | null | undefined {
    const id = this.order[line];
    const counter = this.exactCounter();
    if (id === undefined || !counter) return undefined;
    const t = this.t;
    if (t.exact[id] === undefined)
      t.exact[id] = t.format[id] !== NO_FORMAT ? (countRecordText(t.texts[id] as string, counter) ?? null) : null;
    return t.exact[id];
  }

  /**
   * Exact token statistics of every record, in the background: lines without a count yet are counted
   * in batches by `countBatch` (on this thread, or on worker threads), with a pause between batches so
   * other requests are answered, and `onProgress` after each. Counts are kept per line, so after an
   * edit only the changed lines are counted again. Undefined without a tokenizer.
   */
  async exactTokenStats(
    countBatch: (texts: string[]) => Promise<(ExampleCount | null)[]>,
    onProgress?: (done: number, total: number) => void,
    batchLines = 512,
  ): Promise<ExactTokenStats | undefined> {
    if (!this.exactCounter()) return undefined;
    const t = this.t;
    // Lines edited while a batch is out are new lines without a count: go round until none is left.
    for (let round = 0; round < 100; round++) {
      const pending = this.order.filter((id) => t.exact[id] === undefined && t.format[id] !== NO_FORMAT);
      if (pending.length === 0) break;
      let done = 0;
      for (let i = 0; i < pending.length; i += batchLines) {
        const batch = pending.slice(i, i + batchLines);
        const texts = batch.map((id) => t.texts[id] as string);
        const counts = await countBatch(texts);
        // A line removed meanwhile may have given its id to another: a count is kept only for its text.
        batch.forEach((id, k) => {
          if (t.texts[id] === texts[k] && t.exact[id] === undefined) t.exact[id] = counts[k] ?? null;
        });
        done += batch.length;
        onProgress?.(done, pending.length);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
    const tokens: number[] = [];
    const lines: number[] = [];
    let templateErrors = 0;
    let overLimit = 0;
    for (let i = 0; i < this.order.length; i++) {
      const count = t.exact[this.order[i] as number];
      if (!count) continue;
      if (count.error !== undefined) {
        templateErrors++;
        continue;
      }
      tokens.push(count.tokens);
      lines.push(i);
      if (count.tokens > this.opts.maxTokens) overLimit++;
    }
    const perLine = Uint32Array.from(tokens);
    return {
      tokens: tokenPercentiles(tokens, true),
      lines: Uint32Array.from(lines),
      perLine,
      overLimit,
      limit: this.opts.maxTokens,
      templateErrors,
    };
  }

  stats(): DatasetStats {
    const t = this.t;
    const findingsByRule: Record<string, number> = {};
    const tokens: number[] = [];
    let blank = 0;
    let invalid = 0;
    let unknownFormat = 0;
    let exactDuplicates = 0;
    let nearDuplicates = 0;
    let accepted = 0;
    let allExact = true;
    const findingsByLine = new Map<number, Finding[]>();
    for (const f of this.findings()) {
      findingsByRule[f.rule] = (findingsByRule[f.rule] ?? 0) + 1;
      const list = findingsByLine.get(f.range.start.line);
      if (list) list.push(f);
      else findingsByLine.set(f.range.start.line, [f]);
    }
    const last = this.order.length - 1;
    const lastIsEmpty = last >= 0 && t.texts[this.order[last] as number] === '';
    for (let i = 0; i < this.order.length; i++) {
      const id = this.order[i] as number;
      const kind = t.kind[id] as number;
      if (kind === KIND_BLANK) {
        if (!(i === last && lastIsEmpty)) blank++;
        continue;
      }
      if (kind === KIND_INVALID) invalid++;
      else if (t.format[id] === NO_FORMAT) unknownFormat++;
      else if (t.tokens[id] !== NO_TOKENS) {
        tokens.push(t.tokens[id] as number);
        allExact &&= t.tokensExact[id] === 1;
      }
      if (this.exactFirst(id) >= 0) exactDuplicates++;
      else if ((t.nearOf[id] as number) >= 0) nearDuplicates++;
      if (!hasError(findingsByLine.get(i) ?? [])) accepted++;
    }
    return datasetStats({
      lines: this.order.length,
      records: this.order.length - blank - (lastIsEmpty ? 1 : 0),
      blank,
      invalid,
      formatCounts: this.formatCounts,
      unknownFormat,
      exactDuplicates,
      nearDuplicates,
      tokens,
      tokensExact: allExact,
      findingsByRule,
      accepted,
    });
  }

  /** Analyses `text` as line `index` into a fresh id's columns; returns the id. */
  private analyzeLine(text: string, index: number): number {
    // The signature and band keys are written straight into the slab's next slot (taken only when the
    // line has them); a full slab's successor is made only for a line that has them.
    const hasher = this.analyzer.hasher;
    const direct = this.slab.used < SLAB_LINES;
    if (direct) {
      const slot = this.slab.used;
      hasher.writeInto(this.slab.signatures, slot * BINS, this.slab.bandKeys, slot * BANDS);
    }
    const a = this.analyzer.analyze(text, index);
    if (direct) hasher.writeInto();
    const t = this.t;
    const id = t.next();
    t.texts[id] = text;
    t.index[id] = index;
    t.findingsLine[id] = index;
    if (a.findings.length > 0) t.findings[id] = a.findings;
    if (a.media) t.media[id] = a.media;
    t.kind[id] = KIND_CODES[a.kind];
    t.format[id] = a.format ? RECORD_FORMATS.indexOf(a.format) : NO_FORMAT;
    t.tokens[id] = a.tokens;
    t.tokensExact[id] = a.tokensExact ? 1 : 0;
    t.hash[id] = a.valueHash;
    if (a.hasSignature) {
      if (!direct) {
        this.slab = new KeySlab();
        this.slabs.push(this.slab);
        this.slab.signatures.set(hasher.signature);
        this.slab.bandKeys.set(hasher.bandKeys);
      }
      const slab = this.slab;
      const slot = slab.used++;
      t.slabOf[id] = slab;
      t.slot[id] = slot;
      slab.live++;
      slab.ids[slot] = id;
    }
    return id;
  }

  /**
   * Indexes line `id` by format and value, and by its bands after an edit (a whole document's bands are
   * indexed by nearOfWhole, `dirty` undefined); `dirty` gathers the lines whose near duplicate may change.
   */
  private index(id: number, dirty: Set<number> | undefined): void {
    const t = this.t;
    const format = t.format[id] as number;
    if (format !== NO_FORMAT) this.formatCounts[RECORD_FORMATS[format] as RecordFormat]++;
    const hash = t.hash[id] as number;
    if (hash >= 0) bucketAdd(this.exactGroups, smallKey(hash), id, t.index);
    const slab = t.slabOf[id];
    if (!slab || !dirty) return;
    const buckets = this.nearBuckets;
    const keys = slab.bandKeys;
    const base = (t.slot[id] as number) * BANDS;
    for (let b = 0; b < BANDS; b++) {
      const key = smallKey(keys[base + b] as number);
      this.filter.mark(key);
      const at = bucketAdd(buckets, key, id, t.index);
      if (at < NEAR_WINDOW) addFrom(buckets.get(key), at + 1, dirty);
    }
    dirty.add(id);
  }

  /**
   * Before `added` is indexed: puts in the buckets the lines already there (slots before `before`) that
   * hold a key of `added` the buckets lack but the filter has seen, in one pass over the slabs. A key of
   * `freed` (the removed lines') the buckets lack is held by no line now: an edited line keeps most of
   * its keys, and they need no pass.
   */
  private gatherHolders(
    added: readonly number[],
    before: { slabs: number; used: number },
    freed: ReadonlySet<number>,
  ): void {
    if (this.filter.full) this.regrowFilter(before);
    const t = this.t;
    const wanted = new Map<number, number[]>();
    for (const id of added) {
      const slab = t.slabOf[id];
      if (!slab) continue;
      const base = (t.slot[id] as number) * BANDS;
      for (let b = 0; b < BANDS; b++) {
        const key = smallKey(slab.bandKeys[base + b] as number);
        if (freed.has(key) || wanted.has(key) || !this.filter.mayHave(key)) continue;
        if (this.nearBuckets.get(key) !== undefined) continue;
        wanted.set(key, []);
      }
    }
    if (wanted.size === 0) return;
    const quick = new KeyFilter(wanted.size);
    for (const key of wanted.keys()) quick.mark(key);
    for (let i = 0; i < before.slabs; i++) {
      const slab = this.slabs[i] as KeySlab;
      this.holdersIn(slab, i === before.slabs - 1 ? before.used : slab.used, quick, wanted);
    }
    for (const [key, holders] of wanted) for (const id of holders) bucketAdd(this.nearBuckets, key, id, t.index);
  }

  /** Adds to `wanted` the live lines of the first `used` slots of `slab` holding a key it lists. */
  private holdersIn(slab: KeySlab, used: number, quick: KeyFilter, wanted: Map<number, number[]>): void {
    const keys = slab.bandKeys;
    for (let slot = 0; slot < used; slot++) {
      if (!quick.anyIn(keys, slot * BANDS, BANDS)) continue;
      const id = slab.ids[slot] as number;
      if (id < 0) continue;
      for (let b = 0; b < BANDS; b++) wanted.get(smallKey(keys[slot * BANDS + b] as number))?.push(id);
    }
  }

  /** A filter sized for every key now held, marked from the slabs (slots before `before`). */
  private regrowFilter(before: { slabs: number; used: number }): void {
    let keys = 0;
    for (const slab of this.slabs) keys += slab.used * BANDS;
    const filter = new KeyFilter(keys);
    for (let i = 0; i < before.slabs; i++) {
      const slab = this.slabs[i] as KeySlab;
      const used = i === before.slabs - 1 ? before.used : slab.used;
      for (let slot = 0; slot < used; slot++) {
        if ((slab.ids[slot] as number) < 0) continue;
        for (let b = 0; b < BANDS; b++) filter.mark(smallKey(slab.bandKeys[slot * BANDS + b] as number));
      }
    }
    this.filter = filter;
  }

  /**
   * The near duplicate of every line of a whole document. Most band keys belong to one line only: a
   * pass over the slabs marks every key in the filter and, in a second filter, the keys whose bit was
   * already set (seen twice, or sharing a bit with another); only those go into buckets, in line order,
   * so that a bucket holds exactly the earlier lines `recomputeNear` would take as candidates.
   */
  private nearOfWhole(): void {
    // The passes read the slabs' keys in order, a slab at a time: a loop over lines reading each
    // line's keys took four times as long.
    let keys = 0;
    for (const slab of this.slabs) keys += slab.used * BANDS;
    this.filter = new KeyFilter(keys);
    const twice = new KeyFilter(keys);
    let shared = 0;
    for (const slab of this.slabs) shared += this.filter.markAll(slab.bandKeys, slab.used * BANDS, twice);
    this.nearBuckets = new BucketTable(shared);
    if (shared === 0) return;
    for (const slab of this.slabs) this.nearOfSlab(slab, twice);
  }

  /** nearInOrder for every line of `slab` (in line order) that has a key `twice` holds. */
  private nearOfSlab(slab: KeySlab, twice: KeyFilter): void {
    const keys = slab.bandKeys;
    for (let slot = 0; slot < slab.used; slot++)
      if (twice.anyIn(keys, slot * BANDS, BANDS)) this.nearInOrder(slab.ids[slot] as number, slab, slot, twice);
  }

  /**
   * Adds the bands of line `id` (slot `slot` of `slab`) that `twice` holds to the buckets and sets its near
   * duplicate from the lines already there: for lines added in line order, a bucket holds only earlier
   * lines, which are the candidates `recomputeNear` would take from it.
   */
  private nearInOrder(id: number, slab: KeySlab, slot: number, twice: KeyFilter): void {
    const t = this.t;
    const index = t.index;
    const buckets = this.nearBuckets;
    const keys = slab.bandKeys;
    const base = slot * BANDS;
    const sig = slab.signatures;
    const at = slot * BINS;
    const threshold = this.opts.nearThreshold;
    let best = -1;
    let bestSim = 0;
    buckets.reserve(BANDS);
    for (let b = 0; b < BANDS; b++) {
      const key = smallKey(keys[base + b] as number);
      if (!twice.mayHave(key)) continue;
      const s = buckets.find(key);
      const bucket = buckets.at(s);
      if (bucket === undefined) {
        buckets.place(s, key, id);
        continue;
      }
      if (typeof bucket === 'number') {
        // An earlier line, or this one (two bands of one record with the same key).
        if (bucket !== id && (best < 0 || (index[bucket] as number) < (index[best] as number))) {
          const sim = this.similarity(sig, at, bucket);
          if (sim >= threshold) {
            best = bucket;
            bestSim = sim;
          }
        }
        buckets.place(s, key, [bucket, id]);
        continue;
      }
      for (let k = 0; k < bucket.length && k < NEAR_WINDOW; k++) {
        const other = bucket[k] as number;
        if (other === id || (best >= 0 && (index[other] as number) >= (index[best] as number))) break;
        const sim = this.similarity(sig, at, other);
        if (sim >= threshold) {
          best = other;
          bestSim = sim;
          break;
        }
      }
      bucket.push(id);
    }
    if (best >= 0) {
      t.nearOf[id] = best;
      t.nearSim[id] = bestSim;
    }
  }

  /** The similarity of the signature at `at` in `sig` and line `other`'s (which has one). */
  private similarity(sig: Uint8Array, at: number, other: number): number {
    const slab = this.t.slabOf[other] as KeySlab;
    return signatureSimilarity(sig, at, slab.signatures, (this.t.slot[other] as number) * BINS);
  }

  private unindex(id: number, dirty: Set<number>): void {
    const t = this.t;
    const format = t.format[id] as number;
    if (format !== NO_FORMAT) this.formatCounts[RECORD_FORMATS[format] as RecordFormat]--;
    const hash = t.hash[id] as number;
    if (hash >= 0) bucketRemove(this.exactGroups, smallKey(hash), id, t.index);
    const slab = t.slabOf[id];
    if (slab) {
      const base = (t.slot[id] as number) * BANDS;
      for (let b = 0; b < BANDS; b++) {
        const key = smallKey(slab.bandKeys[base + b] as number);
        const at = bucketRemove(this.nearBuckets, key, id, t.index);
        if (at >= 0 && at < NEAR_WINDOW) addFrom(this.nearBuckets.get(key), at, dirty);
      }
    }
  }

  /** The earliest line within the bucket windows of line `id` that is at least as similar as the threshold. */
  private recomputeNear(id: number): void {
    const t = this.t;
    t.nearOf[id] = -1;
    const slab = t.slabOf[id];
    if (!slab) return;
    const index = t.index;
    const line = index[id] as number;
    const sig = slab.signatures;
    const at = (t.slot[id] as number) * BINS;
    const keyBase = (t.slot[id] as number) * BANDS;
    const threshold = this.opts.nearThreshold;
    let best = -1;
    let bestSim = 0;
    for (let b = 0; b < BANDS; b++) {
      const bucket = this.nearBuckets.get(smallKey(slab.bandKeys[keyBase + b] as number));
      if (bucket === undefined) continue;
      if (typeof bucket === 'number') {
        // A bucket of one is this line itself, or an earlier or later line.
        const other = index[bucket] as number;
        if (bucket === id || other >= line || (best >= 0 && other >= (index[best] as number)) || !t.slabOf[bucket])
          continue;
        const sim = this.similarity(sig, at, bucket);
        if (sim >= threshold) {
          best = bucket;
          bestSim = sim;
        }
        continue;
      }
      for (let k = 0; k < bucket.length && k < NEAR_WINDOW; k++) {
        const other = bucket[k] as number;
        const otherLine = index[other] as number;
        if (otherLine >= line || (best >= 0 && otherLine >= (index[best] as number))) break;
        if (!t.slabOf[other]) continue;
        const sim = this.similarity(sig, at, other);
        if (sim >= threshold) {
          best = other;
          bestSim = sim;
          break;
        }
      }
    }
    if (best >= 0) {
      t.nearOf[id] = best;
      t.nearSim[id] = bestSim;
    }
  }

  /**
   * The first line with the same value as line `id`, if it is not that line itself; -1 for none. Groups
   * are keyed by 30 bits of the 53-bit hash (small-integer keys are fast); members are compared on the
   * whole hash.
   */
  private exactFirst(id: number): number {
    const t = this.t;
    const hash = t.hash[id] as number;
    if (hash < 0) return -1;
    const group = this.exactGroups.get(smallKey(hash));
    if (group === undefined || group === id) return -1;
    if (typeof group === 'number') return t.hash[group] === hash ? group : -1;
    for (const other of group) {
      if (t.hash[other] === hash) return other === id ? -1 : other;
    }
    return -1;
  }

  private crossFindings(
    id: number,
    line: number,
    exactSeverity: Finding['severity'] | undefined,
    nearSeverity: Finding['severity'] | undefined,
    out: Finding[],
  ): void {
    const t = this.t;
    const near = t.nearOf[id] as number;
    if (!exactSeverity && !(nearSeverity && near >= 0)) return;
    const length = (t.texts[id] as string).length;
    const first = this.exactFirst(id);
    if (first >= 0) {
      if (exactSeverity)
        out.push(dedupFinding('dedup/exact', exactSeverity, line, length, t.index[first] as number, undefined));
      return;
    }
    if (nearSeverity && near >= 0) {
      out.push(dedupFinding('dedup/near', nearSeverity, line, length, t.index[near] as number, t.nearSim[id]));
    }
  }

  /** Line `id`'s own findings, re-based to `line` when lines moved since they were made. */
  private rebase(id: number, line: number): Finding[] | undefined {
    const t = this.t;
    const findings = t.findings[id];
    if (!findings || t.findingsLine[id] === line) return findings;
    const moved = findings.map((f) => ({
      ...f,
      range: {
        start: { line, character: f.range.start.character },
        end: { line, character: f.range.end.character },
      },
    }));
    t.findings[id] = moved;
    t.findingsLine[id] = line;
    return moved;
  }
}

export { dedupFinding, mixedFormatMessage } from './crossRecord';
