// dedup/near: MinHash over word 3-shingles of a record's content, in two sketches filled by one pass.
//
// Words are maximal runs of letters and digits of the content's UTF-8 bytes (ASCII case folded; Latin-1,
// general, CJK and full-width punctuation separate words; an ideograph is a word by itself), hashed
// 8 bytes a step. The words, shingles, both sketches and their packing are computed in WebAssembly
// (nearSketch.wat, SIMD over ASCII): the per-character loop in JavaScript was the largest single cost
// of full validation.
//
// The signature (stored, compared): one-permutation hashing (OPH), 128 bins, 8 bits a bin with 0 for
// an empty bin. Two records' similarity is estimated over the bins either fills (OPH's own estimator,
// Li, Owen and Zhang 2012): short records leave most bins empty, and this estimate needs no
// densification, which would add noise and cost most of the sketch's time.
//
// The band keys (LSH): two permutations of 20 bins each, densified (an empty bin copies the first
// non-empty bin in its own fixed random sequence: Shrivastava 2017), in 10 bands of 4 rows. A pair
// with Jaccard 0.8 shares a band with probability 0.995, 0.7 with 0.93, 0.5 with 0.48. A candidate
// is confirmed when the estimated similarity reaches the threshold.
import { NEAR_SKETCH_WASM } from './nearSketch.generated';
import { LISTED_VALUES } from './dedupExact';
import { detached, ensureMemory, instantiate, newMemory, sharedMemory, WASM_TEXT_OFFSET } from './wasm';

/**
 * The name of this scheme (signature and band keys). A hub stores it beside the rows it wrote and
 * rebuilds them when it differs: change it whenever a signature or a band key would come out differently.
 */
export const NEAR_SCHEME = 'omh128-b10r4-utf8w';
export const BINS = 128;
export const BANDS = 10;
export const ROWS = 4;
/** Bins of the band-key sketch: two permutations of KEY_BINS / 2. */
const KEY_BINS = BANDS * ROWS;
/** An empty bin: above every value, and a positive int32 so that min needs no branch. */
const EMPTY = 0x7fffffff;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Each key bin's sequence of key bins to borrow from when it is empty (fixed, so keys are comparable). */
const PROBES = 16;
const PROBE_SEQUENCE = new Uint8Array(KEY_BINS * PROBES);
for (let b = 0; b < KEY_BINS; b++) {
  for (let a = 0; a < PROBES; a++) {
    const x = fmix32(Math.imul(b + 1, 0x9e3779b1) ^ Math.imul(a + 1, 0x85ebca77));
    PROBE_SEQUENCE[b * PROBES + a] = Math.floor((x / 2 ** 32) * KEY_BINS);
  }
}

/** Byte offsets in the module's memory (nearSketch.wat): the two sketches, the packed signature and band keys, the probes, then (after the module's word lists) the text. */
const KEY_OFFSET = 512;
const SIGNATURE_OFFSET = 672;
const BAND_KEYS_OFFSET = 800;
const PROBES_OFFSET = 1024;
const TEXT_OFFSET = WASM_TEXT_OFFSET;
/** Where `gathered` reads the indices of the string values it sketches (nearSketch.wat; 512 at most). */
const INDICES_OFFSET = 63488;
/** Room after the text: the module zeroes 64 bytes there (its SIMD reads 64 at a time) and reads 8 bytes past a word. */
const TEXT_SLACK = 128;
/** A text that would grow the shared memory past this gets an instance of its own, freed after it. */
const SHARED_MEMORY_CAP = 32 * 1024 * 1024;
/** The memory's last bytes: a part after the first is encoded there, then moved after the one before. */
const STAGE_BYTES = 65536;

/** One instance of the sketch module and views of its memory, renewed when the memory grows. */
class SketchModule {
  private readonly run: (n: number) => number;
  private readonly runGathered: (count: number, values: number) => number;
  // Views made once (and again when the memory grows): a view made per record was a tenth of the
  // validator's allocation.
  private bytes!: Uint8Array;
  private text!: Uint8Array;
  private stage!: Uint8Array;
  bins!: Int32Array;
  keyBins!: Int32Array;
  private signature!: Uint8Array;
  private bandKeys!: Uint32Array;
  private indices!: Int32Array;

  /** `memory`: the memory shared with the exact hash (sharedMemory), or one of the instance's own. */
  constructor(private readonly memory: WebAssembly.Memory) {
    const exports = instantiate(NEAR_SKETCH_WASM, memory);
    this.run = exports.sketch as (n: number) => number;
    this.runGathered = exports.gathered as (count: number, values: number) => number;
    this.view();
    this.bytes.set(PROBE_SEQUENCE, PROBES_OFFSET);
  }

  private view(): void {
    const buffer = this.memory.buffer;
    this.bytes = new Uint8Array(buffer);
    this.text = new Uint8Array(buffer, TEXT_OFFSET);
    this.stage = new Uint8Array(buffer, buffer.byteLength - STAGE_BYTES);
    this.bins = new Int32Array(buffer, 0, BINS);
    this.keyBins = new Int32Array(buffer, KEY_OFFSET, KEY_BINS);
    this.signature = new Uint8Array(buffer, SIGNATURE_OFFSET, BINS);
    this.bandKeys = new Uint32Array(buffer, BAND_KEYS_OFFSET, BANDS);
    this.indices = new Int32Array(buffer, INDICES_OFFSET, LISTED_VALUES);
  }

  /** Bytes of memory a text of `length` UTF-16 units may need (UTF-8 takes at most 3 bytes a unit). */
  static need(length: number): number {
    return TEXT_OFFSET + 3 * length + TEXT_SLACK + STAGE_BYTES;
  }

  /**
   * Sketches `parts` joined by newlines (`length`: their UTF-16 length so joined) and, when it has words,
   * packs its signature and band keys into `signature` at `sigAt` and `bandKeys` at `keyAt`; returns its
   * number of words.
   */
  sketch(
    parts: readonly string[],
    length: number,
    signature: Uint8Array,
    sigAt: number,
    bandKeys: Uint32Array,
    keyAt: number,
  ): number {
    // The exact hash may have grown the shared memory.
    if (detached(this.bytes)) this.view();
    if (ensureMemory(this.memory, this.bytes.length, SketchModule.need(length))) this.view();
    // Each part is encoded where the last one ended, a newline between: the bytes of the joined text,
    // without the joined string (UTF-8 takes at most 3 bytes a unit: `need` leaves room for all). A part
    // after the first is encoded into the stage and moved (copyWithin): encoding it in place takes a
    // view of the memory from where it goes, an object a part.
    const bytes = this.bytes;
    const stageAt = bytes.length - STAGE_BYTES;
    let at = parts.length > 0 ? ENCODER.encodeInto(parts[0] as string, this.text).written + TEXT_OFFSET : TEXT_OFFSET;
    for (let i = 1; i < parts.length; i++) {
      bytes[at++] = 0x0a;
      const part = parts[i] as string;
      if (3 * part.length <= STAGE_BYTES) {
        const written = ENCODER.encodeInto(part, this.stage).written;
        bytes.copyWithin(at, stageAt, stageAt + written);
        at += written;
      } else at += ENCODER.encodeInto(part, bytes.subarray(at)).written;
    }
    return this.packed(this.run(at - TEXT_OFFSET), signature, sigAt, bandKeys, keyAt);
  }

  /**
   * Sketches the string values of the line the exact hash read last (`values` of them: its count) that
   * the first `count` of `indices` name (increasing), joined by newlines, from where the hash left them
   * decoded (dedupExact.ts HashResult.values); as `sketch` after. Returns -1, and sketches nothing, when
   * an index is out of order or past the values the hash listed.
   */
  gathered(
    indices: Int32Array,
    count: number,
    values: number,
    signature: Uint8Array,
    sigAt: number,
    bandKeys: Uint32Array,
    keyAt: number,
  ): number {
    if (count > LISTED_VALUES) return -1;
    if (detached(this.bytes)) this.view();
    const to = this.indices;
    for (let i = 0; i < count; i++) to[i] = indices[i] as number;
    const words = this.runGathered(count, values);
    return words < 0 ? -1 : this.packed(words, signature, sigAt, bandKeys, keyAt);
  }

  /** Copies out the signature and band keys the module packed, when the text had words; returns `words`. */
  private packed(words: number, signature: Uint8Array, sigAt: number, bandKeys: Uint32Array, keyAt: number): number {
    if (words > 0) {
      signature.set(this.signature, sigAt);
      bandKeys.set(this.bandKeys, keyAt);
    }
    return words;
  }
}

const ENCODER = new TextEncoder();
let shared: SketchModule | undefined;

/** Reusable buffers: computing a signature allocates nothing. */
export class MinHasher {
  readonly signature = new Uint8Array(BINS);
  readonly bandKeys = new Uint32Array(BANDS);
  /**
   * Where the next signature and band keys go instead of `signature` and `bandKeys` (`writeInto`): the
   * editor's validator has them written into its slabs, saving a copy of each.
   */
  private intoSignatures: Uint8Array | undefined;
  private intoSigAt = 0;
  private intoBandKeys: Uint32Array | undefined;
  private intoKeyAt = 0;
  /** The sketches of the last text when a module of its own sketched it (a long text), copied. */
  private kept: [Int32Array, Int32Array] | undefined;

  /**
   * For tests: the two sketches of the last text, before packing (each bin's minimum, EMPTY for none),
   * as the shared module holds them until another text is sketched.
   */
  get bins(): Int32Array {
    return this.kept?.[0] ?? shared?.bins.slice() ?? new Int32Array(BINS).fill(EMPTY);
  }

  get keyBins(): Int32Array {
    return this.kept?.[1] ?? shared?.keyBins.slice() ?? new Int32Array(KEY_BINS).fill(EMPTY);
  }

  /** Fills `signature` and `bandKeys` from `text`; false when the text has no words. */
  compute(text: string): boolean {
    return this.computeParts([text]);
  }

  /**
   * Until `writeInto()` is called again with no arguments, signatures are written at `sigAt` in
   * `signatures` and band keys at `keyAt` in `bandKeys` (and `signature` and `bandKeys` are left as they are).
   */
  writeInto(signatures?: Uint8Array, sigAt = 0, bandKeys?: Uint32Array, keyAt = 0): void {
    this.intoSignatures = signatures;
    this.intoSigAt = sigAt;
    this.intoBandKeys = bandKeys;
    this.intoKeyAt = keyAt;
  }

  /** `compute` of `parts` joined by newlines (a record's content turns), without joining them. */
  computeParts(parts: readonly string[]): boolean {
    let length = parts.length > 0 ? parts.length - 1 : 0;
    for (const part of parts) length += part.length;
    const need = SketchModule.need(length);
    const sketcher =
      need <= SHARED_MEMORY_CAP ? (shared ??= new SketchModule(sharedMemory())) : new SketchModule(newMemory(need));
    const words =
      this.intoSignatures && this.intoBandKeys
        ? sketcher.sketch(parts, length, this.intoSignatures, this.intoSigAt, this.intoBandKeys, this.intoKeyAt)
        : sketcher.sketch(parts, length, this.signature, 0, this.bandKeys, 0);
    // A module of its own is let go (its memory is the text's size): its sketches are kept as copies.
    this.kept = sketcher === shared ? undefined : [sketcher.bins.slice(), sketcher.keyBins.slice()];
    return words > 0;
  }

  /**
   * `computeParts` of string values of the line the exact hash read last, where the hash left them: the
   * first `count` of `indices` (increasing) name them among its `values` (dedupExact.ts
   * HashResult.values, read right after hashing). Undefined when that cannot be done (an index out of
   * order or past those listed): nothing is computed, and the caller computes from the strings.
   */
  computeValues(indices: Int32Array, count: number, values: number): boolean | undefined {
    const sketcher = (shared ??= new SketchModule(sharedMemory()));
    const words =
      this.intoSignatures && this.intoBandKeys
        ? sketcher.gathered(
            indices,
            count,
            values,
            this.intoSignatures,
            this.intoSigAt,
            this.intoBandKeys,
            this.intoKeyAt,
          )
        : sketcher.gathered(indices, count, values, this.signature, 0, this.bandKeys, 0);
    if (words < 0) return undefined;
    this.kept = undefined;
    return words > 0;
  }
}

/**
 * Estimated Jaccard similarity of two signatures stored at the given offsets: of the bins that either
 * record fills, the share where both hold the same value (one-permutation hashing's estimator), less
 * the 1/255 chance that different shingles agree in 8 bits.
 */
export function signatureSimilarity(a: Uint8Array, aOffset: number, b: Uint8Array, bOffset: number): number {
  let filled = 0;
  let equal = 0;
  for (let i = 0; i < BINS; i++) {
    const x = a[aOffset + i] as number;
    const y = b[bOffset + i] as number;
    filled += ((x | y) + 255) >> 8;
    equal += (((x ^ y) - 1) >>> 31) & ((x + 255) >> 8);
  }
  if (filled === 0) return 0;
  const p = equal / filled;
  return Math.max(0, (p - 1 / 255) / (1 - 1 / 255));
}

/** Hashes as small integers, which V8 hashes fastest; a rare merge of two buckets is harmless. */
export function smallKey(key: number): number {
  return key & 0x3fffffff;
}

/** The largest KeyFilter, in bits (log 2). */
const MAX_FILTER_LOG = 23;
/** The two multipliers of KeyFilter's bits. */
const H1 = 0x9e3779b1;
const H2 = 0x85ebca77;

/**
 * Two bits per band key (a Bloom filter), set once a line held the key: a key with a clear bit was never
 * held by any line; with both set, it may have been (about 1.4% of the keys never held, at the size it is
 * made for). Sized for the keys it will hold (16 bits a key, at most 2^23 bits: 1 MB, for 500,000 keys);
 * the editor grows it when they outnumber that. Keys are taken as smallKey(key).
 */
export class KeyFilter {
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
    // Before the loop: the loop is optimized while it runs, and a field first written after it was
    // a deoptimization at every call's end (three a validation of 10 MB, each followed by the next
    // call's loop starting over unoptimized).
    this.marked += n;
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

/**
 * Under one band key the index keeps its first holders only (as the editor's buckets compare their first
 * NEAR_WINDOW lines): a large cluster of near duplicates keeps its earliest members under a key, so
 * checks stay short.
 */
const MAX_PER_KEY = 4;
/**
 * Records compared in one pass at the end: the pass's two filters (16 bits a key) stay within a core's
 * cache up to here (2 MB each). A larger input is compared in that pass up to here, and record by record
 * after it, in a table of every key that grows as it fills: a pass over 1M records (filters of 32 MB,
 * a table of 128 MB built at once) made `lint` of 1 GB 20% slower.
 */
const PASS_RECORDS = 1 << 16;
/**
 * Signatures and band keys are kept in chunks of this many records (512 KB and 160 KB), so that growing
 * never copies them: a first chunk that doubled as it filled copied 1.5 MB for 10 MB of records and
 * touched twice the memory.
 */
const CHUNK_SHIFT = 12;
const CHUNK_RECORDS = 1 << CHUNK_SHIFT;

/** What a check found: the record at `line` nearly repeats the one at `firstLine`. */
export type NearReport = (line: number, firstLine: number, similarity: number) => void;

/**
 * Near duplicates of records seen once, in order (the stream and `.json` arrays). A record's near
 * duplicate is the earliest earlier record that shares a band key with it, among the first
 * MAX_PER_KEY records holding that key, and is at least `threshold` similar.
 *
 * Records are kept (signature and band keys, in chunks) and compared in one pass when the input ends
 * (`finish`): most band keys belong to one record only, so a first pass over the kept keys marks each in
 * a filter and, in a second one, the keys seen before; only records holding such a key are compared,
 * through a table of those keys alone, which stays in the cache. Comparing each record as it came, in
 * a table of every key (2 MB per 10 MB of chat records) probed at random between records' analyses, cost
 * a cache miss per key: the stream's near duplicates took about 12 ms per 10 MB more than the editor's,
 * and the pass took the stream from 75.3 to 70.5 ms (PERF.md).
 *
 * Past PASS_RECORDS records, the records kept are compared (their reports come first) and each later
 * record is compared as it comes, in a table of every kept key, and kept while there is room. Memory
 * stays bounded: past `capacity` records nothing more is kept (later records are still compared). The
 * answers are the same whichever way a record is compared (tested against the rule written plainly),
 * and reports come in line order.
 */
export class NearDuplicateIndex {
  private readonly signatures: Uint8Array[] = [];
  /** Each chunk of `signatures` as 32-bit words, and the last source array so viewed: a signature is copied a word at a time. */
  private readonly signatureWords: Int32Array[] = [];
  private source: Uint8Array | undefined;
  private sourceWords: Int32Array | undefined;
  private readonly keys: Uint32Array[] = [];
  private lineOf = new Int32Array(4096);
  private kept = 0;
  /** Once full: the table of every kept record's keys; later records are compared with it at once. */
  private table: KeyTable | undefined;
  private compared = false;
  /** The best candidate of the record being compared (fields, so that no result object is made per record). */
  private best = -1;
  private bestSim = 0;

  /**
   * `passRecords`: the records compared in the pass at the end (PASS_RECORDS; tests make it small to
   * compare past it).
   */
  constructor(
    private readonly threshold: number,
    private readonly report: NearReport,
    readonly capacity = 1_000_000,
    private readonly passRecords = PASS_RECORDS,
  ) {}

  /** Records kept so far (at most `capacity`). */
  get keptCount(): number {
    return this.kept;
  }

  /** Slots of the table of every kept key (0 until records come after the pass). */
  get slots(): number {
    return this.table ? this.table.mask + 1 : 0;
  }

  get bytes(): number {
    let bytes = this.lineOf.byteLength + (this.table?.bytes ?? 0);
    for (const chunk of this.signatures) bytes += chunk.byteLength;
    for (const chunk of this.keys) bytes += chunk.byteLength;
    return bytes;
  }

  /** `add` of the signature and band keys `hasher` holds. */
  addHashed(hasher: MinHasher, line: number): void {
    this.add(hasher.signature, 0, hasher.bandKeys, 0, line);
  }

  /**
   * The next record, at `line`: its signature at `sigOffset` in `signatures` and its band keys at
   * `keyOffset` in `bandKeys` (a block's buffers; copied). Kept while there is room; past it, compared at once.
   */
  add(signatures: Uint8Array, sigOffset: number, bandKeys: Uint32Array, keyOffset: number, line: number): void {
    if (this.compared) throw new Error('NearDuplicateIndex: add after finish');
    let table = this.table;
    if (!table) {
      if (this.kept < this.capacity && this.kept < this.passRecords) {
        this.keep(signatures, sigOffset, bandKeys, keyOffset, line);
        return;
      }
      this.compareKept();
      table = this.table = this.tableOfKept();
      this.keys.length = 0;
    }
    const insert = this.kept < this.capacity;
    if (insert) table.reserve(BANDS);
    const id = insert ? this.kept : -1;
    this.best = -1;
    for (let band = 0; band < BANDS; band++) {
      this.probe(table, (bandKeys[keyOffset + band] as number) | 0, id, signatures, sigOffset, insert);
    }
    if (insert) this.keep(signatures, sigOffset, bandKeys, keyOffset, line);
    if (this.best >= 0) this.report(line, this.lineOf[this.best] as number, this.bestSim);
  }

  /** Reports the near duplicates among the records kept (in line order), unless adding past capacity did. */
  finish(): void {
    if (!this.table && !this.compared) this.compareKept();
    this.compared = true;
  }

  private keep(
    signatures: Uint8Array,
    sigOffset: number,
    bandKeys: Uint32Array,
    keyOffset: number,
    line: number,
  ): void {
    const id = this.kept++;
    if (id >= this.lineOf.length) {
      const lines = new Int32Array(this.lineOf.length * 2);
      lines.set(this.lineOf);
      this.lineOf = lines;
    }
    this.lineOf[id] = line;
    const c = id >>> CHUNK_SHIFT;
    if (c === this.signatures.length) {
      const chunk = new Uint8Array(CHUNK_RECORDS * BINS);
      this.signatures.push(chunk);
      this.signatureWords.push(new Int32Array(chunk.buffer));
    }
    const slot = id & (CHUNK_RECORDS - 1);
    // Word by word through views made once per source array (a block's buffer, the hasher's own): a
    // `subarray` to `set` from was an object a record, a tenth of the stream's garbage.
    if (signatures !== this.source) {
      this.source = signatures;
      this.sourceWords =
        signatures.byteOffset % 4 === 0
          ? new Int32Array(signatures.buffer, signatures.byteOffset, signatures.byteLength >>> 2)
          : undefined;
    }
    const from = this.sourceWords;
    if (from && sigOffset % 4 === 0) {
      const into = this.signatureWords[c] as Int32Array;
      const to = (slot * BINS) >>> 2;
      const at = sigOffset >>> 2;
      for (let w = 0; w < BINS / 4; w++) into[to + w] = from[at + w] as number;
    } else (this.signatures[c] as Uint8Array).set(signatures.subarray(sigOffset, sigOffset + BINS), slot * BINS);
    // The keys are kept for the pass only: after it, the table holds them.
    if (this.table) return;
    if (c === this.keys.length) this.keys.push(new Uint32Array(CHUNK_RECORDS * BANDS));
    const keys = this.keys[c] as Uint32Array;
    for (let band = 0; band < BANDS; band++) keys[slot * BANDS + band] = bandKeys[keyOffset + band] as number;
  }

  /** The number of kept records in chunk `c`. */
  private inChunk(c: number): number {
    return Math.min(CHUNK_RECORDS, this.kept - c * CHUNK_RECORDS);
  }

  /** Compares every kept record with the kept records before it, in order, through the keys held twice. */
  private compareKept(): void {
    const n = this.kept;
    const seen = new KeyFilter(n * BANDS);
    const twice = new KeyFilter(n * BANDS);
    let repeats = 0;
    for (let c = 0; c < this.keys.length; c++) {
      repeats += seen.markAll(this.keys[c] as Uint32Array, this.inChunk(c) * BANDS, twice);
    }
    if (repeats === 0) return;
    // Every holder of a key held twice, and the keys the filter wrongly says were (about 1.4% of them).
    const table = new KeyTable(2 * repeats + ((n * BANDS) >>> 5));
    for (let c = 0; c < this.keys.length; c++) {
      const keys = this.keys[c] as Uint32Array;
      const signatures = this.signatures[c] as Uint8Array;
      const count = this.inChunk(c);
      for (let slot = 0; slot < count; slot++) {
        if (!twice.anyIn(keys, slot * BANDS, BANDS)) continue;
        const id = c * CHUNK_RECORDS + slot;
        table.reserve(BANDS);
        this.best = -1;
        for (let band = 0; band < BANDS; band++) {
          const key = (keys[slot * BANDS + band] as number) | 0;
          if (twice.mayHave(smallKey(key))) this.probe(table, key, id, signatures, slot * BINS, true);
        }
        if (this.best >= 0) this.report(this.lineOf[id] as number, this.lineOf[this.best] as number, this.bestSim);
      }
    }
  }

  /** A table of every kept record's band keys (each key's first MAX_PER_KEY holders), for the records after them. */
  private tableOfKept(): KeyTable {
    const table = new KeyTable(
      Math.max(this.kept, Math.min(this.capacity, 2 * this.kept)) * BANDS,
      this.capacity * BANDS,
    );
    for (let c = 0; c < this.keys.length; c++) {
      const keys = this.keys[c] as Uint32Array;
      const count = this.inChunk(c);
      for (let slot = 0; slot < count; slot++) {
        const id = c * CHUNK_RECORDS + slot;
        for (let band = 0; band < BANDS; band++) table.insert((keys[slot * BANDS + band] as number) | 0, id);
      }
    }
    return table;
  }

  /**
   * Compares the record whose signature is at `sigOffset` in `signatures` (kept as `id`, or -1) with the
   * holders of `key` in `table`, keeping the earliest similar enough in `best`; then, when `insert`,
   * holds the key for `id` too (unless MAX_PER_KEY records already do).
   */
  private probe(
    table: KeyTable,
    key: number,
    id: number,
    signatures: Uint8Array,
    sigOffset: number,
    insert: boolean,
  ): void {
    const slots = table.slots;
    const mask = table.mask;
    let holders = 0;
    let slot = key & mask;
    for (; ; slot = (slot + 1) & mask) {
      const other = (slots[2 * slot + 1] as number) - 1;
      if (other < 0) break;
      if (slots[2 * slot] !== key) continue;
      holders++;
      // The record's own earlier bands are not candidates (ids are kept in increasing order).
      if (other !== id && (this.best < 0 || other < this.best)) {
        const chunk = this.signatures[other >>> CHUNK_SHIFT] as Uint8Array;
        const sim = signatureSimilarity(signatures, sigOffset, chunk, (other & (CHUNK_RECORDS - 1)) * BINS);
        if (sim >= this.threshold) {
          this.best = other;
          this.bestSim = sim;
        }
      }
    }
    if (insert && holders < MAX_PER_KEY) {
      slots[2 * slot] = key;
      slots[2 * slot + 1] = id + 1;
      table.size++;
    }
  }
}

/**
 * An open-addressing multimap from band key to record ids (at most 3/4 full, growing fourfold): slot s
 * holds its key at 2s and its id + 1 at 2s + 1 (0: empty), so a probe reads one cache line.
 */
class KeyTable {
  slots: Int32Array;
  mask: number;
  size = 0;

  /** The most slots it grows to: room for every entry it may be given. */
  private readonly maxSlots: number;

  /** Room for `entries` without growing; `most`: how many it may be given in all. */
  constructor(entries: number, most = entries) {
    const n = KeyTable.slotsFor(entries);
    this.slots = new Int32Array(2 * n);
    this.mask = n - 1;
    this.maxSlots = Math.max(n, KeyTable.slotsFor(most));
  }

  private static slotsFor(entries: number): number {
    return 2 ** Math.ceil(Math.log2((entries * 4) / 3 + 16));
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  /** Holds `key` for `id` after its holders, unless MAX_PER_KEY records already hold it. */
  insert(key: number, id: number): void {
    const slots = this.slots;
    let holders = 0;
    let slot = key & this.mask;
    for (; (slots[2 * slot + 1] as number) !== 0; slot = (slot + 1) & this.mask) {
      if (slots[2 * slot] === key) holders++;
    }
    if (holders >= MAX_PER_KEY) return;
    slots[2 * slot] = key;
    slots[2 * slot + 1] = id + 1;
    this.size++;
  }

  /**
   * Grows unless `more` entries fit within 3/4: fourfold (a third of the rehashing of twofold growth),
   * but not past the room for every entry it may be given.
   */
  reserve(more: number): void {
    if ((this.size + more) * 4 <= (this.mask + 1) * 3) return;
    const old = this.slots;
    const n = Math.max(2 * (this.mask + 1), Math.min(4 * (this.mask + 1), this.maxSlots));
    this.slots = new Int32Array(2 * n);
    this.mask = n - 1;
    const slots = this.slots;
    for (let i = 0; i < old.length; i += 2) {
      const id = old[i + 1] as number;
      if (id === 0) continue;
      let slot = (old[i] as number) & this.mask;
      while ((slots[2 * slot + 1] as number) !== 0) slot = (slot + 1) & this.mask;
      slots[2 * slot] = old[i] as number;
      slots[2 * slot + 1] = id;
    }
  }
}
