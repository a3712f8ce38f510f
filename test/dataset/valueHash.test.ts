// The exact-duplicate hash's WebAssembly (server/src/core/dataset/valueHash.wat) against a plain
// reference of the scheme written here from its description, over parsed values (BigInt arithmetic,
// Object.keys, String(number), TextEncoder); and the promise behind it: a value hashes the same however
// it is written (whitespace, key order, escapes, number spelling, repeated keys), and different values
// hash differently.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ExactDuplicateTable,
  HINT_AT,
  HINT_ESCAPE,
  HINT_OPENER,
  HINT_PHONE,
  hashJsonText,
} from '../../server/src/core/dataset/dedupExact';
import { PHONE_HINT } from '../../server/src/core/dataset/pii';
import { seededRandom } from '../fuzz/seeded';

const MASK = (1n << 64n) - 1n;
const K = 0x9e3779b97f4a7c15n;
const encoder = new TextEncoder();

function fmix(x: bigint): bigint {
  x ^= x >> 33n;
  x = (x * 0xff51afd7ed558ccdn) & MASK;
  x ^= x >> 33n;
  x = (x * 0xc4ceb9fe1a85ec53n) & MASK;
  return x ^ (x >> 33n);
}

/** Little-endian 8-byte words (the last one zero-padded), h = (h ^ w) * K, then fmix(h + length). */
function bytesHash(text: string): bigint {
  const bytes = encoder.encode(text);
  let h = 0x243f6a8885a308d3n;
  for (let i = 0; i < bytes.length; i += 8) {
    let w = 0n;
    for (let k = Math.min(7, bytes.length - i - 1); k >= 0; k--) w = (w << 8n) | BigInt(bytes[i + k] as number);
    h = ((h ^ w) * K) & MASK;
  }
  return fmix((h + BigInt(bytes.length)) & MASK);
}

const SEED = 0x452821e638d01377n;

function referenceValue(v: unknown): bigint {
  if (typeof v === 'string') return (bytesHash(v) + 1n) & MASK;
  if (typeof v === 'number') return (bytesHash(String(v)) + 2n) & MASK;
  if (v === true) return 0x3f84d5b5b5470917n;
  if (v === false) return 0x9216d5d98979fb1bn;
  if (v === null) return 0xd1310ba698dfb5acn;
  let acc = SEED;
  let count = 0n;
  if (Array.isArray(v)) {
    for (const item of v) {
      acc = ((acc ^ referenceValue(item)) * K) & MASK;
      acc ^= acc >> 29n;
      count++;
    }
    return (fmix((acc + count * 0x94d049bb133111ebn) & MASK) + 7n) & MASK;
  }
  const obj = v as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    acc = (acc + fmix(bytesHash(key) ^ ((referenceValue(obj[key]) * 0xbf58476d1ce4e5b9n) & MASK))) & MASK;
    count++;
  }
  return (fmix((acc + count * 0x94d049bb133111ebn) & MASK) + 6n) & MASK;
}

function referenceHash(v: unknown): number {
  return Number(fmix(referenceValue(v)) >> 11n);
}

function allAscii(v: unknown): boolean {
  if (typeof v === 'string') return !/[^\x00-\x7f]/.test(v);
  if (Array.isArray(v)) return v.every(allAscii);
  if (v && typeof v === 'object') return Object.entries(v).every(([k, x]) => allAscii(k) && allAscii(x));
  return true;
}

/** Values JSON can carry, with strings of every kind of code unit (lone surrogates included). */
const stringArb = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom(
      '\\',
      '"',
      '/',
      '\n',
      '\t',
      '\b',
      '\f',
      '\r',
      '\u0000',
      '\u2028',
      'é',
      '\ud83d',
      '\ude00',
      '😀',
      'x',
    ),
    maxLength: 20,
  }),
);
const numberArb = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -0, 1e21, 123456789012345, 1234567890123456, 2 ** 53 + 2, 0.1, 1e-7, -1.5),
  // Decimals at the edges of what is hashed as written: 15 and 16 significant digits, 5 and 6 zeros
  // after the point, the shortest form of a sum that is not its decimal.
  fc.constantFrom(0.87, 8.5, 123456789012345.6, 12345678901234.5, 0.000001, 0.0000015, 0.0000001, 0.1 + 0.2, -0.5),
);
const { value: valueArb } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    stringArb,
    numberArb,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(stringArb, tie('value'), { maxKeys: 6 }),
  ),
}));

/** Writes `v` as JSON another way: spacing, key order, escapes, number spelling and repeated keys drawn from `rand`. */
function rewrite(v: unknown, rand: () => number): string {
  const ws = () => [' ', '', '\n', '\t', '  ', '\r\n'][Math.floor(rand() * 6)] as string;
  if (typeof v === 'string') return writeString(v, rand);
  if (typeof v === 'number') {
    const forms = [JSON.stringify(v)];
    if (Number.isFinite(v)) forms.push(v.toExponential(), v.toExponential().toUpperCase().replace('E+', 'E'));
    if (Number.isInteger(v) && Math.abs(v) < 1e15) forms.push(`${v}.0`, `${v}.000e0`);
    // A trailing zero after a decimal point, and a leading one before an exponent's digits.
    if (/^-?\d+\.\d+$/.test(JSON.stringify(v))) forms.push(`${JSON.stringify(v)}0`, `${JSON.stringify(v)}e+00`);
    const form = forms[Math.floor(rand() * forms.length)] as string;
    assert.equal(JSON.parse(form), v === 0 ? JSON.parse(form) : v, `${form} is not ${v}`);
    return form;
  }
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + ws() + v.map((x) => rewrite(x, rand)).join(ws() + ',' + ws()) + ws() + ']';
  const members = Object.entries(v).map(([k, x]) => writeString(k, rand) + ws() + ':' + ws() + rewrite(x, rand));
  // A repeated key: JSON.parse keeps the last one, so an earlier member with another value is not seen.
  const keys = Object.keys(v);
  if (keys.length > 0 && rand() < 0.2) members.unshift(writeString(keys[0] as string, rand) + ':"shadowed"');
  for (let i = members.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    // Shuffle only the members after a repeated key's first: the last occurrence must stay last.
    if (members[i]?.endsWith(':"shadowed"') || members[j]?.endsWith(':"shadowed"')) continue;
    [members[i], members[j]] = [members[j] as string, members[i] as string];
  }
  return '{' + ws() + members.join(',' + ws()) + ws() + '}';
}

function writeString(s: string, rand: () => number): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) as number;
    const r = rand();
    const escaped = JSON.stringify(ch).slice(1, -1);
    if (escaped !== ch || r < 0.2) {
      // \uXXXX for every UTF-16 unit (a pair as two escapes), or JSON.stringify's own escape.
      out +=
        r < 0.5 || escaped === ch
          ? [...Array(ch.length).keys()]
              .map((i) => {
                // Hex digits in either case (JSON allows both).
                const hex = ch.charCodeAt(i).toString(16).padStart(4, '0');
                return '\\u' + (rand() < 0.5 ? hex : hex.toUpperCase());
              })
              .join('')
          : escaped;
    } else if (ch === '/' && r < 0.4) out += '\\/';
    else out += code < 0x20 ? escaped : ch;
  }
  return out + '"';
}

/** An unpaired surrogate as U+FFFD: the hash reads strings as UTF-8, as TextEncoder writes them. */
function wellFormed(s: string): string {
  return s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/**
 * JSON with keys sorted and unpaired surrogates as U+FFFD: equal for the values the hash takes as equal
 * (what "different values" means below).
 */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(canonical).join(',') + ']';
  if (v && typeof v === 'object')
    return (
      '{' +
      Object.keys(v)
        .sort()
        .map((k) => JSON.stringify(wellFormed(k)) + ':' + canonical((v as Record<string, unknown>)[k]))
        .join(',') +
      '}'
    );
  return JSON.stringify(typeof v === 'string' ? wellFormed(v) : v);
}

function hashOf(text: string): { hash: number; ascii: boolean } {
  const { hash, ascii } = hashJsonText(text, JSON.parse(text));
  return { hash, ascii };
}

describe('exact-duplicate hash (valueHash.wat)', () => {
  it('equals the reference of the scheme, and is the same however the value is written', () => {
    fc.assert(
      fc.property(valueArb, fc.integer({ min: 1, max: 2 ** 31 - 1 }), (value, seed) => {
        const plain = JSON.stringify(value);
        const parsed: unknown = JSON.parse(plain);
        const expected = referenceHash(parsed);
        assert.deepEqual(hashOf(plain), { hash: expected, ascii: allAscii(parsed) });
        const rewritten = rewrite(parsed, seededRandom(seed));
        assert.equal(canonical(JSON.parse(rewritten)), canonical(parsed), rewritten);
        assert.deepEqual(hashOf(rewritten), { hash: expected, ascii: allAscii(parsed) }, rewritten);
      }),
      { numRuns: 1500 },
    );
  });

  it('tells different values apart', () => {
    const seen = new Map<number, string>();
    fc.assert(
      fc.property(valueArb, (value) => {
        const text = canonical(JSON.parse(JSON.stringify(value)));
        const { hash } = hashOf(text);
        const before = seen.get(hash);
        if (before !== undefined) assert.equal(before, text, 'two different values share a hash');
        seen.set(hash, text);
      }),
      { numRuns: 10000 },
    );
    assert.ok(seen.size > 4000, `only ${seen.size} distinct values were drawn`);
  });

  it('on the cases that need the canonical text or the decoder', () => {
    const same: [string, string][] = [
      ['{"a":1.0}', '{"a":1}'],
      ['{"a":-0}', '{"a":0}'],
      ['{"a":1E3}', '{"a":1000}'],
      ['{"a":12345678901234567890}', '{"a":12345678901234567000}'],
      ['{"a":0.870}', '{"a":0.87}'],
      ['{"a":0.0000001}', '{"a":1e-7}'],
      ['{"a":0.30000000000000004}', '{"a":3.0000000000000004e-1}'],
      ['{"a":-0.0}', '{"a":0}'],
      ['{"a":0.10000000000000001}', '{"a":0.1}'],
      ['{"a":5.0000000000000001}', '{"a":5}'],
      ['{"a":1,"a":2}', '{"a":2}'],
      ['{"a":"\\u00e9\\ud83d\\ude00"}', '{"a":"é😀"}'],
      ['{"a":"\\ud83d x"}', '{"a":"\\ufffd x"}'],
      ['["\\"\\\\\\/\\b\\f\\n\\r\\t"]', '["\\"\\\\/\\b\\f\\n\\r\\t"]'],
      [' { "b" : [ 1 , { } , [ ] ] , "a" : true } ', '{"a":true,"b":[1,{},[]]}'],
      [
        `{${Array.from({ length: 40 }, (_, i) => `"k${i}":${i}`).join(',')}}`,
        `{${Array.from({ length: 40 }, (_, i) => `"k${39 - i}":${39 - i}`).join(',')}}`,
      ],
    ];
    for (const [a, b] of same) {
      assert.equal(hashOf(a).hash, hashOf(b).hash, `${a} and ${b}`);
      assert.equal(hashOf(a).hash, referenceHash(JSON.parse(a)), a);
    }
    const different: [string, string][] = [
      ['[]', '{}'],
      ['[1,2]', '[2,1]'],
      ['{"a":[1]}', '{"a":1}'],
      ['"1"', '1'],
      ['{"a":"b"}', '{"b":"a"}'],
      ['{"a":"x","b":"y"}', '{"a":"y","b":"x"}'],
      ['["a\\u0000"]', '["a"]'],
      ['[[]]', '[]'],
    ];
    for (const [a, b] of different) assert.notEqual(hashOf(a).hash, hashOf(b).hash, `${a} and ${b}`);
  });

  it('leaves a value nested past 128 levels unhashed, and hashes long texts with an instance of their own', () => {
    const deep = '['.repeat(200) + ']'.repeat(200);
    assert.equal(hashOf(deep).hash, -1);
    assert.equal(hashOf('[1]').hash, referenceHash([1]), 'the shared instance is still right after it');
    // 12 million characters: more than the shared instance's memory may grow to.
    const long = 'ab'.repeat(6_000_000);
    const escaped = `["${long.slice(0, -1)}\\u0062"]`;
    assert.equal(hashOf(`["${long}"]`).hash, hashOf(escaped).hash);
    assert.notEqual(hashOf(`["${long}"]`).hash, hashOf(`["${long}a"]`).hash);
    assert.equal(hashOf('{"x":"y"}').hash, referenceHash({ x: 'y' }));
  });

  it("gives the PII detectors' and the placeholder check's hints of the line itself, across every 16-byte step", () => {
    const unit = fc.constantFrom(
      '1',
      '2',
      '+',
      '@',
      '\\',
      'u',
      'x',
      ' ',
      '(',
      ')',
      '-',
      '.',
      'é',
      '中',
      '{',
      '[',
      '<',
      'Z',
      '`',
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 60 }), fc.nat({ max: 20 }), fc.boolean(), (inner, pad, decimal) => {
        // The string is valid JSON whatever the characters: backslashes are doubled, and a number that
        // needs the canonical text (1.5) must not change the hints, which are the line's.
        const line = `{"${'p'.repeat(pad)}":${decimal ? '1.5' : '1'},"s":${JSON.stringify(inner)}}`;
        const { hints } = hashJsonText(line, JSON.parse(line));
        assert.equal((hints & HINT_AT) !== 0, line.includes('@'), line);
        assert.equal((hints & HINT_ESCAPE) !== 0, line.includes('\\u'), line);
        assert.equal((hints & HINT_PHONE) !== 0, /\d{3}|\+\d/.test(line), line);
        assert.equal((hints & HINT_OPENER) !== 0, /[{[<][A-Za-z]|\{\{/.test(line), line);
        // What pii.ts's own pre-check lets through, the hint lets through.
        if (PHONE_HINT.test(line)) assert.ok((hints & HINT_PHONE) !== 0, line);
      }),
      { numRuns: 3000 },
    );
  });

  it('measures how deep a value nests, the root container being 1, whether or not it needs the canonical text', () => {
    const depthOf = (v: unknown): number =>
      v !== null && typeof v === 'object'
        ? 1 + Math.max(0, ...(Array.isArray(v) ? v : Object.values(v as object)).map(depthOf))
        : 0;
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.boolean(), (value, spaced) => {
        // Spaced text, or numbers such as 1.0 or 1e3 that need the canonical pass, must not change the depth.
        const text = JSON.stringify(value, null, spaced ? 1 : undefined);
        assert.equal(hashJsonText(text, value).depth, depthOf(value), text);
      }),
      { numRuns: 2000 },
    );
    assert.equal(hashJsonText('[1.0]', [1]).depth, 1);
    for (const levels of [63, 64, 65, 128]) {
      const text = '['.repeat(levels) + ']'.repeat(levels);
      assert.equal(hashJsonText(text, JSON.parse(text)).depth, levels);
    }
    // Past 128 levels the hash gives up, and says so.
    const deep = '{"a":'.repeat(129) + '1' + '}'.repeat(129);
    assert.deepEqual(
      [hashJsonText(deep, JSON.parse(deep)).hash, hashJsonText(deep, JSON.parse(deep)).depth],
      [-1, 129],
    );
  });

  it('reads numbers written as String() writes them without the canonical text (no second pass)', () => {
    const stringify = JSON.stringify;
    let calls = 0;
    JSON.stringify = ((...args: Parameters<typeof stringify>) => {
      calls++;
      return stringify(...args);
    }) as typeof stringify;
    try {
      for (const text of ['{"score":0.87,"n":[1,-2.5,100,0.000001,123456789012345]}', '[8.5,-0.5,0]']) {
        hashJsonText(text, JSON.parse(text));
      }
      assert.equal(calls, 0, 'a record of plain numbers took the canonical text');
      for (const text of ['{"score":0.870}', '[1e3]', '[-0]', '[0.0000001]', '[0.30000000000000004]']) {
        hashJsonText(text, JSON.parse(text));
      }
      assert.equal(calls, 5);
    } finally {
      JSON.stringify = stringify;
    }
  });
});

describe('ExactDuplicateTable', () => {
  it('names the first line of every hash through many doublings, hash 0 and 53-bit hashes included', () => {
    const rand = seededRandom(23);
    const table = new ExactDuplicateTable(4);
    const firstOf = new Map<number, number>();
    const pool = [0, 2 ** 53 - 1, 2 ** 32, 2 ** 32 + 1];
    for (let line = 0; line < 20_000; line++) {
      const hash =
        rand() < 0.3
          ? (pool[Math.floor(rand() * pool.length)] as number)
          : Math.floor(rand() * 2 ** 21) * 2 ** 32 + Math.floor(rand() * 2 ** 32);
      const expected = firstOf.get(hash) ?? -1;
      if (expected < 0) firstOf.set(hash, line);
      assert.equal(table.firstOrAdd(hash, line), expected, `line ${line}`);
    }
    assert.equal(table.count, firstOf.size);
    for (const [hash, line] of firstOf) assert.equal(table.firstOrAdd(hash, 99_999), line);
  });
});
