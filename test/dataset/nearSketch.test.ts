// The near-duplicate sketch's WebAssembly (server/src/core/dataset/nearSketch.wat) against a plain
// reference of the same scheme written here from its description (words over code points, the word
// hash with BigInt), on random text mixing every class of character the tokenizer distinguishes; and
// the committed module against the .wat it is assembled from.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateSftJsonl } from '../../bench/dataset';
import { MinHasher } from '../../server/src/core/dataset/dedupNear';
import { seededRandom } from '../fuzz/seeded';

const EMPTY = 0x7fffffff;
const encoder = new TextEncoder();

function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const separator = (c: number) =>
  (c >= 0x80 && c <= 0xbf) ||
  (c >= 0x2000 && c <= 0x206f) ||
  (c >= 0x3000 && c <= 0x303f) ||
  (c >= 0xff00 && c <= 0xff0f);
const ideograph = (c: number) =>
  (c >= 0x2e80 && c <= 0x9fff) || (c >= 0xac00 && c <= 0xd7af) || (c >= 0xf900 && c <= 0xfaff);

/** The words: runs of ASCII letters and digits (lower-cased) and other non-separators; an ideograph alone. */
function referenceWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  for (const unit of text) {
    // A lone surrogate is written to UTF-8 as U+FFFD, which is a word character.
    const lone = unit.length === 1 && unit.charCodeAt(0) >= 0xd800 && unit.charCodeAt(0) <= 0xdfff;
    const ch = lone ? '\ufffd' : unit;
    const c = ch.codePointAt(0) as number;
    if (c < 0x80 ? /[A-Za-z0-9]/.test(ch) : !separator(c) && !ideograph(c)) {
      word += c < 0x80 ? ch.toLowerCase() : ch;
      continue;
    }
    if (word) words.push(word);
    word = '';
    if (c >= 0x80 && !separator(c) && ideograph(c)) words.push(ch);
  }
  if (word) words.push(word);
  return words;
}

/** A word's UTF-8 bytes, 8 a step little-endian (the last zero-padded): h = (h ^ step) * φ64; high ^ low half. */
function referenceWordHash(word: string): number {
  const bytes = encoder.encode(word);
  const mask = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  for (let s = 0; s < bytes.length; s += 8) {
    let step = 0n;
    for (let k = 0; k < 8 && s + k < bytes.length; k++) step |= BigInt(bytes[s + k] as number) << BigInt(8 * k);
    h = ((h ^ step) * 0x9e3779b97f4a7c15n) & mask;
  }
  return Number(h >> 32n) ^ Number(h & 0xffffffffn);
}

/** Both sketches: each shingle's mixed hash lowers one signature bin and one bin in each key permutation. */
function referenceSketch(text: string): { bins: number[]; keyBins: number[]; words: number } {
  const bins = new Array<number>(128).fill(EMPTY);
  const keyBins = new Array<number>(40).fill(EMPTY);
  const add = (shingle: number) => {
    const x = fmix32(shingle);
    bins[x >>> 25] = Math.min(bins[x >>> 25] as number, x & 0x1ffffff);
    const k1 = ((x >>> 24) * 20) >>> 8;
    keyBins[k1] = Math.min(keyBins[k1] as number, (x >>> 16) & 0xff);
    const k2 = 20 + ((((x >>> 8) & 0xff) * 20) >>> 8);
    keyBins[k2] = Math.min(keyBins[k2] as number, x & 0xff);
  };
  const hashes = referenceWords(text).map(referenceWordHash);
  const mix = (a: number, b: number, c: number) => Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ c;
  for (let i = 2; i < hashes.length; i++)
    add(mix(hashes[i - 2] as number, hashes[i - 1] as number, hashes[i] as number));
  if (hashes.length === 1) add(mix(0, hashes[0] as number, 1));
  if (hashes.length === 2) add(mix(hashes[0] as number, hashes[1] as number, 2));
  return { bins, keyBins, words: hashes.length };
}

/** Key bin b's probe sequence: fmix32 of (b + 1, attempt + 1), scaled to the 40 key bins. */
const probe = (b: number, attempt: number) =>
  Math.floor((fmix32(Math.imul(b + 1, 0x9e3779b1) ^ Math.imul(attempt + 1, 0x85ebca77)) / 2 ** 32) * 40);

/**
 * What is stored: a signature byte per bin (0 empty, else 1 + the low 16 bits scaled to 0..254), and
 * 10 band keys of 4 key bins each, an empty key bin replaced by the first filled one of its probe
 * sequence (16 probes, then the bins after it in turn).
 */
function referencePack(bins: number[], keyBins: number[]): { signature: number[]; bandKeys: number[] } {
  const signature = bins.map((v) => (v === EMPTY ? 0 : 1 + Math.floor(((v & 0xffff) * 255) / 65536)));
  const bandKeys: number[] = [];
  for (let band = 0; band < 10; band++) {
    let k = Math.imul(band + 1, 0x9e3779b1);
    for (let r = 0; r < 4; r++) {
      const b = band * 4 + r;
      let v = keyBins[b] as number;
      for (let attempt = 0; v === EMPTY; attempt++)
        v = keyBins[attempt < 16 ? probe(b, attempt) : (b + attempt) % 40] as number;
      k = Math.imul(k ^ v, 0x01000193);
    }
    bandKeys.push(fmix32(k));
  }
  return { signature, bandKeys };
}

function assertSameSketch(hasher: MinHasher, text: string): void {
  const expected = referenceSketch(text);
  assert.equal(hasher.compute(text), expected.words > 0, JSON.stringify(text));
  if (expected.words === 0) return;
  assert.deepEqual([...hasher.bins], expected.bins, JSON.stringify(text));
  assert.deepEqual([...hasher.keyBins], expected.keyBins, JSON.stringify(text));
  const packed = referencePack(expected.bins, expected.keyBins);
  assert.deepEqual([...hasher.signature], packed.signature, JSON.stringify(text));
  assert.deepEqual([...hasher.bandKeys], packed.bandKeys, JSON.stringify(text));
}

// Every class the tokenizer tells apart, in ASCII blocks and across their 16-byte edges.
const PIECES = [
  'a',
  'Z',
  'q',
  '0',
  '9',
  ' ',
  '\n',
  '\t',
  ',',
  '-',
  '_',
  '@',
  '`',
  '{',
  'é',
  'ß',
  'Ω',
  'ж',
  '\u00a0',
  '\u00bf',
  '\u2019',
  '\u2014',
  '\u3001',
  '\u3002',
  '\uff01',
  '\uff10',
  '中',
  '文',
  '한',
  '\ufa00',
  '😀',
  '\ud800',
  '\udc00',
  // The first and last code point of each non-ASCII range, and one past it.
  '\u00c0',
  '\u1fff',
  '\u2000',
  '\u206f',
  '\u2070',
  '\u2e7f',
  '\u2e80',
  '\u9fff',
  '\ua000',
  '\uabff',
  '\uac00',
  '\ud7af',
  '\ud7b0',
  '\uf8ff',
  '\uf900',
  '\ufaff',
  '\ufb00',
  '\u2fff',
  '\u3000',
  '\u303f',
  '\u3040',
  '\ufeff',
  '\uff00',
  '\uff0f',
  'hello',
  'WORLD',
  'eightch8',
  'ninechars',
  'internationalization',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789',
];

/** 2,600 words, most of them distinct. */
const MANY_WORDS = Array.from({ length: 2600 }, (_, i) => `w${(i * 7919) % 10007}`).join(' ');

describe('near-duplicate sketch (WebAssembly)', () => {
  it('matches the reference on random text of every character class', () => {
    const rand = seededRandom(11);
    const hasher = new MinHasher();
    for (let t = 0; t < 3000; t++) {
      let text = '';
      const pieces = Math.floor(rand() * 40);
      for (let k = 0; k < pieces; k++) text += PIECES[Math.floor(rand() * PIECES.length)];
      assertSameSketch(hasher, text);
    }
  });

  it('matches the reference on the benchmark records and on edge cases', () => {
    const hasher = new MinHasher();
    const lines = generateSftJsonl(200_000, 5);
    for (const line of lines) {
      const record = JSON.parse(line) as { messages: { content: string }[] };
      assertSameSketch(hasher, record.messages.map((m) => m.content).join('\n'));
    }
    for (const text of [
      '',
      ' ',
      'a',
      'a b',
      'a b c',
      'x'.repeat(16),
      'x'.repeat(17),
      // Around the 64-byte ASCII blocks: words across and ending at their edges, one longer than a block.
      'x'.repeat(63),
      'x'.repeat(64),
      'x'.repeat(65),
      `${'w'.repeat(130)} tail words`,
      `${'ab '.repeat(21)}c`,
      `${'ab '.repeat(21)}cd ef`,
      `${'q'.repeat(63)}é more words`,
      `head ${'long'.repeat(40)} and ${'é'.repeat(40)} then ascii words again after it`,
      // More words than the module lists before hashing them (1,024): shingles across its flushes.
      MANY_WORDS,
      `${MANY_WORDS} é ${MANY_WORDS} 中 end`,
      `${'y'.repeat(15)}é`,
      '中、文',
      'ab中cd',
    ])
      assertSameSketch(hasher, text);
  });

  it('CJK punctuation separates words; an ideograph is a word of its own', () => {
    assert.deepEqual(referenceWords('中、文。Hello！ab中cd'), ['中', '文', 'hello', 'ab', '中', 'cd']);
    const a = new MinHasher();
    const b = new MinHasher();
    assert.ok(a.compute('中、文、字') && b.compute('中 文 字'));
    assert.deepEqual(a.signature, b.signature);
  });

  it('a text too long for the shared memory is sketched by an instance of its own, alike', () => {
    // Four words repeated: every repetition past the second adds no new shingle, so the sketch of
    // 12 million characters equals that of three repetitions.
    const unit = 'alpha beta gamma delta ';
    const long = unit.repeat(Math.ceil(12_000_000 / unit.length));
    const a = new MinHasher();
    const b = new MinHasher();
    assert.ok(a.compute(long) && b.compute(unit.repeat(3)));
    assert.deepEqual(a.bins, b.bins);
    assert.deepEqual(a.keyBins, b.keyBins);
    // The shared instance is still right after it.
    assertSameSketch(a, 'after the long one, a short record');
  });
});
