// The plainest conversation records skip the schema, the message checks and the contract reader
// (plainRecord.ts): whatever it takes as plain must be a record those three pass with nothing to say,
// read as the turns it gives; and the plain shapes themselves must be taken.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LineFindings } from '../../server/src/core/dataset/context';
import { detectFormat, toExample } from '../../server/src/core/dataset/contract';
import { LineLocator } from '../../server/src/core/dataset/locate';
import { checkOpenAiMessages, checkShareGptConversations } from '../../server/src/core/dataset/messages';
import { plainTurns } from '../../server/src/core/dataset/plainRecord';
import { formatValidator } from '../../server/src/core/dataset/schema';
import { effectiveSeverity } from '../../server/src/core/rules';

/** Each format's field names and speakers: the plain ones first (system, user, assistant). */
const SHAPES = {
  messages: {
    list: 'messages',
    speaker: 'role',
    text: 'content',
    speakers: ['system', 'user', 'assistant', 'developer', 'tool', 'function', 'human', 'User', ''],
  },
  sharegpt: {
    list: 'conversations',
    speaker: 'from',
    text: 'value',
    speakers: ['system', 'human', 'gpt', 'function_call', 'observation', 'tool', 'user', 'GPT', ''],
  },
} as const;
type Format = keyof typeof SHAPES;

// Records near a plain shape: a conversation of that shape with up to two changes made to it, each one
// something the shape refuses or something it takes (another text, another order, another system
// speaker), and sometimes a field beside the list, `__proto__` included.
const text = fc.constantFrom<unknown>(
  'hello',
  'an answer',
  '',
  '  ',
  '\u3000',
  ' text ',
  null,
  3,
  ['x'],
  [{ type: 'text', text: 'hi' }],
);
const field = fc.constantFrom('name', 'weight', 'tool_calls', 'reasoning_content', 'images', 'id', 'role', 'from');
type Turn = Record<string, unknown>;
function recordNear(format: Format): fc.Arbitrary<string> {
  const s = SHAPES[format];
  const speaker = fc.constantFrom<string>(...s.speakers);
  const at = (turns: Turn[], i: number): Turn | undefined => turns[i % turns.length];
  const change = fc.oneof(
    fc.tuple(fc.nat(), speaker).map(
      ([i, v]) =>
        (ts: Turn[]) =>
          void (at(ts, i) && (at(ts, i)![s.speaker] = v)),
    ),
    fc.tuple(fc.nat(), text).map(
      ([i, v]) =>
        (ts: Turn[]) =>
          void (at(ts, i) && (at(ts, i)![s.text] = v)),
    ),
    fc.tuple(fc.nat(), field, text).map(
      ([i, k, v]) =>
        (ts: Turn[]) =>
          void (at(ts, i) && (at(ts, i)![k] = v)),
    ),
    fc.nat().map((i) => (ts: Turn[]) => void (at(ts, i) && delete at(ts, i)![s.text])),
    fc.nat().map((i) => (ts: Turn[]) => void ts.splice(i % (ts.length + 1), 1)),
    fc
      .nat()
      .map((i) => (ts: Turn[]) => void ts.push({ ...(at(ts, i) ?? { [s.speaker]: s.speakers[1], [s.text]: 'x' }) })),
  );
  return fc
    .tuple(
      fc.nat(1),
      fc.integer({ min: 0, max: 3 }),
      fc.array(change, { maxLength: 2 }),
      fc.oneof(
        { weight: 4, arbitrary: fc.constant(undefined) },
        fc.constantFrom('id', 'tools', 'source', 'system', 'messages', 'conversations', '__proto__'),
      ),
    )
    .map(([systems, pairs, changes, extra]) => {
      const turns: Turn[] = [
        ...Array.from({ length: systems }, () => ({ [s.speaker]: 'system', [s.text]: 'be brief' })),
        ...Array.from({ length: 2 * pairs }, (_, i) => ({
          [s.speaker]: s.speakers[1 + (i % 2)],
          [s.text]: `turn ${i}`,
        })),
      ];
      for (const apply of changes) apply(turns);
      // As a line of a JSONL file (a `__proto__` key is then the record's own field).
      const line = JSON.stringify({ [s.list]: turns });
      return extra && extra !== s.list ? `{${JSON.stringify(extra)}: "x", ${line.slice(1)}` : line;
    });
}

describe('plain conversation records', () => {
  for (const format of Object.keys(SHAPES) as Format[]) {
    it(`${format}: only records the schema, the message checks and the contract reader pass, read as their turns`, () => {
      let plain = 0;
      let other = 0;
      fc.assert(
        fc.property(recordNear(format), (line) => {
          const record = JSON.parse(line) as Record<string, unknown>;
          const turns = plainTurns(record, format);
          if (!turns) {
            other++;
            return;
          }
          plain++;
          assert.equal(detectFormat(record), format, line);
          assert.equal(formatValidator(format)(record), true, line);
          const out = new LineFindings((rule) => effectiveSeverity(rule), 0);
          const loc = new LineLocator(line);
          if (format === 'messages') {
            checkOpenAiMessages(record.messages, ['messages'], out, loc, { requireAssistant: true, checkOrder: true });
          } else checkShareGptConversations(record.conversations, ['conversations'], out, loc);
          assert.deepEqual(out.items, [], line);
          assert.deepEqual(toExample(record, format), { ok: true, example: { kind: 'sft', messages: turns } }, line);
        }),
        { numRuns: 5000 },
      );
      assert.ok(plain > 1000 && other > 1000, `${plain} plain, ${other} not`);
    });

    it(`${format}: takes every record of the shape, system turns first and then user and assistant in turn`, () => {
      const s = SHAPES[format];
      const words = fc.constantFrom('hello', 'an answer', ' spaced ', 'été', '河流');
      fc.assert(
        fc.property(
          fc.nat(2),
          fc.integer({ min: 1, max: 4 }),
          fc.array(words, { minLength: 12, maxLength: 12 }),
          (systems, pairs, texts) => {
            const list = [
              ...Array.from({ length: systems }, (_, i) => ({ [s.speaker]: 'system', [s.text]: texts[i] })),
              ...Array.from({ length: 2 * pairs }, (_, i) => ({
                [s.text]: texts[i + 2],
                [s.speaker]: s.speakers[1 + (i % 2)],
              })),
            ];
            const roles = ['system', 'user', 'assistant'];
            assert.deepEqual(
              plainTurns({ [s.list]: list }, format),
              list.map((t) => ({ role: roles[s.speakers.indexOf(t[s.speaker] as never)], content: t[s.text] })),
            );
          },
        ),
        { numRuns: 500 },
      );
    });
  }

  it('is no shortcut for the other formats', () => {
    const alpaca = { instruction: 'Say hi', input: '', output: 'hi' };
    assert.equal(plainTurns(alpaca, 'alpaca'), undefined);
    assert.equal(
      plainTurns(
        {
          messages: [
            { role: 'user', content: 'a' },
            { role: 'assistant', content: 'b' },
          ],
        },
        'sharegpt',
      ),
      undefined,
    );
  });
});
