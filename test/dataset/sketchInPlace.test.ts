// What the exact hash's pass over a line gives a plain record besides its hash. Its near-duplicate
// sketch is read from where the hash left its string values (dedupNear.ts MinHasher.computeValues,
// plainRecord.ts ContentValues, wasm.ts's shared memory): it must be the sketch of its content strings
// (computeParts) for every way the line can be written, and the analyser must take the strings' way
// whenever the values cannot be read. Its units past ASCII, for the token estimate, are counted by the
// hash too: they must be what the record's text counts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { hashJsonText } from '../../server/src/core/dataset/dedupExact';
import { MinHasher } from '../../server/src/core/dataset/dedupNear';
import { RecordAnalyzer } from '../../server/src/core/dataset/record';
import { exampleText } from '../../server/src/core/dataset/recordText';
import { countTokens } from '../../server/src/core/dataset/length';
import { estimateTokenCounter } from '../../server/src/core/tokenizer';
import { ContentValues, plainTurns } from '../../server/src/core/dataset/plainRecord';
import type { Turn } from '../../server/src/core/dataset/example';
import { validatorOptions } from './options';

type Format = 'messages' | 'sharegpt';
const FIELDS = {
  messages: {
    list: 'messages',
    speaker: 'role',
    text: 'content',
    speakers: ['system', 'user', 'assistant', 'developer'],
  },
  sharegpt: { list: 'conversations', speaker: 'from', text: 'value', speakers: ['system', 'human', 'gpt'] },
} as const;

/** A JSON string literal of `s`, each character written plainly or as an escape (both ways JSON allows). */
function literal(s: string, escapes: boolean[]): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const plain = JSON.stringify(s[i]).slice(1, -1);
    // Lone surrogates have no plain form; quotes, backslashes and controls no unescaped one.
    const mustEscape = plain.length > 1 || (c >= 0xd800 && c <= 0xdfff);
    out += mustEscape || escapes[i % escapes.length] ? `\\u${c.toString(16).padStart(4, '0')}` : s[i];
  }
  return out + '"';
}

const unit = fc.constantFrom(
  'a',
  'B',
  'word',
  ' ',
  '7',
  '\n',
  '"',
  '\\',
  '/',
  'é',
  '中',
  '日本',
  '😀',
  '\ud800',
  '\udc00',
  '\u3000',
  '、',
  '-',
  '{',
);
const content = fc.array(unit, { minLength: 1, maxLength: 12 }).map((us) => us.join(''));

/** A conversation of a plain shape (whether it is plain is plainTurns' call), and a way to write each turn. */
const conversation = fc.record({
  format: fc.constantFrom<Format>('messages', 'sharegpt'),
  turns: fc.array(
    fc.record({
      speaker: fc.nat(3),
      text: content,
      textFirst: fc.boolean(),
      repeated: fc.boolean(),
      escapes: fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
      space: fc.constantFrom('', ' ', '\t', ' \n '),
    }),
    { minLength: 1, maxLength: 6 },
  ),
});

type Conversation = typeof conversation extends fc.Arbitrary<infer T> ? T : never;

/** The line of `c`: keys in the chosen order, a speaker sometimes written twice (JSON.parse keeps the last). */
function lineOf(c: Conversation): string {
  const f = FIELDS[c.format];
  // A system turn first (developer is one too) when its speaker says so, then users and assistants
  // in turn: most conversations are plain.
  const system = c.turns[0]?.speaker === 0 || c.turns[0]?.speaker === 3;
  const turns = c.turns.map((t, i) => {
    const role =
      i === 0 && system
        ? (f.speakers[t.speaker] ?? 'system')
        : (f.speakers[1 + ((i - (system ? 1 : 0)) % 2)] as string);
    const sp = `"${f.speaker}":${t.space}"${role}"`;
    const tx = `"${f.text}"${t.space}:${literal(t.text, t.escapes)}`;
    const first = t.repeated ? `"${f.speaker}":"${f.speakers[2]}",${sp}` : sp;
    return `{${t.textFirst ? `${tx},${first}` : `${first},${tx}`}}`;
  });
  return `{"${f.list}":[${turns.join(',')}]}`;
}

function sketchOfStrings(parts: readonly string[]): { words: boolean; signature: Uint8Array; bandKeys: Uint32Array } {
  const h = new MinHasher();
  const words = h.computeParts(parts);
  return { words, signature: h.signature.slice(), bandKeys: h.bandKeys.slice() };
}

/**
 * Runs `check` on each of `runs` generated conversations that is plain: its line, its value, its turns,
 * and where its content is among its values. Returns how many were plain.
 */
function eachPlainConversation(
  runs: number,
  check: (line: string, value: unknown, turns: Turn[], content: ContentValues) => void,
): number {
  const content = new ContentValues();
  let plain = 0;
  fc.assert(
    fc.property(conversation, (c) => {
      const line = lineOf(c);
      const value: unknown = JSON.parse(line);
      const turns = plainTurns(value, c.format, content);
      if (!turns) return;
      plain++;
      check(line, value, turns, content);
    }),
    { numRuns: runs },
  );
  return plain;
}

describe('the sketch of a plain record read where the hash left it', () => {
  it('is the sketch of its content strings, however the line writes them', () => {
    const taken = eachPlainConversation(3000, (line, value, turns, content) => {
      const hashed = hashJsonText(line, value);
      assert.ok(hashed.values >= 0, line);
      const h = new MinHasher();
      const words = h.computeValues(content.indices, content.count, hashed.values);
      const expected = sketchOfStrings(exampleText({ kind: 'sft', messages: turns }).contentParts);
      assert.equal(words, expected.words, line);
      assert.deepEqual(h.signature, expected.signature, line);
      assert.deepEqual(h.bandKeys, expected.bandKeys, line);
    });
    // The property says something only if most conversations are plain.
    assert.ok(taken > 1500, `only ${taken} of 3000 conversations were plain`);
  });

  it('in the analyser, equals the strings way for every plain record, and falls back where it cannot read them', () => {
    const analyzer = new RecordAnalyzer(validatorOptions());
    const check = (line: string) => {
      const analysis = analyzer.analyze(line, 0);
      const value = JSON.parse(line) as unknown;
      const format = 'messages' in (value as object) ? 'messages' : 'sharegpt';
      const turns = plainTurns(value, format);
      if (!turns) return false;
      const expected = sketchOfStrings(exampleText({ kind: 'sft', messages: turns }).contentParts);
      // Content without words has no signature (the hasher's arrays keep the last record's then).
      assert.equal(analysis.hasSignature, expected.words, line.slice(0, 200));
      if (!expected.words) return true;
      assert.deepEqual(analyzer.hasher.signature, expected.signature, line.slice(0, 200));
      assert.deepEqual(analyzer.hasher.bandKeys, expected.bandKeys, line.slice(0, 200));
      return true;
    };
    let taken = 0;
    fc.assert(
      fc.property(conversation, (c) => void (check(lineOf(c)) && taken++)),
      { numRuns: 500 },
    );
    assert.ok(taken > 250, `only ${taken} of 500 conversations were plain`);
    // More string values than the hash lists (129 turns: 258 values), a line long enough for a memory of
    // its own, and a canonical form (a repeated key) all read the same as their strings.
    const many = Array.from({ length: 129 }, (_, i) => ({
      role: i % 2 ? 'assistant' : 'user',
      content: `turn ${i} words`,
    }));
    assert.ok(check(JSON.stringify({ messages: many })));
    // A line that grows the shared memory (the sketch's views of it are renewed), then a record that is
    // not plain whose content grows it again through the sketch (the hash's views are renewed).
    const medium = 'sit amet consectetur '.repeat(50_000);
    assert.ok(
      check(
        JSON.stringify({
          messages: [
            { role: 'user', content: medium },
            { role: 'assistant', content: 'fine' },
          ],
        }),
      ),
    );
    analyzer.analyze(JSON.stringify({ id: 1, messages: [{ role: 'user', content: medium + medium + medium }] }), 0);
    assert.ok(
      check(
        lineOf({ format: 'sharegpt', turns: [] }).replace(
          '[]',
          '[{"from":"human","value":"a b c"},{"from":"gpt","value":"d e f"}]',
        ),
      ),
    );
    const long = 'lorem ipsum dolor '.repeat(700_000);
    assert.ok(
      check(
        JSON.stringify({
          messages: [
            { role: 'user', content: 'a question here' },
            { role: 'assistant', content: long },
          ],
        }),
      ),
    );
    assert.ok(
      check(
        '{"messages":[{"role":"user","content":"first words","content":"the last words"},{"role":"assistant","content":"an answer"}]}',
      ),
    );
  });

  it('reads nothing when the indices are out of order or past the values listed', () => {
    const line = JSON.stringify({
      messages: [
        { role: 'user', content: 'one two three' },
        { role: 'assistant', content: 'four five six' },
      ],
    });
    const hashed = hashJsonText(line, JSON.parse(line));
    assert.equal(hashed.values, 4);
    const h = new MinHasher();
    assert.equal(h.computeValues(Int32Array.of(3, 1), 2, hashed.values), undefined);
    assert.equal(h.computeValues(Int32Array.of(1, 1), 2, hashed.values), undefined);
    assert.equal(h.computeValues(Int32Array.of(1, 4), 2, hashed.values), undefined);
    assert.equal(h.computeValues(new Int32Array(300), 300, hashed.values), undefined);
    // Read again from the start (the failed reads moved some bytes), the two contents sketch as strings do.
    hashJsonText(line, JSON.parse(line));
    assert.equal(h.computeValues(Int32Array.of(1, 3), 2, hashed.values), true);
    assert.deepEqual(h.signature, sketchOfStrings(['one two three', 'four five six']).signature);
  });
});

describe("a plain record's units past ASCII, counted by the hash", () => {
  it("are its text's, however the line writes them", () => {
    let counted = 0;
    eachPlainConversation(3000, (line, value, turns) => {
      const { nonAscii } = hashJsonText(line, value);
      assert.equal(nonAscii, exampleText({ kind: 'sft', messages: turns }).fullNonAscii, line);
      if (nonAscii > 0) counted++;
    });
    assert.ok(counted > 1000, `only ${counted} conversations had text past ASCII`);
    // Long texts: past the 127 sixteen-byte steps a count is summed after, with and without escapes.
    for (const unit of ['é', '中', '😀', 'a', 'é中😀ab']) {
      const long = unit.repeat(3001);
      for (const line of [
        JSON.stringify({
          messages: [
            { role: 'user', content: long },
            { role: 'assistant', content: 'ok' },
          ],
        }),
        `{"messages":[{"role":"user","content":${literal(long, [false, true])}},{"role":"assistant","content":"ok"}]}`,
      ]) {
        const value: unknown = JSON.parse(line);
        const turns = plainTurns(value, 'messages');
        assert.ok(turns);
        assert.equal(hashJsonText(line, value).nonAscii, exampleText({ kind: 'sft', messages: turns }).fullNonAscii);
      }
    }
  });

  it("give the analyser the token estimate of the record's text", () => {
    const analyzer = new RecordAnalyzer(validatorOptions());
    fc.assert(
      fc.property(conversation, (c) => {
        const line = lineOf(c);
        const value: unknown = JSON.parse(line);
        const turns = plainTurns(value, c.format);
        if (!turns) return;
        const expected = countTokens(exampleText({ kind: 'sft', messages: turns }), estimateTokenCounter(), 4096);
        assert.equal(analyzer.analyze(line, 0).tokens, expected.tokens, line);
      }),
      { numRuns: 1000 },
    );
  });
});
