// The playground's persisted state (pickers, sampling, system prompt, draft, conversation), checked
// like any other input when it comes back from `getState()`: a shape that does not match is dropped.
import type { ChatOutcome, SamplingParams, Side } from '../protocol/playground';
import { PLAYGROUND_LIMITS, SIDES, isOutcome, isSamplingParams } from '../protocol/playground';
import { isJobId } from '../protocol/dashboard';
import { hasOnlyKeys, isArrayOf, isInt, isObj, isOneOf, isStr } from '../protocol/validate';

export type ReplyState = 'streaming' | 'done' | 'error';

export interface Reply {
  id: number;
  text: string;
  state: ReplyState;
  error: string | null;
  result: ChatOutcome | null;
}

export interface Turn {
  user: string;
  base: Reply | null;
  adapter: Reply | null;
}

export interface PlaygroundState {
  target: string | null;
  base: string | null;
  adapterJobId: string | null;
  system: string;
  /** The adapter's trained system prompt put in the system box, while the box still holds it untouched. */
  suggestedSystem: string | null;
  /** The adapter whose trained system prompt was last offered, so a reload does not offer it again. */
  systemOfferedFor: string | null;
  params: SamplingParams;
  exportSide: Side;
  draft: string;
  turns: Turn[];
  nextId: number;
}

export const DEFAULT_PARAMS: SamplingParams = {
  max_new_tokens: 128,
  temperature: 0.7,
  top_p: 0.95,
  seed: null,
  stop: [],
};

const L = PLAYGROUND_LIMITS;

function isReply(v: unknown): v is Reply {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['id', 'text', 'state', 'error', 'result']) &&
    isInt(v['id'], 0) &&
    isStr(v['text'], L.message) &&
    isOneOf(v['state'], ['streaming', 'done', 'error'] as const) &&
    (v['error'] === null || isStr(v['error'], L.error)) &&
    (v['result'] === null || isOutcome(v['result']))
  );
}

function isTurn(v: unknown): v is Turn {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['user', 'base', 'adapter']) &&
    isStr(v['user'], L.message) &&
    (v['base'] === null || isReply(v['base'])) &&
    (v['adapter'] === null || isReply(v['adapter']))
  );
}

export function parsePlaygroundState(raw: unknown): PlaygroundState | null {
  if (!isObj(raw)) return null;
  const keys = [
    'target',
    'base',
    'adapterJobId',
    'system',
    'suggestedSystem',
    'systemOfferedFor',
    'params',
    'exportSide',
    'draft',
    'turns',
    'nextId',
  ];
  // State saved before the trained-prompt suggestion existed lacks its two keys: they start as null.
  const suggestedSystem = raw['suggestedSystem'] ?? null;
  const systemOfferedFor = raw['systemOfferedFor'] ?? null;
  const valid =
    hasOnlyKeys(raw, keys) &&
    (raw['target'] === null || isStr(raw['target'], L.target)) &&
    (raw['base'] === null || isStr(raw['base'], L.model)) &&
    (raw['adapterJobId'] === null || isJobId(raw['adapterJobId'])) &&
    isStr(raw['system'], L.system) &&
    (suggestedSystem === null || isStr(suggestedSystem, L.system)) &&
    (systemOfferedFor === null || isJobId(systemOfferedFor)) &&
    isSamplingParams(raw['params']) &&
    isOneOf(raw['exportSide'], SIDES) &&
    isStr(raw['draft'], L.message) &&
    isArrayOf(raw['turns'], isTurn, L.turns) &&
    isInt(raw['nextId'], 0);
  return valid ? ({ ...raw, suggestedSystem, systemOfferedFor } as unknown as PlaygroundState) : null;
}

/** The conversation one side has seen: each answered turn's prompt and that side's reply. */
export function historyFor(turns: readonly Turn[], side: Side): { role: 'user' | 'assistant'; content: string }[] {
  const messages: { role: 'user' | 'assistant'; content: string }[] = [];
  for (const turn of turns) {
    const reply = turn[side];
    if (reply === null || reply.state !== 'done' || reply.text === '') continue;
    messages.push({ role: 'user', content: turn.user }, { role: 'assistant', content: reply.text });
  }
  return messages;
}
