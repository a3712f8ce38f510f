// DatasetValidator: the editor's incremental validator for one JSONL document. Each line keeps its
// own findings; exact duplicates, near duplicates and the majority format are indexed incrementally
// (an edit removes the old line's entries and adds the new one's), so an edit re-checks only the
// changed lines and the lines that share a hash or an LSH band with them.
import type { Finding } from '../types';
import type { DatasetValidatorOptions } from './context';
import { datasetStats, dedupFinding, mixedFormatFinding } from './crossRecord';
import { BANDS, BINS, signatureSimilarity } from './dedupNear';
import { countRecordText, ExampleTokenCounter, NO_TOKENS } from './exampleTokens';
import type { ExampleCount } from './exampleTokens';
import type { LineMediaRef } from './mediaFiles';
import type { RecordFormat } from './formats';
import { RecordAnalyzer, hasError } from './record';
import type { LineAnalysis } from './record';
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
  /** The LineIds id of each slot's line, -1 once the line is gone (slots are not reused). */
  readonly ids = new Int32Array(SLAB_LINES);
  used = 0;
  /** Slots whose line is still there. */
  live = 0;
}

class LineState {
  /** Current 0-based line number; kept up to date on every edit. */
  index: number;
  /** The line number baked into `findings`; they are re-based lazily when lines shift. */
  findingsLine: number;
  findings: Finding[];
  /** Where the near-duplicate signature and band keys are kept (slot `slot` of `slab`), when the record has them. */
  slab: KeySlab | undefined;
  slot = 0;
  near: { of: LineState; similarity: number } | undefined;
  /** The exact count in the model's terms, once asked for (hover, statistics); null: not a countable record. */
  exact: ExampleCount | null | undefined;

  constructor(
    readonly text: string,
    readonly analysis: LineAnalysis,
    index: number,
    /** This state's number in its validator's LineIds, while the line lives. */
    readonly id: number,
  ) {
    this.index = index;
    this.findingsLine = index;
    this.findings = analysis.findings;
  }
}

/**
 * Small-integer ids of the live line states, reused when a line goes: the bucket tables and the slabs
 * hold numbers rather than pointers. A pointer to a young object stored in a large (old) array takes
 * the write barrier's slow path and a remembered-set entry that every young collection then visits:
 * 115,000 such stores took 4 to 15 times as long as storing numbers.
 */
class LineIds {
  private states: (LineState | undefined)[] = [];
  private readonly free: number[] = [];

  /** Forgets every id (the whole document is replaced). */
  reset(): void {
    this.states = [];
    this.free.length = 0;
  }

  next(): number {
    return this.free.pop() ?? this.states.length;
  }

  set(st: LineState): void {
    this.states[st.id] = st;
  }

  release(st: LineState): void {
    if (this.states[st.id] !== st) return;
    this.states[st.id] = undefined;
    this.free.push(st.id);
  }

  get(id: number): LineState {
    return this.states[id] as LineState;
  }
}

/** A bucket is one state or a list sorted by line; most hold one record, so no array is allocated. */
type Bucket = LineState | LineState[];

/**
 * Buckets by 30-bit key (smallKey), for exact hashes and near-duplicate bands: open addressing over key + 1 in an
 * Int32Array, the buckets in a parallel Int32Array: 0 for none, id + 1 for a bucket of one line (LineIds), -(n + 1)
 * for list n of `lists`. A JavaScript Map cannot be sized beforehand, and growing one key by key cost most of
 * indexing a whole document; this table is sized for it at once. A deleted key keeps its slot with no bucket
 * (set uses it again); growing drops such slots.
 */
class BucketTable {
  private keys: Int32Array;
  private values: Int32Array;
  private mask: number;
  /** Slots holding a key, with or without a bucket. */
  private used = 0;
  private readonly lists: (LineState[] | undefined)[] = [];
  private readonly freeLists: number[] = [];

  constructor(
    private readonly ids: LineIds,
    expected = 0,
  ) {
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
    if (v > 0) return this.ids.get(v - 1);
    return v === 0 ? undefined : this.lists[-v - 1];
  }

  /** Puts `bucket` at a slot `find` gave for `key` (after `reserve`). */
  place(slot: number, key: number, bucket: Bucket): void {
    if (this.keys[slot] === 0) {
      this.keys[slot] = key + 1;
      this.used++;
    }
    const old = this.values[slot] as number;
    if (!Array.isArray(bucket)) {
      this.dropList(old);
      this.values[slot] = bucket.id + 1;
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

function searchIndex(b: LineState[], index: number): number {
  let lo = 0;
  let hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((b[mid] as LineState).index < index) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Adds `st` in line order; returns its position in the bucket. */
function bucketAdd(map: BucketTable, key: number, st: LineState): number {
  const b = map.get(key);
  if (b === undefined) {
    map.set(key, st);
    return 0;
  }
  if (!Array.isArray(b)) {
    map.set(key, b.index < st.index ? [b, st] : [st, b]);
    return b.index < st.index ? 1 : 0;
  }
  const last = b[b.length - 1];
  if (!last || last.index < st.index) {
    b.push(st);
    return b.length - 1;
  }
  const at = searchIndex(b, st.index);
  b.splice(at, 0, st);
  return at;
}

/** Removes `st` (whose index is still the one it was added with); returns its former position or -1. */
function bucketRemove(map: BucketTable, key: number, st: LineState): number {
  const b = map.get(key);
  if (b === undefined) return -1;
  if (!Array.isArray(b)) {
    if (b !== st) return -1;
    map.delete(key);
    return 0;
  }
  let at = searchIndex(b, st.index);
  if (b[at] !== st) at = b.indexOf(st);
  if (at < 0) return -1;
  b.splice(at, 1);
  if (b.length === 1) map.set(key, b[0] as LineState);
  else if (b.length === 0) map.delete(key);
  return at;
}

/** Hashes as small integers, which V8 hashes fastest; a rare merge of two buckets is harmless. */
function smallKey(key: number): number {
  return key & 0x3fffffff;
}

/** Calls `fn` for the bucket's lines at positions `from` and later. */
function forEachFrom(b: Bucket | undefined, from: number, fn: (st: LineState) => void): void {
  if (b === undefined) return;
  if (!Array.isArray(b)) {
    if (from === 0) fn(b);
    return;
  }
  for (let i = from; i < b.length; i++) fn(b[i] as LineState);
}

/** The largest KeyFilter, in bits (log 2). */
const MAX_FILTER_LOG = 23;
/** The two multipliers of KeyFilter's bits. */
const H1 = 0x9e3779b1;
const H2 = 0x85ebca77;

/**
 * Two bits per band key (a Bloom filter), set once a line held the key: a key with a clear bit was never
 * held by any line; with both set, it may have been (about 1.4% of the keys never held, at the size it is
 * made for). Sized for the keys it will hold (16 bits a key, at most 2^23 bits: 1 MB, for 500,000 keys), and
 * grown when they outnumber that.
 */
class KeyFilter {
  private readonly bits: Int32Array;
  private readonly shift: number;
  /** Keys marked (with repeats). */
  private marked = 0;

  constructor(keys: number) {
    const log = Math.min(MAX_FILTER_LOG, Math.max(10, Math.ceil(Math.log2(keys * 16 + 1))));
    this.bits = new Int32Array(1 << (log - 5));
    this.shift = 32 - log;
  }

  mark(key: number): void {
    const h = Math.imul(key, H1) >>> this.shift;
    const g = Math.imul(key, H2) >>> this.shift;
    this.bits[h >>> 5] = (this.bits[h >>> 5] as number) | (1 << (h & 31));
    this.bits[g >>> 5] = (this.bits[g >>> 5] as number) | (1 << (g & 31));
    this.marked++;
  }

  /**
   * Marks the first `n` keys of `keys` (smallKey of each); those marked already (or whose two bits other
   * keys set) are marked in `twice` too. Returns how many those were.
   */
  markAll(keys: Uint32Array, n: number, twice: KeyFilter): number {
    const bits = this.bits;
    const shift = this.shift;
    let repeats = 0;
    for (let i = 0; i < n; i++) {
      const key = smallKey(keys[i] as number);
      const h = Math.imul(key, H1) >>> shift;
      const g = Math.imul(key, H2) >>> shift;
      const hw = bits[h >>> 5] as number;
      const hb = 1 << (h & 31);
      const gw = bits[g >>> 5] as number;
      const gb = 1 << (g & 31);
      if (hw & hb && gw & gb) {
        twice.mark(key);
        repeats++;
      } else {
        bits[h >>> 5] = hw | hb;
        bits[g >>> 5] = (bits[g >>> 5] as number) | gb;
      }
    }
    this.marked += n;
    return repeats;
  }

  mayHave(key: number): boolean {
    const h = Math.imul(key, H1) >>> this.shift;
    const g = Math.imul(key, H2) >>> this.shift;
    return ((this.bits[h >>> 5] as number) & (1 << (h & 31)) && (this.bits[g >>> 5] as number) & (1 << (g & 31))) !== 0;
  }

  /** Whether any of the `n` keys of `keys` from `start` (smallKey of each) may have been marked. */
  anyIn(keys: Uint32Array, start: number, n: number): boolean {
    const bits = this.bits;
    const shift = this.shift;
    for (let i = start; i < start + n; i++) {
      const key = smallKey(keys[i] as number);
      const h = Math.imul(key, H1) >>> shift;
      const g = Math.imul(key, H2) >>> shift;
      if ((bits[h >>> 5] as number) & (1 << (h & 31)) && (bits[g >>> 5] as number) & (1 << (g & 31))) return true;
    }
    return false;
  }

  /** More keys than it was sized for: most bits are set, and most lookups would say "maybe". */
  get full(): boolean {
    return this.marked * 8 > this.bits.length * 32 && this.bits.length < 1 << (MAX_FILTER_LOG - 5);
  }
}

export class DatasetValidator {
  private readonly analyzer: RecordAnalyzer;
  private lines: LineState[] = [];
  private readonly ids = new LineIds();
  private exactGroups = new BucketTable(this.ids);
  /**
   * Buckets of the band keys that more than one line may hold. Most keys belong to one line, and a table
   * of every key cost a cache miss per key: a key that is not here is held by one line at most, which
   * `filter` tells apart from a key no line ever held. An edit that adds a key the filter has seen finds
   * the key's lines in the slabs first (gatherHolders).
   */
  private nearBuckets = new BucketTable(this.ids);
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
    start = Math.max(0, Math.min(start, this.lines.length));
    deleteCount = Math.max(0, Math.min(deleteCount, this.lines.length - start));
    const whole = start === 0 && deleteCount === this.lines.length;
    const added = new Array<LineState>(lines.length);
    if (whole) {
      // Every line is new: no line's duplicate survives, so every line with a signature is recomputed
      // once all are indexed, and no set of disturbed lines is needed.
      this.ids.reset();
      this.exactGroups = new BucketTable(this.ids, lines.length);
      this.slab = new KeySlab();
      this.slabs = [this.slab];
      for (const f of Object.keys(this.formatCounts) as (keyof typeof this.formatCounts)[]) this.formatCounts[f] = 0;
      for (let k = 0; k < lines.length; k++) added[k] = this.analyzeLine(lines[k] as string, k);
      this.lines = added;
      for (const st of added) this.index(st, undefined);
      this.nearOfWhole();
      return;
    }
    const dirty = new Set<LineState>();
    const removed = this.lines.slice(start, start + deleteCount);
    // The removed lines' keys: one not in the buckets was held by that line alone (see nearBuckets).
    const freed = new Set<number>();
    let emptied = false;
    for (const st of removed) {
      this.unindex(st, dirty);
      const slab = st.slab;
      if (!slab) continue;
      slab.ids[st.slot] = -1;
      if (--slab.live === 0 && slab !== this.slab) emptied = true;
      for (let b = 0; b < BANDS; b++) freed.add(smallKey(slab.bandKeys[st.slot * BANDS + b] as number));
    }
    // Edits append slots and never reuse them: a slab whose lines are all gone is let go, so that a long
    // session of edits neither keeps its memory nor makes gatherHolders read it.
    if (emptied) this.slabs = this.slabs.filter((slab) => slab.live > 0 || slab === this.slab);
    // The slots before this mark are the lines that were there before the edit.
    const before = { slabs: this.slabs.length, used: this.slab.used };

    for (let k = 0; k < lines.length; k++) added[k] = this.analyzeLine(lines[k] as string, start + k);
    this.lines = this.lines.slice(0, start).concat(added, this.lines.slice(start + deleteCount));
    for (let i = start + added.length; i < this.lines.length; i++) {
      const st = this.lines[i];
      if (st) st.index = i;
    }
    this.gatherHolders(added, before, freed);
    for (const st of added) this.index(st, dirty);
    for (const st of removed) {
      dirty.delete(st);
      this.ids.release(st);
    }
    for (const st of dirty) this.recomputeNear(st);
  }

  lineCount(): number {
    return this.lines.length;
  }

  /** The files records name (media/missing-file), at their current lines. */
  mediaRefs(): LineMediaRef[] {
    const out: LineMediaRef[] = [];
    for (let i = 0; i < this.lines.length; i++) {
      const media = this.lines[i]?.analysis.media;
      if (media) for (const ref of media) out.push({ ...ref, line: i });
    }
    return out;
  }

  lineText(line: number): string {
    return this.lines[line]?.text ?? '';
  }

  /** All current findings, ordered by line. */
  findings(): Finding[] {
    const out: Finding[] = [];
    const majority = this.opts.format ? undefined : majorityFormat(this.formatCounts);
    const mixedSeverity = this.opts.severityOf('format/mixed');
    const exactSeverity = this.opts.severityOf('dedup/exact');
    const nearSeverity = this.opts.severityOf('dedup/near');
    const last = this.lines.length - 1;
    for (let i = 0; i < this.lines.length; i++) {
      const st = this.lines[i];
      if (!st) continue;
      this.rebase(st, i);
      for (const f of st.findings) {
        if (i === last && st.text === '' && f.rule === 'jsonl/blank-line') continue;
        out.push(f);
      }
      const format = st.analysis.format;
      if (mixedSeverity && majority && format && format !== majority) {
        const range = { start: { line: i, character: 0 }, end: { line: i, character: st.text.length } };
        out.push(mixedFormatFinding(mixedSeverity, range, format, majority));
      }
      this.crossFindings(st, exactSeverity, nearSeverity, out);
    }
    return out;
  }

  recordInfo(line: number): RecordInfo | undefined {
    const st = this.lines[line];
    if (!st || st.analysis.kind !== 'record') return undefined;
    const info: RecordInfo = { tokensExact: st.analysis.tokensExact };
    if (st.analysis.format) {
      info.format = st.analysis.format;
      // With a tokenizer, the record's exact count in the model's terms (counted once per line version).
      const exact = this.exactCount(line);
      if (exact?.error !== undefined) {
        info.templateError = exact.error;
        info.tokensExact = true;
      } else if (exact) {
        info.tokens = exact.tokens;
        info.tokensExact = exact.exact;
      } else if (st.analysis.tokens !== NO_TOKENS) info.tokens = st.analysis.tokens;
    }
    const first = this.exactFirst(st);
    if (first) info.duplicateOf = first.index;
    else if (st.near) info.nearDuplicateOf = { line: st.near.of.index, similarity: st.near.similarity };
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
    const st = this.lines[line];
    const counter = this.exactCounter();
    if (!st || !counter) return undefined;
    if (st.exact === undefined) st.exact = st.analysis.format ? (countRecordText(st.text, counter) ?? null) : null;
    return st.exact;
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
    // Lines edited while a batch is out are new LineStates without a count: go round until none is left.
    for (let round = 0; round < 100; round++) {
      const pending = this.lines.filter((st) => st.exact === undefined && st.analysis.format !== undefined);
      if (pending.length === 0) break;
      let done = 0;
      for (let i = 0; i < pending.length; i += batchLines) {
        const batch = pending.slice(i, i + batchLines);
        const counts = await countBatch(batch.map((st) => st.text));
        batch.forEach((st, k) => (st.exact = counts[k] ?? null));
        done += batch.length;
        onProgress?.(done, pending.length);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
    const tokens: number[] = [];
    const lines: number[] = [];
    let templateErrors = 0;
    let overLimit = 0;
    for (let i = 0; i < this.lines.length; i++) {
      const count = this.lines[i]?.exact;
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
    const last = this.lines.length - 1;
    for (let i = 0; i < this.lines.length; i++) {
      const st = this.lines[i];
      if (!st) continue;
      const a = st.analysis;
      if (a.kind === 'blank') {
        if (!(i === last && st.text === '')) blank++;
        continue;
      }
      if (a.kind === 'invalid') invalid++;
      else if (!a.format) unknownFormat++;
      else if (a.tokens !== NO_TOKENS) {
        tokens.push(a.tokens);
        allExact &&= a.tokensExact;
      }
      if (this.exactFirst(st)) exactDuplicates++;
      else if (st.near) nearDuplicates++;
      if (!hasError(findingsByLine.get(i) ?? [])) accepted++;
    }
    return datasetStats({
      lines: this.lines.length,
      records: this.lines.length - blank - (last >= 0 && this.lines[last]?.text === '' ? 1 : 0),
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

  private analyzeLine(text: string, index: number): LineState {
    const analysis = this.analyzer.analyze(text, index);
    const st = new LineState(text, analysis, index, this.ids.next());
    this.ids.set(st);
    if (analysis.hasSignature) {
      if (this.slab.used === SLAB_LINES) {
        this.slab = new KeySlab();
        this.slabs.push(this.slab);
      }
      const slab = this.slab;
      st.slab = slab;
      st.slot = slab.used++;
      slab.live++;
      slab.ids[st.slot] = st.id;
      slab.signatures.set(this.analyzer.hasher.signature, st.slot * BINS);
      slab.bandKeys.set(this.analyzer.hasher.bandKeys, st.slot * BANDS);
    }
    return st;
  }

  /**
   * Indexes `st` by format and value, and by its bands after an edit (a whole document's bands are
   * indexed by nearOfWhole, `dirty` undefined); `dirty` gathers the lines whose near duplicate may change.
   */
  private index(st: LineState, dirty: Set<LineState> | undefined): void {
    const a = st.analysis;
    if (a.format) this.formatCounts[a.format]++;
    if (a.valueHash >= 0) bucketAdd(this.exactGroups, smallKey(a.valueHash), st);
    const slab = st.slab;
    if (!slab || !dirty) return;
    const buckets = this.nearBuckets;
    const keys = slab.bandKeys;
    const base = st.slot * BANDS;
    for (let b = 0; b < BANDS; b++) {
      const key = smallKey(keys[base + b] as number);
      this.filter.mark(key);
      const at = bucketAdd(buckets, key, st);
      if (at < NEAR_WINDOW) forEachFrom(buckets.get(key), at + 1, (other) => dirty.add(other));
    }
    dirty.add(st);
  }

  /**
   * Before `added` is indexed: puts in the buckets the lines already there (slots before `before`) that
   * hold a key of `added` the buckets lack but the filter has seen, in one pass over the slabs. A key of
   * `freed` (the removed lines') the buckets lack is held by no line now: an edited line keeps most of
   * its keys, and they need no pass.
   */
  private gatherHolders(
    added: readonly LineState[],
    before: { slabs: number; used: number },
    freed: ReadonlySet<number>,
  ): void {
    if (this.filter.full) this.regrowFilter(before);
    const wanted = new Map<number, LineState[]>();
    for (const st of added) {
      const slab = st.slab;
      if (!slab) continue;
      for (let b = 0; b < BANDS; b++) {
        const key = smallKey(slab.bandKeys[st.slot * BANDS + b] as number);
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
    for (const [key, holders] of wanted) for (const st of holders) bucketAdd(this.nearBuckets, key, st);
  }

  /** Adds to `wanted` the live lines of the first `used` slots of `slab` holding a key it lists. */
  private holdersIn(slab: KeySlab, used: number, quick: KeyFilter, wanted: Map<number, LineState[]>): void {
    const keys = slab.bandKeys;
    for (let slot = 0; slot < used; slot++) {
      if (!quick.anyIn(keys, slot * BANDS, BANDS)) continue;
      const id = slab.ids[slot] as number;
      if (id < 0) continue;
      for (let b = 0; b < BANDS; b++) wanted.get(smallKey(keys[slot * BANDS + b] as number))?.push(this.ids.get(id));
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
    this.nearBuckets = new BucketTable(this.ids, shared);
    if (shared === 0) return;
    for (const slab of this.slabs) this.nearOfSlab(slab, twice);
  }

  /** nearInOrder for every line of `slab` (in line order) that has a key `twice` holds. */
  private nearOfSlab(slab: KeySlab, twice: KeyFilter): void {
    const keys = slab.bandKeys;
    for (let slot = 0; slot < slab.used; slot++)
      if (twice.anyIn(keys, slot * BANDS, BANDS)) this.nearInOrder(this.ids.get(slab.ids[slot] as number), twice);
  }

  /**
   * Adds the bands of `st` that `twice` holds to the buckets and sets `st.near` from the lines already
   * there: for lines added in line order, a bucket holds only earlier lines, which are the candidates
   * `recomputeNear` would take from it.
   */
  private nearInOrder(st: LineState, twice: KeyFilter): void {
    const buckets = this.nearBuckets;
    const slab = st.slab as KeySlab;
    const keys = slab.bandKeys;
    const base = st.slot * BANDS;
    const sig = slab.signatures;
    const at = st.slot * BINS;
    const threshold = this.opts.nearThreshold;
    let best: LineState | undefined;
    let bestSim = 0;
    buckets.reserve(BANDS);
    for (let b = 0; b < BANDS; b++) {
      const key = smallKey(keys[base + b] as number);
      if (!twice.mayHave(key)) continue;
      const slot = buckets.find(key);
      const bucket = buckets.at(slot);
      if (bucket === undefined) {
        buckets.place(slot, key, st);
        continue;
      }
      if (!Array.isArray(bucket)) {
        // An earlier line, or this one (two bands of one record with the same key).
        if (bucket !== st && (!best || bucket.index < best.index)) {
          const sim = signatureSimilarity(sig, at, (bucket.slab as KeySlab).signatures, bucket.slot * BINS);
          if (sim >= threshold) {
            best = bucket;
            bestSim = sim;
          }
        }
        buckets.place(slot, key, [bucket, st]);
        continue;
      }
      for (let k = 0; k < bucket.length && k < NEAR_WINDOW; k++) {
        const other = bucket[k] as LineState;
        if (other === st || (best && other.index >= best.index)) break;
        const sim = signatureSimilarity(sig, at, (other.slab as KeySlab).signatures, other.slot * BINS);
        if (sim >= threshold) {
          best = other;
          bestSim = sim;
          break;
        }
      }
      bucket.push(st);
    }
    if (best) st.near = { of: best, similarity: bestSim };
  }

  private unindex(st: LineState, dirty: Set<LineState>): void {
    const a = st.analysis;
    if (a.format) this.formatCounts[a.format]--;
    if (a.valueHash >= 0) bucketRemove(this.exactGroups, smallKey(a.valueHash), st);
    const slab = st.slab;
    if (slab) {
      const base = st.slot * BANDS;
      for (let b = 0; b < BANDS; b++) {
        const key = smallKey(slab.bandKeys[base + b] as number);
        const at = bucketRemove(this.nearBuckets, key, st);
        if (at >= 0 && at < NEAR_WINDOW) forEachFrom(this.nearBuckets.get(key), at, (other) => dirty.add(other));
      }
    }
  }

  /** The earliest line within the bucket windows of `st` that is at least as similar as the threshold. */
  private recomputeNear(st: LineState): void {
    st.near = undefined;
    const slab = st.slab;
    if (!slab) return;
    const sig = slab.signatures;
    const at = st.slot * BINS;
    const keyBase = st.slot * BANDS;
    let best: LineState | undefined;
    let bestSim = 0;
    for (let b = 0; b < BANDS; b++) {
      const bucket = this.nearBuckets.get(smallKey(slab.bandKeys[keyBase + b] as number));
      if (bucket === undefined) continue;
      if (!Array.isArray(bucket)) {
        // A bucket of one is this line itself, or an earlier or later line.
        if (bucket === st || bucket.index >= st.index || (best && bucket.index >= best.index) || !bucket.slab) continue;
        const sim = signatureSimilarity(sig, at, bucket.slab.signatures, bucket.slot * BINS);
        if (sim >= this.opts.nearThreshold) {
          best = bucket;
          bestSim = sim;
        }
        continue;
      }
      for (let k = 0; k < bucket.length && k < NEAR_WINDOW; k++) {
        const other = bucket[k] as LineState;
        if (other.index >= st.index || (best && other.index >= best.index)) break;
        if (!other.slab) continue;
        const sim = signatureSimilarity(sig, at, other.slab.signatures, other.slot * BINS);
        if (sim >= this.opts.nearThreshold) {
          best = other;
          bestSim = sim;
          break;
        }
      }
    }
    if (best) st.near = { of: best, similarity: bestSim };
  }

  /**
   * The first line with the same value as `st`, if it is not `st` itself. Groups are keyed by 30 bits
   * of the 53-bit hash (small-integer keys are fast); members are compared on the whole hash.
   */
  private exactFirst(st: LineState): LineState | undefined {
    const hash = st.analysis.valueHash;
    if (hash < 0) return undefined;
    const group = this.exactGroups.get(smallKey(hash));
    if (group === undefined || group === st) return undefined;
    if (!Array.isArray(group)) return group.analysis.valueHash === hash ? group : undefined;
    for (const other of group) {
      if (other.analysis.valueHash === hash) return other === st ? undefined : other;
    }
    return undefined;
  }

  private crossFindings(
    st: LineState,
    exactSeverity: Finding['severity'] | undefined,
    nearSeverity: Finding['severity'] | undefined,
    out: Finding[],
  ): void {
    if (!exactSeverity && !(nearSeverity && st.near)) return;
    const first = this.exactFirst(st);
    if (first) {
      if (exactSeverity)
        out.push(dedupFinding('dedup/exact', exactSeverity, st.index, st.text.length, first.index, undefined));
      return;
    }
    if (nearSeverity && st.near) {
      out.push(
        dedupFinding('dedup/near', nearSeverity, st.index, st.text.length, st.near.of.index, st.near.similarity),
      );
    }
  }

  private rebase(st: LineState, line: number): void {
    if (st.findingsLine === line) return;
    st.findings = st.findings.map((f) => ({
      ...f,
      range: {
        start: { line, character: f.range.start.character },
        end: { line, character: f.range.end.character },
      },
    }));
    st.findingsLine = line;
  }
}

export { dedupFinding, mixedFormatMessage } from './crossRecord';
