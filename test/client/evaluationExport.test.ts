// An evaluation example exported back into a dataset: what an SFT record and a preference pair may hold,
// and the examples refused with a reason (no answer, identical answers, a turn the messages format lacks).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { preferenceRecordOf, sftRecordOf } from '../../client/src/evaluation/exportRows';
import type { ExampleSource } from '../../client/src/evaluation/results';
import { checkMessagesRecord } from '../../client/src/panels/exportRecord';

function source(prompt: ExampleSource['prompt'], answers: Record<string, string>): ExampleSource {
  return {
    file: '/w/train.jsonl',
    line: 3,
    index: null,
    prompt,
    reference: 'ref',
    answers: new Map(Object.entries(answers)),
  };
}

describe('evaluation rows as records', () => {
  it('keeps a system prompt and earlier turns, and ends on the chosen answer', () => {
    const s = source(
      [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello.' },
        { role: 'user', content: 'Sum 1 and 2?' },
      ],
      { base: 'Maybe 4', 'run-1': '3' },
    );
    const sft = sftRecordOf(s, 'run-1');
    assert.ok(sft.ok);
    assert.equal(checkMessagesRecord(sft.record), null);
    assert.deepEqual(sft.record.messages.at(-1), { role: 'assistant', content: '3' });
    assert.equal(sft.record.messages.length, 5);
    const pair = preferenceRecordOf(s, 'run-1', 'base');
    assert.ok(pair.ok);
    assert.equal(pair.record.prompt.length, 4);
    assert.deepEqual(pair.record.chosen, [{ role: 'assistant', content: '3' }]);
    assert.deepEqual(pair.record.rejected, [{ role: 'assistant', content: 'Maybe 4' }]);
  });

  it('refuses what a record cannot carry, with the reason', () => {
    const tool = source(
      [
        { role: 'user', content: 'Weather?' },
        { role: 'tool', content: '{"t": 3}' },
      ],
      { base: 'Cold', out: 'Warm' },
    );
    assert.deepEqual(sftRecordOf(tool, 'out'), {
      ok: false,
      reason: 'Not exported: the prompt holds a tool turn, which a chat record in the messages format cannot carry.',
    });
    const blank = source([{ role: 'user', content: 'Q' }], { base: '  ', out: 'A' });
    assert.equal(sftRecordOf(blank, 'base').ok, false);
    assert.match((preferenceRecordOf(blank, 'out', 'base') as { reason: string }).reason, /Both models need an answer/);
    const same = source([{ role: 'user', content: 'Q' }], { base: 'A', out: 'A' });
    assert.match((preferenceRecordOf(same, 'out', 'base') as { reason: string }).reason, /identical/);
  });
});
