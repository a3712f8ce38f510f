// The plainest conversation records, read once: `{"messages": [{"role", "content"}, ...]}` or
// `{"conversations": [{"from", "value"}, ...]}` and no other field, each speaker one the contract reads
// as system, user or assistant without a tool call, each text a string that is not blank, an assistant
// turn, and the turns in an order the message checks accept. Such a record passes its format's schema,
// the message checks and the contract reader with nothing to say, and the reader gives each turn back
// as {role, content}: the record analyser takes the turns from here and skips those three reads of the
// record (most records of chat datasets are this plain; the three were about a tenth of validating
// them). Anything else, including anything one of them would report, takes the general path.
// test/dataset/plainRecord.test.ts holds this to the schemas, the checks and the reader over random
// records near these shapes.
import contract from '../../../../schemas/records/contract.json';
import { LISTED_VALUES } from './dedupExact';
import type { Turn } from './example';
import type { RecordFormat } from './formats';
import { firstOrderProblem } from './messages';
import type { TurnKind } from './messages';
import { isBlankText } from './whitespace';

type PlainRole = 'system' | 'user' | 'assistant';

/** A format's speakers that the contract reads as system, user or assistant, tool-call speakers left out. */
function plainRoles(table: Readonly<Record<string, string>>): ReadonlyMap<string, PlainRole> {
  const callers = new Set(contract.tool_call_speakers);
  const roles = new Map<string, PlainRole>();
  for (const [speaker, role] of Object.entries(table)) {
    if ((role === 'system' || role === 'user' || role === 'assistant') && !callers.has(speaker))
      roles.set(speaker, role);
  }
  return roles;
}

interface Message {
  role?: unknown;
  content?: unknown;
  messages?: unknown;
}
interface ShareGptTurn {
  from?: unknown;
  value?: unknown;
}

interface Shape {
  list: string;
  speaker: string;
  text: string;
  roles: ReadonlyMap<string, PlainRole>;
  shareGpt: boolean;
}

const MESSAGES: Shape = {
  list: 'messages',
  speaker: 'role',
  text: 'content',
  roles: plainRoles(contract.roles.messages),
  shareGpt: false,
};
const SHAREGPT: Shape = {
  list: 'conversations',
  speaker: 'from',
  text: 'value',
  roles: plainRoles(contract.roles.sharegpt),
  shareGpt: true,
};

/**
 * Where a plain record's content is among its string values, in the order of its line: each turn has
 * two values (speaker and text, in the order its keys were written), so a turn's text is value 2i or
 * 2i + 1. `plainTurns` fills it; the near-duplicate sketch reads those values where the exact hash
 * left them (MinHasher.computeValues). Reused from record to record.
 */
export class ContentValues {
  /** The indices of the texts of the turns that are content (not system), in order. */
  readonly indices = new Int32Array(LISTED_VALUES);
  /** How many; past LISTED_VALUES, only the first are in `indices`. */
  count = 0;
}

/**
 * The turns of `record`, a record of `format`, when it is that plain; else undefined. `content`, when
 * given, is filled for a plain record (and left as it was otherwise).
 */
export function plainTurns(record: unknown, format: RecordFormat, content?: ContentValues): Turn[] | undefined {
  const shape = format === 'messages' ? MESSAGES : format === 'sharegpt' ? SHAREGPT : undefined;
  if (!shape || typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
  for (const key in record) if (key !== shape.list) return undefined;
  const list = shape.shareGpt ? (record as { conversations?: unknown }).conversations : (record as Message).messages;
  if (!Array.isArray(list)) return undefined;
  const turns = new Array<Turn>(list.length);
  const kinds = new Array<TurnKind>(list.length);
  let answered = false;
  let contents = 0;
  for (let i = 0; i < list.length; i++) {
    const turn: unknown = list[i];
    if (typeof turn !== 'object' || turn === null || Array.isArray(turn)) return undefined;
    // The keys in the order they were written (neither can be an array index): the text's value is the
    // turn's first or second.
    let textFirst: boolean | undefined;
    for (const key in turn) {
      if (key !== shape.speaker && key !== shape.text) return undefined;
      textFirst ??= key === shape.text;
    }
    // Named loads (a load by a computed key costs about 20 ns a turn).
    const speaker = shape.shareGpt ? (turn as ShareGptTurn).from : (turn as Message).role;
    const text = shape.shareGpt ? (turn as ShareGptTurn).value : (turn as Message).content;
    const role = typeof speaker === 'string' ? shape.roles.get(speaker) : undefined;
    if (role === undefined || typeof text !== 'string' || isBlankText(text)) return undefined;
    if (role === 'assistant') answered = true;
    turns[i] = { role, content: text };
    kinds[i] = role;
    if (content && role !== 'system') {
      if (contents < LISTED_VALUES) content.indices[contents] = 2 * i + (textFirst ? 0 : 1);
      contents++;
    }
  }
  if (!answered || firstOrderProblem(kinds, shape.shareGpt)) return undefined;
  if (content) content.count = contents;
  return turns;
}
