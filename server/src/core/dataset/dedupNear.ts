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
import { ensureMemory, instantiate } from './wasm';

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
const TEXT_OFFSET = 20480;
/** Room after the text: the module zeroes 64 bytes there (its SIMD reads 64 at a time) and reads 8 bytes past a word. */
const TEXT_SLACK = 128;
/** A text that would grow the shared memory past this gets an instance of its own, freed after it. */
const SHARED_MEMORY_CAP = 32 * 1024 * 1024;

/** One instance of the sketch module and views of its memory, renewed when the memory grows. */
class SketchModule {
  private readonly memory: WebAssembly.Memory;
  private readonly run: (n: number) => number;
  // Views made once (and again when the memory grows): a view made per record was a tenth of the
  // validator's allocation.
  private bytes!: Uint8Array;
  private text!: Uint8Array;
  bins!: Int32Array;
  keyBins!: Int32Array;
  private signature!: Uint8Array;
  private bandKeys!: Uint32Array;

  constructor() {
    const exports = instantiate(NEAR_SKETCH_WASM);
    this.memory = exports.memory as WebAssembly.Memory;
    this.run = exports.sketch as (n: number) => number;
    this.view();
    this.bytes.set(PROBE_SEQUENCE, PROBES_OFFSET);
  }

  private view(): void {
    const buffer = this.memory.buffer;
    this.bytes = new Uint8Array(buffer);
    this.text = new Uint8Array(buffer, TEXT_OFFSET);
    this.bins = new Int32Array(buffer, 0, BINS);
    this.keyBins = new Int32Array(buffer, KEY_OFFSET, KEY_BINS);
    this.signature = new Uint8Array(buffer, SIGNATURE_OFFSET, BINS);
    this.bandKeys = new Uint32Array(buffer, BAND_KEYS_OFFSET, BANDS);
  }

  /** Bytes of memory a text of `length` UTF-16 units may need (UTF-8 takes at most 3 bytes a unit). */
  static need(length: number): number {
    return TEXT_OFFSET + 3 * length + TEXT_SLACK;
  }

  /**
   * Sketches `parts` joined by newlines (`length`: their UTF-16 length so joined) and, when it has words,
   * packs its signature and band keys into `signature` and `bandKeys`; returns its number of words.
   */
  sketch(parts: readonly string[], length: number, signature: Uint8Array, bandKeys: Uint32Array): number {
    if (ensureMemory(this.memory, this.bytes.length, SketchModule.need(length))) this.view();
    // Each part is encoded where the last one ended, a newline between: the bytes of the joined text,
    // without the joined string (UTF-8 takes at most 3 bytes a unit: `need` leaves room for all).
    const bytes = this.bytes;
    let at = parts.length > 0 ? ENCODER.encodeInto(parts[0] as string, this.text).written + TEXT_OFFSET : TEXT_OFFSET;
    for (let i = 1; i < parts.length; i++) {
      bytes[at++] = 0x0a;
      at += ENCODER.encodeInto(parts[i] as string, bytes.subarray(at)).written;
    }
    const words = this.run(at - TEXT_OFFSET);
    if (words > 0) {
      signature.set(this.signature);
      bandKeys.set(this.bandKeys);
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

  /** `compute` of `parts` joined by newlines (a record's content turns), without joining them. */
  computeParts(parts: readonly string[]): boolean {
    let length = parts.length > 0 ? parts.length - 1 : 0;
    for (const part of parts) length += part.length;
    const sketcher =
      SketchModule.need(length) <= SHARED_MEMORY_CAP ? (shared ??= new SketchModule()) : new SketchModule();
    const words = sketcher.sketch(parts, length, this.signature, this.bandKeys);
    // A module of its own is let go (its memory is the text's size): its sketches are kept as copies.
    this.kept = sketcher === shared ? undefined : [sketcher.bins.slice(), sketcher.keyBins.slice()];
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

const MAX_PER_KEY = 4;
/**
 * The table's first size: 2 MB, room for the band keys of about 20,000 records (some 17 MB of chat
 * records) before it first grows. Starting at a quarter of it, 10 MB paid a rehash of 49,000 entries
 * into a new, cold table: 1.5 ms of the stream's 67 (`bench/dataset.ts full`). The pages of a zeroed
 * typed array are only backed once written, so a small file does not hold 2 MB.
 */
const INITIAL_SLOTS = 1 << 18;
/**
 * Signatures are kept in chunks of this many records (512 KB), so that growing never copies them: a
 * first chunk that doubled as it filled copied 1.5 MB for 10 MB of records and touched twice the memory.
 */
const CHUNK_SHIFT = 12;
const CHUNK_RECORDS = 1 << CHUNK_SHIFT;

/**
 * The streaming index: signatures of admitted records (BINS bytes each) and one multimap from band
 * key to the first records (up to MAX_PER_KEY) that had it. Past `capacity` records nothing new is admitted (memory
 * stays bounded); later records are still compared against those admitted.
 *
 * The multimap is an open-addressing table of (key, id + 1) pairs interleaved in one array (0: an
 * empty slot, so a new table needs no filling), so a probe touches one cache line; a record's lookup
 * and insertion share one walk per band.
 */
export class NearDuplicateIndex {
  private readonly chunks: Uint8Array[] = [];
  private lineOf: Int32Array;
  private admitted = 0;
  /** Slot s holds its key at 2s and its record id + 1 at 2s + 1 (0 when empty). */
  private table: Int32Array;
  private tableSlots: number;
  /** The most slots the table can need: every admitted record's every band at 3/4 load. */
  private readonly maxSlots: number;
  private tableSize = 0;
  /** What `touchBands` read, summed: kept in a field so that the compiler cannot drop the reads. */
  touchedSum = 0;

  constructor(readonly capacity = 1_000_000) {
    this.lineOf = new Int32Array(4096);
    const needed = 2 ** Math.ceil(Math.log2((capacity * BANDS * 4) / 3 + 1));
    this.tableSlots = Math.min(INITIAL_SLOTS, needed);
    this.maxSlots = Math.max(this.tableSlots, needed);
    this.table = new Int32Array(2 * this.tableSlots);
  }

  get admittedCount(): number {
    return this.admitted;
  }

  /** Slots of the band-key table now (it starts at INITIAL_SLOTS, or fewer for a small capacity). */
  get slots(): number {
    return this.tableSlots;
  }

  get bytes(): number {
    let bytes = this.lineOf.byteLength + this.table.byteLength;
    for (const chunk of this.chunks) bytes += chunk.byteLength;
    return bytes;
  }

  /**
   * The earliest admitted record sharing a band with `hasher`'s signature and at least `threshold`
   * similar, as { line, similarity }; then admits this record (as `line`) when there is room.
   */
  checkAndAdd(hasher: MinHasher, line: number, threshold: number): { line: number; similarity: number } | undefined {
    return this.checkAndAddAt(hasher.signature, 0, hasher.bandKeys, 0, line, threshold);
  }

  /**
   * `checkAndAdd` for a signature stored at `sigOffset` in `signatures` and its band keys at
   * `keyOffset` in `bandKeys` (a block's buffers), without copying them.
   */
  checkAndAddAt(
    signatures: Uint8Array,
    sigOffset: number,
    bandKeys: Uint32Array,
    keyOffset: number,
    line: number,
    threshold: number,
  ): { line: number; similarity: number } | undefined {
    const admit = this.admitted < this.capacity;
    const id = this.admitted;
    let bestId = -1;
    let bestSim = 0;
    if (admit) this.store(signatures, sigOffset, line);
    if (admit && (this.tableSize + BANDS) * 4 > this.tableSlots * 3) this.growTable();
    this.touchBands(bandKeys, keyOffset);
    for (let band = 0; band < BANDS; band++) {
      // Keys are compared as 32-bit patterns: Int32Array storage of a Uint32 key.
      const key = (bandKeys[keyOffset + band] as number) | 0;
      const table = this.table;
      const mask = this.tableSlots - 1;
      let sameKey = 0;
      let slot = key & mask;
      for (; ; slot = (slot + 1) & mask) {
        const other = (table[2 * slot + 1] as number) - 1;
        if (other < 0) break;
        if (table[2 * slot] !== key) continue;
        sameKey++;
        // This record's own earlier bands are not candidates (ids are admitted in increasing order).
        if (other !== id && (bestId < 0 || other < bestId)) {
          const chunk = this.chunks[other >>> CHUNK_SHIFT] as Uint8Array;
          const sim = signatureSimilarity(signatures, sigOffset, chunk, (other & (CHUNK_RECORDS - 1)) * BINS);
          if (sim >= threshold) {
            bestId = other;
            bestSim = sim;
          }
        }
      }
      // A large cluster of near duplicates keeps its earliest members under a key, so lookups stay short.
      if (admit && sameKey < MAX_PER_KEY) {
        table[2 * slot] = key;
        table[2 * slot + 1] = id + 1;
        this.tableSize++;
      }
    }
    if (admit) this.admitted++;
    return bestId >= 0 ? { line: this.lineOf[bestId] ?? -1, similarity: bestSim } : undefined;
  }

  /**
   * Reads the first slot of every band before probing any: the reads do not depend on each other,
   * so the CPU overlaps their cache misses instead of taking them one after another.
   */
  private touchBands(bandKeys: Uint32Array, keyOffset: number): void {
    const table = this.table;
    const mask = this.tableSlots - 1;
    let sum = 0;
    for (let band = 0; band < BANDS; band++)
      sum += table[2 * ((bandKeys[keyOffset + band] as number) & mask) + 1] as number;
    this.touchedSum = sum;
  }

  private store(signatures: Uint8Array, sigOffset: number, line: number): void {
    const id = this.admitted;
    if (id >= this.lineOf.length) {
      const lines = new Int32Array(this.lineOf.length * 2);
      lines.set(this.lineOf);
      this.lineOf = lines;
    }
    this.lineOf[id] = line;
    const c = id >>> CHUNK_SHIFT;
    const at = (id & (CHUNK_RECORDS - 1)) * BINS;
    let stored = this.chunks[c];
    if (stored === undefined) this.chunks[c] = stored = new Uint8Array(CHUNK_RECORDS * BINS);
    stored.set(signatures.subarray(sigOffset, sigOffset + BINS), at);
  }

  private growTable(): void {
    const old = this.table;
    const oldSlots = this.tableSlots;
    // Every growth rehashes every entry: the table grows fourfold (a third of the rehashing of twofold
    // growth, and a smaller peak while both tables live) but never past what `capacity` can fill.
    this.tableSlots = Math.max(oldSlots * 2, Math.min(oldSlots * 4, this.maxSlots));
    this.table = new Int32Array(2 * this.tableSlots);
    const table = this.table;
    const mask = this.tableSlots - 1;
    // Every entry moves as it is: the per-key cap already holds.
    for (let i = 0; i < oldSlots; i++) {
      const id = old[2 * i + 1] as number;
      if (id === 0) continue;
      const key = old[2 * i] as number;
      let slot = key & mask;
      while ((table[2 * slot + 1] as number) !== 0) slot = (slot + 1) & mask;
      table[2 * slot] = key;
      table[2 * slot + 1] = id;
    }
  }
}
