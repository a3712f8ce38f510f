// secret/api-key and pii/email try their regexes only where a key's literal or an address can start
// (secrets.ts, pii.ts). Here they are held to the plain way of running the same patterns: each regex,
// global, over the whole text (its matches left to right, each search going on after the last).
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { KEY_PATTERNS, findSecrets } from '../../server/src/core/dataset/secrets';
import { EMAIL, findEmails } from '../../server/src/core/dataset/pii';
import type { TextMatch } from '../../server/src/core/dataset/pii';
import { fuzzSeed, seededRandom } from '../fuzz/seeded';

/** The reference: every pattern's regex made global and run over the whole text. */
function plainScan(text: string): [number, number, string][] {
  const out: [number, number, string][] = [];
  for (const pattern of KEY_PATTERNS) {
    const global = new RegExp(pattern.regex.source, 'g');
    for (let m = global.exec(text); m; m = global.exec(text)) {
      if (pattern.confirm && !pattern.confirm(m[0])) continue;
      out.push([m.index, m.index + m[0].length, pattern.provider]);
    }
  }
  return out;
}

function found(text: string): [number, number, string][] {
  const out: TextMatch[] = [];
  findSecrets(text, out);
  return out.filter((m) => m.rule === 'secret/api-key').map((m) => [m.start, m.end, m.kind]);
}

// Keys, near misses and the pieces they are made of, so that random texts put literals next to each
// other, inside one another and at word boundaries.
const PIECES = [
  'AKIA2JQWERTY7KLMN3PQ',
  'ASIAZXCVBNMQWERTYU23',
  'AKIAIOSFODNN7EXAMPLE',
  'ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8',
  'gho_',
  'github_pat_11ABCDEFG0abcdefghijkl_aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5oQ7sU9wY1aC3eG5iK7mO9qS',
  'sk-proj-Ab3De5Gh7Jk9Mn1Pq3St5Vx7Za9Ce1Gi3Km5Oq7Su9',
  'sk-ant-api03-Xy7Qw3Er5Ty9Ui1Op3As5Df7Gh9Jk1Lz3Xc5Vb7Nm9Qa2Ws4Ed6Rf8Tg0Yh2Uj4Ik6Ol8Pz1Xs3Dc5Fv7Gb9Hn1Jm3Kq5',
  'sk-',
  'sk_live_4eC39HqLyjWDarjtT1zdp7dc',
  'rk_live_',
  'hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh',
  'hf_',
  'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
  'xox',
  'AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q',
  'AIza',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
  'eyJ',
  'some_name',
  'Ab3De5Gh7Jk9',
  'A',
  'J',
  '_',
  '-',
  ' ',
  '\\n',
  '.',
  'x',
  '9',
];

/** `count` texts of 1 to `maxParts` random pieces each (seeded). */
function randomTexts(seed: number, pieces: readonly string[], maxParts: number, count: number): string[] {
  const rand = seededRandom(fuzzSeed(seed));
  return Array.from({ length: count }, () => {
    let text = '';
    const parts = 1 + Math.floor(rand() * maxParts);
    for (let k = 0; k < parts; k++) text += pieces[Math.floor(rand() * pieces.length)];
    return text;
  });
}

describe('secret/api-key', () => {
  it('finds what each pattern run over the whole text finds, in the same order', () => {
    let keys = 0;
    for (const text of randomTexts(29, PIECES, 8, 4000)) {
      const expected = plainScan(text);
      keys += expected.length;
      assert.deepEqual(found(text), expected, text);
    }
    // The texts hold keys often enough for the comparison to mean something.
    assert.ok(keys > 800, `${keys} keys`);
  });

  it('reports a key once when another key of its kind could start inside it', () => {
    // The body of an OpenAI key may hold "-sk-", where a second key could start (a hyphen is a boundary).
    const key = 'sk-proj-Ab3De5Gh7Jk9Mn1Pq3St5Vx7Za9Ce1Gi3-sk-Km5Oq7Su9Ab3De5Gh7Jk9Mn1Pq3St5Vx7Z';
    assert.deepEqual(found(`key ${key}`), [[4, 4 + key.length, 'OpenAI API key']]);
    assert.deepEqual(found(`key ${key}`), plainScan(`key ${key}`));
  });
});

/** Every address EMAIL finds run globally, before the file-extension and reserved-domain checks. */
function plainEmails(text: string): [number, number][] {
  const global = new RegExp(EMAIL.source, 'g');
  const out: [number, number][] = [];
  for (let m = global.exec(text); m; m = global.exec(text)) out.push([m.index, m.index + m[0].length]);
  return out;
}

const EMAIL_PIECES = [
  'bob',
  'jane.doe+ml',
  '@acme-corp.com',
  '@mail.x9.org',
  '@',
  '.',
  '-',
  '_',
  '%',
  'acme-corp',
  '.com',
  '.uk',
  'x9',
  ' ',
  '"',
  '\\n',
];

describe('pii/email', () => {
  it('finds what EMAIL run over the whole text finds', () => {
    let addresses = 0;
    for (const text of randomTexts(31, EMAIL_PIECES, 12, 6000)) {
      const expected = plainEmails(text);
      addresses += expected.length;
      const out: TextMatch[] = [];
      findEmails(text, out);
      // findEmails leaves out reserved domains and file extensions after matching; none of these pieces make either.
      assert.deepEqual(
        out.map((m) => [m.start, m.end]),
        expected,
        text,
      );
    }
    assert.ok(addresses > 1000, `${addresses} addresses`);
  });
});
