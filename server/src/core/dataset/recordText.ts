// The text of a record as a model sees it, for token counts, minimum length and near-duplicates.
import type { Example, Turn } from './example';
import type { RecordFormat } from './formats';
import { nonAsciiUnits } from '../tokenizer';
import { leadingSpace, trailingSpace } from './whitespace';

/**
 * The chat template is approximated as `<role>\n<content>\n` per turn, the fields of an alpaca
 * record as `instruction\n\ninput\n\noutput`. Real templates add a few special tokens per turn;
 * `TURN_OVERHEAD_TOKENS` accounts for them in token counts.
 */
export const TURN_OVERHEAD_TOKENS = 4;

export interface RecordText {
  /** Everything the model reads, joined as described above (joined when first read). */
  readonly full: string;
  /** `full.length`, known without joining it (an ASCII estimate needs nothing else). */
  readonly fullLength: number;
  /** The UTF-16 units of `full` above U+007F, counted without joining it (the estimate of other text). */
  readonly fullNonAscii: number;
  /**
   * The conversational content without system prompts or tool schemas (what near-duplicates compare and
   * the minimum length counts), one piece a turn; the content is the pieces joined by newlines, which the
   * readers take without joining them (trimmedJoinLength, MinHasher.computeParts).
   */
  readonly contentParts: readonly string[];
  /** Number of turns (for the per-turn template overhead). */
  turns: number;
  /** The record in the contract's terms, when it has one: token counts render it with the chat template. */
  example?: Example;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    let out = '';
    for (const part of content) {
      if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') {
        out += (out ? '\n' : '') + (part as { text: string }).text;
      }
    }
    return out;
  }
  return '';
}

/**
 * A record's text as its turns are added: the content pieces at once, `full` joined only when something
 * reads it (most records need its length alone). `join` gives flat strings, where `+=` would give a rope
 * that every `charCodeAt` of the scans that follow (near-duplicate shingles, token counts) walks through.
 */
class JoinedText implements RecordText {
  /** Role and text of each turn. */
  private readonly parts: string[];
  private readonly content: string[];
  private contentCount = 0;
  private joined: string | undefined;
  /** `fullNonAscii` when the caller knew it (counted from the record's values by the exact hash). */
  private knownNonAscii: number | undefined;
  fullLength = 0;
  turns = 0;
  example: Example | undefined;

  /**
   * `turns`: how many turns will be added, when known (exactly: the array is made that size);
   * `contentTurns`: at most how many of them are content. An empty array's first push allocates room
   * for 17, and every record makes two.
   */
  constructor(turns = 0, contentTurns = 0, nonAscii?: number) {
    this.parts = new Array<string>(2 * turns);
    this.content = new Array<string>(contentTurns);
    this.knownNonAscii = nonAscii;
  }

  add(role: string, text: string, isContent: boolean): void {
    const at = 2 * this.turns;
    if (at < this.parts.length) {
      this.parts[at] = role;
      this.parts[at + 1] = text;
    } else this.parts.push(role, text);
    this.fullLength += role.length + text.length + 2;
    if (isContent && text) {
      if (this.contentCount < this.content.length) this.content[this.contentCount] = text;
      else this.content.push(text);
      this.contentCount++;
    }
    this.turns++;
  }

  /** Ends the adding: fewer content pieces than expected (turns without text) leave the array cut to them. */
  done(example?: Example): RecordText {
    if (this.content.length > this.contentCount) this.content.length = this.contentCount;
    this.example = example;
    return this;
  }

  get contentParts(): readonly string[] {
    return this.content;
  }

  get fullNonAscii(): number {
    if (this.knownNonAscii !== undefined) return this.knownNonAscii;
    let n = 0;
    for (const part of this.parts) n += nonAsciiUnits(part);
    return n;
  }

  get full(): string {
    if (this.joined === undefined) {
      const pieces: string[] = [];
      for (let i = 0; i < this.parts.length; i += 2)
        pieces.push(this.parts[i] as string, '\n', this.parts[i + 1] as string, '\n');
      this.joined = pieces.join('');
    }
    return this.joined;
  }
}

/** `parts.join('\n').trim().length`, without joining them. */
export function trimmedJoinLength(parts: readonly string[]): number {
  let total = parts.length > 0 ? parts.length - 1 : 0;
  for (const part of parts) total += part.length;
  // Whitespace at the start: whole parts (and the newline after each) until one has something else.
  let first = 0;
  let lead = 0;
  for (; first < parts.length; first++) {
    const part = parts[first] as string;
    const space = leadingSpace(part);
    if (space < part.length) {
      lead += space;
      break;
    }
    lead += part.length + 1;
  }
  if (first === parts.length) return 0;
  let trail = 0;
  for (let last = parts.length - 1; last >= first; last--) {
    const part = parts[last] as string;
    const space = trailingSpace(part);
    if (space < part.length) {
      trail += space;
      break;
    }
    trail += part.length + 1;
  }
  return total - lead - trail;
}

function addMessages(j: JoinedText, list: unknown, roleKey: 'role' | 'from', textKey: 'content' | 'value'): void {
  if (!Array.isArray(list)) return;
  for (const m of list) {
    if (!m || typeof m !== 'object') continue;
    const rec = m as Record<string, unknown>;
    const role = str(rec[roleKey]);
    j.add(role, contentText(rec[textKey]), role !== 'system');
  }
}

export function recordText(record: Record<string, unknown>, format: RecordFormat): RecordText {
  const j = new JoinedText();
  switch (format) {
    case 'messages':
      addMessages(j, record.messages, 'role', 'content');
      break;
    case 'sharegpt':
      if (typeof record.system === 'string') j.add('system', record.system, false);
      addMessages(j, record.conversations, 'from', 'value');
      break;
    case 'alpaca': {
      if (typeof record.system === 'string') j.add('system', record.system, false);
      if (Array.isArray(record.history)) {
        for (const pair of record.history) {
          if (Array.isArray(pair)) {
            j.add('user', str(pair[0]), true);
            j.add('assistant', str(pair[1]), true);
          }
        }
      }
      const input = str(record.input);
      j.add('user', input ? str(record.instruction) + '\n\n' + input : str(record.instruction), true);
      j.add('assistant', str(record.output), true);
      break;
    }
    case 'text':
      j.add('', str(record.text), true);
      break;
    case 'preference':
    case 'prompt_completion':
      if (typeof record.system === 'string') j.add('system', record.system, false);
      for (const key of format === 'preference' ? ['prompt', 'chosen', 'rejected'] : ['prompt', 'completion']) {
        const side = record[key];
        if (typeof side === 'string') j.add(key === 'prompt' ? 'user' : 'assistant', side, true);
        else addMessages(j, side, 'role', 'content');
      }
      break;
  }
  return j.done();
}

function addTurns(j: JoinedText, turns: readonly Turn[] | undefined): void {
  if (!turns) return;
  for (const turn of turns) {
    let text = turn.content;
    if (turn.tool_calls && turn.tool_calls.length > 0) {
      const parts = text ? [text] : [];
      for (const call of turn.tool_calls) parts.push(JSON.stringify({ name: call.name, arguments: call.arguments }));
      text = parts.join('\n');
    }
    // The reasoning is read (and learned) before the answer.
    if (turn.reasoning) text = turn.reasoning + '\n' + text;
    j.add(turn.role, text, turn.role !== 'system');
  }
}

/**
 * The text of a record the contract accepted: its turns (and both answers of a pair), tools, or text.
 * `nonAscii`: its `fullNonAscii`, when the caller knows it (not counted again).
 */
export function exampleText(example: Example, nonAscii?: number): RecordText {
  if (example.kind === 'text') {
    const j = new JoinedText(1, 1, nonAscii);
    j.add('', example.text ?? '', true);
    return j.done(example);
  }
  const { messages, chosen, rejected, completion } = example;
  const j = new JoinedText(
    (example.tools ? 1 : 0) + turnCount(messages) + turnCount(chosen) + turnCount(rejected) + turnCount(completion),
    contentCount(messages) + contentCount(chosen) + contentCount(rejected) + contentCount(completion),
    nonAscii,
  );
  if (example.tools) j.add('tools', JSON.stringify(example.tools), false);
  addTurns(j, messages);
  addTurns(j, chosen);
  addTurns(j, rejected);
  addTurns(j, completion);
  return j.done(example);
}

function turnCount(turns: readonly Turn[] | undefined): number {
  return turns ? turns.length : 0;
}

/** The content pieces addTurns gives `turns` at most (a turn without text gives none). */
function contentCount(turns: readonly Turn[] | undefined): number {
  let n = 0;
  if (turns) for (const turn of turns) if (turn.role !== 'system') n++;
  return n;
}
