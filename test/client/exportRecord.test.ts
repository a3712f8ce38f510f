// The playground's "Export as record": the record it builds must be a valid `messages` record (checked
// with ajv against the very schema the language server uses) and must give back the conversation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import {
  buildMessagesRecord,
  buildPreferenceRecord,
  checkMessagesRecord,
  conversationFromRecord,
} from '../../client/src/panels/exportRecord';
import { detectFormat, toExample } from '../../server/src/core/dataset/contract';
import type { ExportConversation } from '../../client/src/panels/exportRecord';

const schema = JSON.parse(
  readFileSync(join(__dirname, '..', '..', 'schemas', 'records', 'messages.schema.json'), 'utf8'),
);
const validateSchema = new Ajv({ allErrors: true, strict: false }).compile(schema);

const conversation: ExportConversation = {
  system: 'You answer in one sentence.',
  turns: [
    { user: 'What is LoRA?', base: 'A radio protocol.', adapter: 'Low-rank adapters for fine-tuning.' },
    { user: 'And QLoRA?', base: 'No idea.', adapter: 'LoRA on a 4-bit quantized base model.' },
  ],
};

describe('exportRecord', () => {
  it('builds a messages record with the chosen side that the schema accepts', () => {
    const result = buildMessagesRecord(conversation, 'adapter');
    assert.ok(result.ok);
    assert.ok(validateSchema(result.record), JSON.stringify(validateSchema.errors));
    assert.deepEqual(
      result.record.messages.map((m) => m.role),
      ['system', 'user', 'assistant', 'user', 'assistant'],
    );
    assert.equal(result.record.messages[2]!.content, 'Low-rank adapters for fine-tuning.');
    assert.equal(result.skippedTurns, 0);
  });

  it('round-trips through JSON and back to the conversation', () => {
    for (const side of ['base', 'adapter'] as const) {
      const result = buildMessagesRecord(conversation, side);
      assert.ok(result.ok);
      const parsed = JSON.parse(JSON.stringify(result.record)) as unknown;
      assert.ok(validateSchema(parsed));
      assert.equal(checkMessagesRecord(parsed), null);
      const back = conversationFromRecord(parsed as typeof result.record, side);
      assert.equal(back.system, conversation.system);
      assert.deepEqual(
        back.turns.map((t) => [t.user, t[side]]),
        conversation.turns.map((t) => [t.user, t[side]]),
      );
      assert.deepEqual(buildMessagesRecord(back, side), result);
    }
  });

  it('keeps hostile text exactly as generated', () => {
    const payload = '</script><img src=x onerror=alert(1)> [run](command:workbench.action.terminal.new) \u2028';
    const result = buildMessagesRecord(
      { system: null, turns: [{ user: payload, base: payload, adapter: null }] },
      'base',
    );
    assert.ok(result.ok);
    assert.ok(validateSchema(result.record));
    assert.deepEqual(result.record.messages, [
      { role: 'user', content: payload },
      { role: 'assistant', content: payload },
    ]);
  });

  it('leaves out a blank system prompt and turns the side did not answer', () => {
    const result = buildMessagesRecord(
      {
        system: '   ',
        turns: [
          { user: 'first', base: 'one', adapter: null },
          { user: 'second', base: '', adapter: 'two' },
          { user: 'third', base: 'three', adapter: null },
        ],
      },
      'base',
    );
    assert.ok(result.ok);
    assert.equal(result.skippedTurns, 1);
    assert.deepEqual(
      result.record.messages.map((m) => m.content),
      ['first', 'one', 'third', 'three'],
    );
    assert.ok(validateSchema(result.record));
  });

  it('refuses a conversation with no reply on the chosen side', () => {
    const result = buildMessagesRecord(
      { system: 'sys', turns: [{ user: 'hi', base: 'hello', adapter: null }] },
      'adapter',
    );
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.reason : '', /no adapter reply/);
  });

  it('checkMessagesRecord refuses what the schema or the curation rules refuse', () => {
    const bad: unknown[] = [
      null,
      [],
      { messages: [] },
      { messages: [{ role: 'user', content: 'hi' }] },
      { messages: [{ role: 'assistant', content: 'hi' }] },
      {
        messages: [
          { role: 'user', content: 'hi' },
          { role: 'assistant', content: ' ' },
        ],
      },
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'system', content: 'b' },
          { role: 'assistant', content: 'c' },
        ],
      },
      {
        messages: [
          { role: 'user', content: 'a', extra: 1 },
          { role: 'assistant', content: 'b' },
        ],
      },
      {
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
        ],
        extra: true,
      },
    ];
    for (const value of bad) assert.notEqual(checkMessagesRecord(value), null, JSON.stringify(value));
    assert.equal(
      checkMessagesRecord({
        messages: [
          { role: 'user', content: 'a' },
          { role: 'assistant', content: 'b' },
        ],
      }),
      null,
    );
  });
});

describe('buildPreferenceRecord ("prefer this answer")', () => {
  it('builds a pair the record contract reads as a preference example, the selected side chosen', () => {
    const result = buildPreferenceRecord(conversation, 'adapter');
    assert.ok(result.ok);
    assert.deepEqual(result.record, {
      prompt: [
        { role: 'system', content: 'You answer in one sentence.' },
        { role: 'user', content: 'What is LoRA?' },
        { role: 'assistant', content: 'Low-rank adapters for fine-tuning.' },
        { role: 'user', content: 'And QLoRA?' },
      ],
      chosen: [{ role: 'assistant', content: 'LoRA on a 4-bit quantized base model.' }],
      rejected: [{ role: 'assistant', content: 'No idea.' }],
    });
    // What the Datanet checks the appended line with: the same contract as the linter and the trainer.
    assert.equal(detectFormat(result.record), 'preference');
    const example = toExample(result.record, 'preference');
    assert.ok(example.ok, JSON.stringify(example));
    assert.equal(example.example.kind, 'preference');
    const base = buildPreferenceRecord(conversation, 'base');
    assert.ok(base.ok);
    assert.deepEqual(base.record.chosen, [{ role: 'assistant', content: 'No idea.' }]);
  });

  it('refuses when an answer is missing, blank or the same on both sides', () => {
    const one = (base: string | null, adapter: string | null): ExportConversation => ({
      system: null,
      turns: [{ user: 'Hi?', base, adapter }],
    });
    for (const [c, why] of [
      [one(null, 'Hello.'), /Both columns need an answer/],
      [one(' ', 'Hello.'), /Both columns need an answer/],
      [one('Hello.', 'Hello.'), /identical/],
      [{ system: null, turns: [] }, /no prompt/],
    ] as [ExportConversation, RegExp][]) {
      const result = buildPreferenceRecord(c, 'adapter');
      assert.ok(!result.ok);
      assert.match(result.reason, why);
    }
  });
});
