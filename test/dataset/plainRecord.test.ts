// The plainest chat records skip the schema, the message checks and the contract reader
// (plainRecord.ts): whatever it takes as plain must be a record those three pass with nothing to say,
// read as the turns it gives; and the plain shape itself must be taken.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LineFindings } from '../../server/src/core/dataset/context';
import { detectFormat, toExample } from '../../server/src/core/dataset/contract';
import { LineLocator } from '../../server/src/core/dataset/locate';
import { checkOpenAiMessages } from '../../server/src/core/dataset/messages';
import { plainMessagesTurns } from '../../server/src/core/dataset/plainRecord';
import { formatValidator } from '../../server/src/core/dataset/schema';
import { effectiveSeverity } from '../../server/src/core/rules';

// Records near the plain shape: a conversation of that shape with up to three changes made to it,
// each one something the shape refuses or something it takes (another text, another order), and
// sometimes a field beside `messages`.
const role = fc.constantFrom('system', 'user', 'assistant', 'developer', 'tool', 'function', 'human', 'User', '');
const content = fc.constantFrom<unknown>(
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
const field = fc.constantFrom('name', 'weight', 'tool_calls', 'reasoning_content', 'thinking', 'images', 'id', 'role');
type Message = Record<string, unknown>;
const change = fc.oneof(
  fc.tuple(fc.nat(), role).map(
    ([i, r]) =>
      (ms: Message[]) =>
        ms[i % ms.length] && (ms[i % ms.length]!.role = r),
  ),
  fc.tuple(fc.nat(), content).map(
    ([i, c]) =>
      (ms: Message[]) =>
        ms[i % ms.length] && (ms[i % ms.length]!.content = c),
  ),
  fc.tuple(fc.nat(), field, content).map(
    ([i, k, v]) =>
      (ms: Message[]) =>
        ms[i % ms.length] && (ms[i % ms.length]![k] = v),
  ),
  fc.nat().map((i) => (ms: Message[]) => ms[i % ms.length] && delete ms[i % ms.length]!.content),
  fc.nat().map((i) => (ms: Message[]) => ms.splice(i % (ms.length + 1), 1)),
  fc.nat().map((i) => (ms: Message[]) => ms.push({ ...(ms[i % ms.length] ?? { role: 'user', content: 'x' }) })),
);
const record = fc
  .tuple(
    fc.nat(1),
    fc.integer({ min: 0, max: 3 }),
    fc.array(change, { maxLength: 2 }),
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      fc.constantFrom('id', 'tools', 'source', 'system', '__proto__'),
    ),
  )
  .map(([systems, pairs, changes, extra]) => {
    const messages: Message[] = [
      ...Array.from({ length: systems }, () => ({ role: 'system', content: 'be brief' })),
      ...Array.from({ length: 2 * pairs }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}` })),
    ];
    for (const apply of changes) apply(messages);
    // As a line of a JSONL file (a `__proto__` key is then the record's own field).
    const line = JSON.stringify({ messages });
    return extra ? `{${JSON.stringify(extra)}: "x", ${line.slice(1)}` : line;
  });

describe('plain chat records', () => {
  it('are only records the schema, the message checks and the contract reader pass, read as their turns', () => {
    let plain = 0;
    let other = 0;
    fc.assert(
      fc.property(record, (line) => {
        const parsed = JSON.parse(line) as unknown;
        const turns = plainMessagesTurns(parsed);
        if (!turns) {
          other++;
          return;
        }
        plain++;
        assert.equal(detectFormat(parsed), 'messages', line);
        assert.equal(formatValidator('messages')(parsed), true, line);
        const out = new LineFindings((rule) => effectiveSeverity(rule), 0);
        checkOpenAiMessages((parsed as { messages: unknown }).messages, ['messages'], out, new LineLocator(line), {
          requireAssistant: true,
          checkOrder: true,
        });
        assert.deepEqual(out.items, [], line);
        assert.deepEqual(toExample(parsed, 'messages'), { ok: true, example: { kind: 'sft', messages: turns } }, line);
      }),
      { numRuns: 5000 },
    );
    assert.ok(plain > 1000 && other > 1000, `${plain} plain, ${other} not`);
  });

  it('include every record of that shape: system prompts, then user and assistant turns in alternation', () => {
    const text = fc.constantFrom('hello', 'an answer', ' spaced ', 'été', '河流');
    fc.assert(
      fc.property(
        fc.nat(2),
        fc.integer({ min: 1, max: 4 }),
        fc.array(text, { minLength: 12, maxLength: 12 }),
        (systems, pairs, texts) => {
          const messages = [
            ...Array.from({ length: systems }, (_, i) => ({ role: 'system', content: texts[i] })),
            ...Array.from({ length: 2 * pairs }, (_, i) => ({
              content: texts[i + 2],
              role: i % 2 ? 'assistant' : 'user',
            })),
          ];
          const turns = plainMessagesTurns({ messages });
          assert.deepEqual(
            turns,
            messages.map((m) => ({ role: m.role, content: m.content })),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});
