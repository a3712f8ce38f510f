// The content of a record is kept as its turns' pieces, read without joining them: the length check's
// trimmed length and the near-duplicate sketch must equal what the joined text would give.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MinHasher } from '../../server/src/core/dataset/dedupNear';
import type { Example, Turn } from '../../server/src/core/dataset/example';
import { exampleText, trimmedJoinLength } from '../../server/src/core/dataset/recordText';
import { isBlankText, isTrimSpace, leadingSpace, trailingSpace } from '../../server/src/core/dataset/whitespace';

// Pieces made of words and every kind of whitespace trim() removes, so that whole pieces can be blank.
const pieceArb = fc.string({
  unit: fc.constantFrom('a', 'b', 'word', ' ', '\n', '\t', '\u00a0', '\u2028', '\ufeff', '\u3000', 'é', '中'),
  maxLength: 8,
});

describe('record content pieces', () => {
  it('trimmedJoinLength is the trimmed length of the joined pieces', () => {
    fc.assert(
      fc.property(fc.array(pieceArb, { maxLength: 6 }), (parts) => {
        assert.equal(trimmedJoinLength(parts), parts.join('\n').trim().length, JSON.stringify(parts));
      }),
      { numRuns: 3000 },
    );
  });

  it('the sketch of the pieces is the sketch of the joined text', () => {
    const a = new MinHasher();
    const b = new MinHasher();
    fc.assert(
      fc.property(fc.array(pieceArb, { maxLength: 6 }), (parts) => {
        const joined = parts.join('\n');
        assert.equal(a.computeParts(parts), b.compute(joined), JSON.stringify(parts));
        if (b.compute(joined)) {
          assert.deepEqual(a.signature, b.signature);
          assert.deepEqual(a.bandKeys, b.bandKeys);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('the sketch of pieces longer than its staging area is the sketch of the joined text', () => {
    // A piece after the first is encoded into a 64 KiB stage and moved, unless it may not fit (3 bytes a unit).
    const words = (n: number, seed: number): string =>
      Array.from({ length: n }, (_, i) => `w${(i * 7919 + seed) % 5003}`).join(' ');
    // Distinct words of two-byte letters: 54,000 units, 102,000 bytes (more than the stage holds).
    const accented = (n: number): string =>
      Array.from({ length: n }, (_, i) =>
        Array.from({ length: 8 }, (_, d) => 'éñüö'.charAt(((i * 7919) >> (2 * d)) & 3)).join(''),
      ).join(' ');
    const a = new MinHasher();
    const b = new MinHasher();
    for (const parts of [
      [words(10, 1), words(5000, 2), words(10, 3)],
      [words(3000, 4), 'é'.repeat(21845), words(4000, 5), accented(6000)],
    ]) {
      assert.equal(a.computeParts(parts), b.compute(parts.join('\n')));
      assert.deepEqual(a.signature, b.signature);
      assert.deepEqual(a.bandKeys, b.bandKeys);
    }
  });

  it('whitespace is what trim() removes, for every UTF-16 unit and any text', () => {
    for (let c = 0; c <= 0xffff; c++) {
      assert.equal(isTrimSpace(c), String.fromCharCode(c).trim() === '', `U+${c.toString(16)}`);
    }
    const spaces = ' \t\n\v\f\r\u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000\ufeff\u200b\u0085';
    const textArb = fc.string({ unit: fc.constantFrom(...spaces.split(''), 'a', 'é', '中'), maxLength: 8 });
    fc.assert(
      fc.property(textArb, (s) => {
        assert.equal(isBlankText(s), s.trim() === '', JSON.stringify(s));
        assert.equal(leadingSpace(s), s.length - s.trimStart().length, JSON.stringify(s));
        assert.equal(trailingSpace(s), s.length - s.trimEnd().length, JSON.stringify(s));
      }),
      { numRuns: 3000 },
    );
  });

  it("an example's text and content pieces are its turns', in order, whatever turns are empty or system", () => {
    const turnArb: fc.Arbitrary<Turn> = fc.record(
      {
        role: fc.constantFrom('system', 'user', 'assistant', 'tool'),
        content: fc.constantFrom('', 'hello', 'an answer', ' ', 'été', '河流 and a river', '😀'),
        reasoning: fc.constantFrom('first I think', ''),
        tool_calls: fc.constant([{ name: 'lookup', arguments: { q: 'x' } }]),
      },
      { requiredKeys: ['role', 'content'] },
    );
    const turnsArb = fc.array(turnArb, { maxLength: 5 });
    const exampleArb = fc.record(
      {
        kind: fc.constantFrom('sft', 'preference', 'kto') as fc.Arbitrary<Example['kind']>,
        messages: turnsArb,
        chosen: turnsArb,
        rejected: turnsArb,
        completion: turnsArb,
        tools: fc.constant<Record<string, unknown>[]>([{ type: 'function', function: { name: 'lookup' } }]),
      },
      { requiredKeys: ['kind', 'messages'] },
    );
    // The rule written plainly: each turn's text (its content, then its calls, after its reasoning).
    const textOf = (t: Turn): string => {
      let text = t.content;
      if (t.tool_calls && t.tool_calls.length > 0) {
        text = [
          ...(text ? [text] : []),
          ...t.tool_calls.map((c) => JSON.stringify({ name: c.name, arguments: c.arguments })),
        ].join('\n');
      }
      return t.reasoning ? `${t.reasoning}\n${text}` : text;
    };
    fc.assert(
      fc.property(exampleArb, (example) => {
        const pieces: [string, string, boolean][] = [];
        if (example.tools) pieces.push(['tools', JSON.stringify(example.tools), false]);
        for (const list of [example.messages, example.chosen, example.rejected, example.completion]) {
          for (const t of list ?? []) pieces.push([t.role, textOf(t), t.role !== 'system']);
        }
        const text = exampleText(example);
        const content = pieces.filter(([, t, isContent]) => isContent && t !== '').map(([, t]) => t);
        assert.deepEqual([...text.contentParts], content);
        assert.equal(text.contentParts.length, content.length);
        assert.equal(text.turns, pieces.length);
        const full = pieces.map(([role, t]) => `${role}\n${t}\n`).join('');
        assert.equal(text.full, full);
        assert.equal(text.fullLength, full.length);
        let nonAscii = 0;
        for (let i = 0; i < full.length; i++) if (full.charCodeAt(i) >= 0x80) nonAscii++;
        assert.equal(text.fullNonAscii, nonAscii);
      }),
      { numRuns: 2000 },
    );
  });
});
