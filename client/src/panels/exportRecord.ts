// Turns a playground conversation into one dataset record in the `messages` format, so a good answer
// can be curated back into a Datanet (Train -> Test -> Interact -> Refine). Pure: no `vscode`, no I/O.
// The record holds to what `schemas/records/messages.schema.json` and the language server's
// `messages/*` rules ask: known roles, a system turn only first, user and assistant alternating,
// no empty content, at least one assistant turn.
import type { ExportTurn, Side } from '../../../webviews/src/protocol/playground';

export interface MessagesRecordMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface MessagesRecord {
  messages: MessagesRecordMessage[];
}

export interface ExportConversation {
  system: string | null;
  turns: ExportTurn[];
}

export type ExportResult = { ok: true; record: MessagesRecord; skippedTurns: number } | { ok: false; reason: string };

/**
 * The record for `side`: the system prompt (when not blank), then each turn's user prompt and that
 * side's reply. Turns that side never answered (or answered with nothing) are left out whole, so the
 * record never holds a user turn without its answer. Text is kept exactly as generated.
 */
export function buildMessagesRecord(conversation: ExportConversation, side: Side): ExportResult {
  const messages: MessagesRecordMessage[] = [];
  if (conversation.system !== null && conversation.system.trim() !== '') {
    messages.push({ role: 'system', content: conversation.system });
  }
  let skippedTurns = 0;
  for (const turn of conversation.turns) {
    const reply = turn[side];
    if (turn.user.trim() === '' || reply === null || reply.trim() === '') {
      skippedTurns++;
      continue;
    }
    messages.push({ role: 'user', content: turn.user }, { role: 'assistant', content: reply });
  }
  if (!messages.some((m) => m.role === 'assistant')) {
    return { ok: false, reason: `There is no ${side} reply to export yet.` };
  }
  const record = { messages };
  const problem = checkMessagesRecord(record);
  return problem === null ? { ok: true, record, skippedTurns } : { ok: false, reason: problem };
}

/**
 * Why `value` is not a well-formed chat record in the `messages` format, or null when it is: the
 * schema's shape (only `messages`, each with only `role` and string `content`) and the curation rules
 * (system first if at all, user/assistant alternating from a user turn, ends on an assistant turn,
 * nothing blank).
 */
export function checkMessagesRecord(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a record must be an object';
  const keys = Object.keys(value);
  if (keys.length !== 1 || keys[0] !== 'messages') return 'a record has exactly one key, "messages"';
  const messages = (value as { messages: unknown }).messages;
  if (!Array.isArray(messages) || messages.length === 0) return '"messages" must be a non-empty array';
  let expected: 'user' | 'assistant' = 'user';
  for (const [i, m] of messages.entries()) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return `message ${i} is not an object`;
    const fields = Object.keys(m);
    if (fields.some((k) => k !== 'role' && k !== 'content'))
      return `message ${i} has a key other than role and content`;
    const { role, content } = m as { role: unknown; content: unknown };
    if (typeof content !== 'string' || content.trim() === '') return `message ${i} has no text`;
    if (role === 'system' && i === 0) continue;
    if (role !== expected) return `message ${i} should be a ${expected} turn`;
    expected = expected === 'user' ? 'assistant' : 'user';
  }
  return expected === 'user' ? null : 'the record ends on a user turn';
}

/** The conversation a well-formed record holds, with its replies on `side`: the inverse of `buildMessagesRecord`. */
export function conversationFromRecord(record: MessagesRecord, side: Side): ExportConversation {
  const problem = checkMessagesRecord(record);
  if (problem !== null) throw new Error(`Not a chat record: ${problem}`);
  let system: string | null = null;
  const turns: ExportTurn[] = [];
  for (const m of record.messages) {
    if (m.role === 'system') system = m.content;
    else if (m.role === 'user') turns.push({ user: m.content, base: null, adapter: null });
    else turns[turns.length - 1]![side] = m.content;
  }
  return { system, turns };
}

/** A preference pair in TRL's conversational shape: the prompt's turns, the chosen and the rejected answer. */
export interface PreferenceRecord {
  prompt: MessagesRecordMessage[];
  chosen: MessagesRecordMessage[];
  rejected: MessagesRecordMessage[];
}

export type PreferenceResult = { ok: true; record: PreferenceRecord } | { ok: false; reason: string };

/**
 * "Prefer this answer": the last turn's reply on `side` chosen over the other side's. The prompt is the
 * system prompt (when not blank), the earlier turns with `side`'s replies (turns it never answered left out)
 * and the last user message. Both last replies must be there, non-blank and different.
 */
export function buildPreferenceRecord(conversation: ExportConversation, side: Side): PreferenceResult {
  const last = conversation.turns.at(-1);
  const other: Side = side === 'base' ? 'adapter' : 'base';
  const chosen = last?.[side] ?? null;
  const rejected = last?.[other] ?? null;
  if (!last || last.user.trim() === '') return { ok: false, reason: 'There is no prompt to prefer an answer to yet.' };
  if (chosen === null || chosen.trim() === '' || rejected === null || rejected.trim() === '') {
    return { ok: false, reason: 'Both columns need an answer to the last prompt before one can be preferred.' };
  }
  if (chosen === rejected) return { ok: false, reason: 'The two answers are identical: there is nothing to prefer.' };
  const prompt: MessagesRecordMessage[] = [];
  if (conversation.system !== null && conversation.system.trim() !== '') {
    prompt.push({ role: 'system', content: conversation.system });
  }
  for (const turn of conversation.turns.slice(0, -1)) {
    const reply = turn[side];
    if (turn.user.trim() === '' || reply === null || reply.trim() === '') continue;
    prompt.push({ role: 'user', content: turn.user }, { role: 'assistant', content: reply });
  }
  prompt.push({ role: 'user', content: last.user });
  return {
    ok: true,
    record: {
      prompt,
      chosen: [{ role: 'assistant', content: chosen }],
      rejected: [{ role: 'assistant', content: rejected }],
    },
  };
}
