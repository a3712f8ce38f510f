// dedup/exact: a 53-bit hash of the record's JSON value (formatting and key order ignored), and a
// compact open-addressing table from hash to the first line that had it, for the streaming path.
//
// The hash (EXACT_SCHEME) is computed in WebAssembly (valueHash.wat) from the line's UTF-8 text in one
// pass, without walking the parsed value: strings by their decoded UTF-8 bytes, 8 bytes a step;
// numbers by their text; arrays chained in order; objects as a sum over their members. A text whose
// numbers JSON.parse would write differently (1.0, 1e3, -0, integers past 15 digits) or whose object
// repeats a key is hashed from JSON.stringify of the parsed value instead, so equal values hash equal
// however they are written. An unpaired surrogate counts as U+FFFD.
import { VALUE_HASH_WASM } from './valueHash.generated';
import { detached, ensureMemory, instantiate, newMemory, sharedMemory, WASM_TEXT_OFFSET } from './wasm';

/**
 * The name of the exact hash. It is part of the duplicate scheme a hub stores beside its rows
 * (crossRecord.ts DEDUP_SCHEME): change it whenever a value would hash differently.
 */
export const EXACT_SCHEME = 'vh2-utf8';

/** Byte offset of the text in the module's memory (valueHash.wat); the module zeroes 16 bytes after it. */
const TEXT_OFFSET = WASM_TEXT_OFFSET;
/** Room after the text: the module's 16 zeroed bytes, and the sketch's 64 when it reads the values in place (dedupNear.ts). */
const TEXT_SLACK = 128;
/** The result's offset in the memory (valueHash.wat). */
const RESULT = 20480;
/** String values whose place the module lists (valueHash.wat). */
export const LISTED_VALUES = 256;
/** A text that would grow the shared memory past this gets an instance of its own, freed after it. */
const SHARED_MEMORY_CAP = 32 * 1024 * 1024;
/**
 * Hints for the PII and secret detectors (sensitive.ts) and the placeholder check (placeholder.ts), from
 * the same pass over the line: a detector whose hint is off has nothing to find. Each is implied by the
 * detector's own pre-check.
 */
export const HINT_AT = 1;
/** Three digits in a row, or '+' before a digit (pii.ts PHONE_HINT implies one or the other). */
export const HINT_PHONE = 2;
/** A backslash before 'u': a \uXXXX escape may hide text. */
export const HINT_ESCAPE = 4;
/** '{', '[' or '<' before an ASCII letter, or '{{': what each of placeholder.ts's openers implies. */
export const HINT_OPENER = 8;
/** Every hint on: nothing is known of the text beforehand. */
export const ALL_HINTS = HINT_AT | HINT_PHONE | HINT_ESCAPE | HINT_OPENER;

/** hash(): 0 the hash is written; 1 hash the canonical text instead; 2 nested too deep to hash. */
const HASHED = 0;
const NEEDS_CANONICAL = 1;
const TOO_DEEP = 2;

const ENCODER = new TextEncoder();

class ValueHashModule {
  private readonly run: (n: number, canonical: number) => number;
  // Views made once (and again when the memory grows), not per record.
  private text!: Uint8Array;
  private out!: DataView;

  /** `memory`: the shared memory (sharedMemory) or one of the instance's own. */
  constructor(
    private readonly memory: WebAssembly.Memory,
    readonly isShared: boolean,
  ) {
    this.run = instantiate(VALUE_HASH_WASM, memory).hash as (n: number, canonical: number) => number;
    this.view();
  }

  private view(): void {
    this.text = new Uint8Array(this.memory.buffer, TEXT_OFFSET);
    this.out = new DataView(this.memory.buffer);
  }

  /** Bytes of memory a text of `length` UTF-16 units may need (UTF-8 takes at most 3 bytes a unit). */
  static need(length: number): number {
    return TEXT_OFFSET + 3 * length + TEXT_SLACK;
  }

  /** Hashes `text` into `into` (and its hints, unless `canonical`); returns the module's status. */
  hash(text: string, canonical: boolean, into: HashResult): number {
    // The sketch may have grown the shared memory.
    if (detached(this.text)) this.view();
    if (ensureMemory(this.memory, this.out.byteLength, ValueHashModule.need(text.length))) this.view();
    const written = ENCODER.encodeInto(text, this.text).written;
    let status: number;
    try {
      status = this.run(written, canonical ? 1 : 0);
    } catch {
      // Only a text JSON.parse refused could lead the scanner out of bounds: no hash, every hint.
      into.hints = ALL_HINTS;
      return 2;
    }
    if (!canonical) into.hints = this.out.getInt32(RESULT + 12, true);
    if (status === HASHED) {
      into.hash = this.out.getFloat64(RESULT, true);
      into.ascii = this.out.getInt32(RESULT + 8, true) === 1;
      into.values = this.isShared ? this.out.getInt32(RESULT + 20, true) : -1;
      into.nonAscii = this.out.getInt32(RESULT + 24, true);
    }
    if (status === HASHED || status === TOO_DEEP) into.depth = this.out.getInt32(RESULT + 16, true);
    return status;
  }
}

let shared: ValueHashModule | undefined;

function moduleFor(length: number): ValueHashModule {
  const need = ValueHashModule.need(length);
  return need <= SHARED_MEMORY_CAP
    ? (shared ??= new ValueHashModule(sharedMemory(), true))
    : new ValueHashModule(newMemory(need), false);
}

interface HashResult {
  hash: number;
  ascii: boolean;
  hints: number;
  /** The deepest nesting of arrays and objects (the root's is 1; past 128 it is 129); -1 when not known. */
  depth: number;
  /**
   * How many string values the hashed text has (keys left out), when the shared memory holds where the
   * first LISTED_VALUES of them are, decoded, in the text's order (the text is the line, or its
   * canonical form when the hash needed one): -1 otherwise. Valid until the next text is hashed
   * (`hashSerial` tells).
   */
  values: number;
  /**
   * The UTF-16 units above U+007F of all the string values together (keys left out): what the token
   * estimate needs of a record whose text is its values and ASCII glue; -1 when not known.
   */
  nonAscii: number;
}

const result: HashResult = { hash: -1, ascii: false, hints: ALL_HINTS, depth: -1, values: -1, nonAscii: -1 };
let serial = 0;

/** Counts the texts hashed: a reader of the listed values (`values`) checks no other text came since. */
export function hashSerial(): number {
  return serial;
}

/**
 * The hash of `value`, the JSON value JSON.parse read from `text`, whether every string of it (keys
 * included) is ASCII, how deep it nests, and the detector hints of `text` (HINT_*); hash -1 when it
 * cannot be hashed (nested past 128 levels). Equal values hash equal however they are written. The
 * result object is reused: read it before the next call.
 */
export function hashJsonText(text: string, value: unknown): Readonly<HashResult> {
  result.hash = -1;
  result.ascii = false;
  result.hints = ALL_HINTS;
  result.depth = -1;
  result.values = -1;
  result.nonAscii = -1;
  serial++;
  if (moduleFor(text.length).hash(text, false, result) === NEEDS_CANONICAL) {
    const canonical = JSON.stringify(value);
    moduleFor(canonical.length).hash(canonical, true, result);
  }
  return result;
}

/** hash -> first line, in one typed array (16 bytes a slot, at most 3/4 full); grows by doubling. */
export class ExactDuplicateTable {
  /**
   * Slot s holds its hash at 2s and its line + 1 at 2s + 1 (0: empty, so a new table needs no filling):
   * a probe reads one cache line. It starts small and doubles, so that 10 MB of records (11,551) keep a
   * table of 256 KB that stays in the cache between records, where one of 65,536 slots from the start
   * (768 KB in two arrays) cost a cache miss or two a record.
   */
  private slots: Float64Array;
  private mask: number;
  private size = 0;

  constructor(initialSlots = 1 << 12) {
    this.slots = new Float64Array(2 * initialSlots);
    this.mask = initialSlots - 1;
  }

  /** The first line with `hash`, or -1 after recording `line` as the first one. */
  firstOrAdd(hash: number, line: number): number {
    if ((this.size + 1) * 4 > (this.mask + 1) * 3) this.grow();
    const slots = this.slots;
    const mask = this.mask;
    for (let slot = (hash ^ (hash / 0x100000000)) & mask; ; slot = (slot + 1) & mask) {
      const existing = (slots[2 * slot + 1] as number) - 1;
      if (existing < 0) {
        slots[2 * slot] = hash;
        slots[2 * slot + 1] = line + 1;
        this.size++;
        return -1;
      }
      if (slots[2 * slot] === hash) return existing;
    }
  }

  get count(): number {
    return this.size;
  }

  get bytes(): number {
    return this.slots.byteLength;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Float64Array(2 * old.length);
    this.mask = old.length - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) {
      const line = (old[i + 1] as number) - 1;
      if (line >= 0) this.firstOrAdd(old[i] as number, line);
    }
  }
}
