// dedup/exact: a 53-bit hash of the record's JSON value (object keys sorted, formatting ignored), and
// a compact open-addressing table from hash to the first line that had it, for the streaming path.

const SEED_A = 0x811c9dc5;
const SEED_B = 0x9747b28c;

/**
 * Sorts keys in place in code-unit order, as `Array.prototype.sort` does; records have a handful of
 * keys, where an insertion sort costs far less than the generic sort's string conversions.
 */
function sortKeys(keys: string[]): void {
  if (keys.length > 16) {
    keys.sort();
    return;
  }
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    for (; j >= 0 && (keys[j] as string) > key; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = key;
  }
}

class ValueHasher {
  a = SEED_A;
  b = SEED_B;
  /** Every code unit of every string hashed, OR-ed together (off the hash's dependency chain: free). */
  units = 0;

  private mix(code: number): void {
    this.a = Math.imul(this.a ^ code, 0x01000193);
    this.b = Math.imul(this.b ^ code, 0x5bd1e995);
    this.b ^= this.b >>> 15;
  }

  private str(s: string): void {
    let a = this.a;
    let b = this.b;
    let units = 0;
    // Two UTF-16 code units per step: half the multiplications of a unit-at-a-time hash.
    const even = s.length & ~1;
    for (let i = 0; i < even; i += 2) {
      const c = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
      units |= c;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    if (even < s.length) {
      const c = s.charCodeAt(even);
      units |= c;
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
    }
    this.a = a;
    this.b = b;
    this.units |= units;
    this.mix(s.length);
  }

  value(v: unknown): void {
    switch (typeof v) {
      case 'string':
        this.mix(1);
        this.str(v);
        return;
      case 'number':
        this.mix(2);
        this.str(String(v));
        return;
      case 'boolean':
        this.mix(v ? 3 : 4);
        return;
      case 'object':
        if (v === null) {
          this.mix(5);
        } else if (Array.isArray(v)) {
          this.mix(6);
          for (const item of v) this.value(item);
          this.mix(v.length);
        } else {
          this.mix(7);
          const obj = v as Record<string, unknown>;
          const keys = Object.keys(obj);
          sortKeys(keys);
          for (const k of keys) {
            this.str(k);
            this.value(obj[k]);
          }
          this.mix(keys.length);
        }
        return;
      default:
        this.mix(8);
    }
  }
}

const hasher = new ValueHasher();

/** A 53-bit hash (a safe integer) of a JSON value; equal values, however formatted, hash equal. */
export function hashJsonValue(value: unknown): number {
  return hashJsonValueAscii(value).hash;
}

const result = { hash: 0, ascii: true };

/**
 * hashJsonValue, and whether every string of the value (keys included) is ASCII, found on the way.
 * The result object is reused: read it before the next call.
 */
export function hashJsonValueAscii(value: unknown): { readonly hash: number; readonly ascii: boolean } {
  hasher.a = SEED_A;
  hasher.b = SEED_B;
  hasher.units = 0;
  hasher.value(value);
  result.hash = (hasher.a >>> 0) * 0x200000 + (hasher.b >>> 11);
  // Two units per step: the high one sits in bits 16-31.
  result.ascii = (hasher.units & 0xff80ff80) === 0;
  return result;
}

/** hash -> first line, in two typed arrays (about 24 bytes a record at most); grows by doubling. */
export class ExactDuplicateTable {
  private hashes: Float64Array;
  private lines: Int32Array;
  private size = 0;

  constructor(initialCapacity = 1 << 16) {
    this.hashes = new Float64Array(initialCapacity);
    this.lines = new Int32Array(initialCapacity).fill(-1);
  }

  /** The first line with `hash`, or -1 after recording `line` as the first one. */
  firstOrAdd(hash: number, line: number): number {
    if ((this.size + 1) * 4 > this.lines.length * 3) this.grow();
    const mask = this.lines.length - 1;
    for (let slot = (hash ^ (hash / 0x100000000)) & mask; ; slot = (slot + 1) & mask) {
      const existing = this.lines[slot] ?? -1;
      if (existing < 0) {
        this.hashes[slot] = hash;
        this.lines[slot] = line;
        this.size++;
        return -1;
      }
      if (this.hashes[slot] === hash) return existing;
    }
  }

  get count(): number {
    return this.size;
  }

  get bytes(): number {
    return this.hashes.byteLength + this.lines.byteLength;
  }

  private grow(): void {
    const oldHashes = this.hashes;
    const oldLines = this.lines;
    this.hashes = new Float64Array(oldLines.length * 2);
    this.lines = new Int32Array(oldLines.length * 2).fill(-1);
    this.size = 0;
    for (let i = 0; i < oldLines.length; i++) {
      const line = oldLines[i] ?? -1;
      if (line >= 0) this.firstOrAdd(oldHashes[i] ?? 0, line);
    }
  }
}
