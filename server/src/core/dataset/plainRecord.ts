// The plainest chat record, read once: {"messages": [{"role", "content"}, ...]} and no other field,
// each role system, user or assistant, each content text that is not blank, an assistant turn, and the
// turns in an order the message checks accept. Such a record passes the messages schema, the message
// checks and the contract reader with nothing to say, and the reader gives each message back as
// {role, content}: the record analyser takes the turns from here and skips those three reads of the
// record (most records of chat datasets are this plain; the three were about a tenth of validating
// them). Anything else, including anything one of them would report, takes the general path.
// test/dataset/plainRecord.test.ts holds this to the schema, the checks and the reader over random
// records near this shape.
import type { Turn } from './example';
import { firstOrderProblem } from './messages';
import type { TurnKind } from './messages';
import { isBlankText } from './whitespace';

/** The turns of `record` when it is that plain, else undefined. */
export function plainMessagesTurns(record: unknown): Turn[] | undefined {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  for (const key in record) if (key !== 'messages') return undefined;
  const list = (record as { messages?: unknown }).messages;
  if (!Array.isArray(list)) return undefined;
  const turns = new Array<Turn>(list.length);
  const kinds = new Array<TurnKind>(list.length);
  let answered = false;
  for (let i = 0; i < list.length; i++) {
    const message: unknown = list[i];
    if (typeof message !== 'object' || message === null || Array.isArray(message)) return undefined;
    for (const key in message) if (key !== 'role' && key !== 'content') return undefined;
    const { role, content } = message as { role: unknown; content: unknown };
    if (role !== 'system' && role !== 'user' && role !== 'assistant') return undefined;
    if (typeof content !== 'string' || isBlankText(content)) return undefined;
    if (role === 'assistant') answered = true;
    turns[i] = { role, content };
    kinds[i] = role;
  }
  if (!answered || firstOrderProblem(kinds, false)) return undefined;
  return turns;
}
