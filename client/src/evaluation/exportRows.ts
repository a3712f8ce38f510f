// An evaluation example back into the dataset: as an SFT record (its prompt's turns, then one model's
// answer) or as a preference pair (one model's answer chosen over another's). Pure: no `vscode`, no I/O.
// Records hold to the same checks as the playground's exports (client/src/panels/exportRecord.ts).
import type { MessagesRecord, MessagesRecordMessage, PreferenceRecord } from '../panels/exportRecord';
import { checkMessagesRecord } from '../panels/exportRecord';
import type { ExampleSource, PromptTurn } from './results';

export type RowExport<R> = { ok: true; record: R } | { ok: false; reason: string };

function chatTurns(prompt: readonly PromptTurn[]): MessagesRecordMessage[] | string {
  const turns: MessagesRecordMessage[] = [];
  for (const turn of prompt) {
    if (turn.role !== 'system' && turn.role !== 'user' && turn.role !== 'assistant') {
      return `the prompt holds a ${turn.role || 'role-less'} turn, which a chat record in the messages format cannot carry`;
    }
    turns.push({ role: turn.role, content: turn.content });
  }
  return turns;
}

function answerOf(source: ExampleSource, model: string): string | undefined {
  const answer = source.answers.get(model);
  return answer === undefined || answer.trim() === '' ? undefined : answer;
}

/** The example as `{messages}` answered by `model`. */
export function sftRecordOf(source: ExampleSource, model: string): RowExport<MessagesRecord> {
  const answer = answerOf(source, model);
  if (answer === undefined) return { ok: false, reason: `${model} gave no answer to this example.` };
  const turns = chatTurns(source.prompt);
  if (typeof turns === 'string') return { ok: false, reason: `Not exported: ${turns}.` };
  const record = { messages: [...turns, { role: 'assistant' as const, content: answer }] };
  const problem = checkMessagesRecord(record);
  return problem === null ? { ok: true, record } : { ok: false, reason: `Not exported: ${problem}.` };
}

/** The example as `{prompt, chosen, rejected}`: `chosen`'s answer over `rejected`'s. */
export function preferenceRecordOf(
  source: ExampleSource,
  chosen: string,
  rejected: string,
): RowExport<PreferenceRecord> {
  const better = answerOf(source, chosen);
  const worse = answerOf(source, rejected);
  if (better === undefined || worse === undefined) {
    return { ok: false, reason: 'Both models need an answer to this example before one can be preferred.' };
  }
  if (better === worse) return { ok: false, reason: 'The two answers are identical: there is nothing to prefer.' };
  const turns = chatTurns(source.prompt);
  if (typeof turns === 'string') return { ok: false, reason: `Not exported: ${turns}.` };
  if (turns.at(-1)?.role !== 'user')
    return { ok: false, reason: 'Not exported: the prompt does not end on a user turn.' };
  return {
    ok: true,
    record: {
      prompt: turns,
      chosen: [{ role: 'assistant', content: better }],
      rejected: [{ role: 'assistant', content: worse }],
    },
  };
}
