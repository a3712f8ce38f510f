// The playground's persisted state (pickers, sampling, system prompt, draft, conversation), checked
// like any other input when it comes back from `getState()`: a shape that does not match is dropped.
import type { ChatOutcome, SamplingParams, Side } from '../protocol/playground';
import { PLAYGROUND_LIMITS, SIDES, isOutcome, isSamplingParams } from '../protocol/playground';
import { isJobId } from '../protocol/dashboard';
import type { Obj } from '../protocol/validate';
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

/** What one column runs: a target, and on it a base model alone or an adapter (or an endpoint's model). */
export interface ColumnChoice {
  target: string | null;
  base: string | null;
  adapterJobId: string | null;
}

export interface PlaygroundState {
  /** Each column's own target and model, so the two can be any two models on any two targets. */
  columns: Record<Side, ColumnChoice>;
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

function isColumnChoice(v: unknown): v is ColumnChoice {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['target', 'base', 'adapterJobId']) &&
    (v['target'] === null || isStr(v['target'], L.target)) &&
    (v['base'] === null || isStr(v['base'], L.model)) &&
    (v['adapterJobId'] === null || isJobId(v['adapterJobId']))
  );
}

/**
 * State saved before each column had its own target held one target, the left column's base model and the
 * right column's adapter: it becomes the same two columns on that target.
 */
function columnsOf(raw: Obj): Record<Side, ColumnChoice> | null {
  if (raw['columns'] !== undefined) {
    const c = raw['columns'];
    return isObj(c) && hasOnlyKeys(c, SIDES) && isColumnChoice(c['base']) && isColumnChoice(c['adapter'])
      ? { base: { ...c['base'] }, adapter: { ...c['adapter'] } }
      : null;
  }
  const left = { target: raw['target'] ?? null, base: raw['base'] ?? null, adapterJobId: null };
  const right = { target: raw['target'] ?? null, base: null, adapterJobId: raw['adapterJobId'] ?? null };
  return isColumnChoice(left) && isColumnChoice(right) ? { base: left, adapter: right } : null;
}

export function parsePlaygroundState(raw: unknown): PlaygroundState | null {
  if (!isObj(raw)) return null;
  const keys = [
    'system',
    'suggestedSystem',
    'systemOfferedFor',
    'params',
    'exportSide',
    'draft',
    'turns',
    'nextId',
    ...(raw['columns'] !== undefined ? ['columns'] : ['target', 'base', 'adapterJobId']),
  ];
  // State saved before the trained-prompt suggestion existed lacks its two keys: they start as null.
  const suggestedSystem = raw['suggestedSystem'] ?? null;
  const systemOfferedFor = raw['systemOfferedFor'] ?? null;
  const columns = hasOnlyKeys(raw, keys) ? columnsOf(raw) : null;
  const valid =
    columns !== null &&
    isStr(raw['system'], L.system) &&
    (suggestedSystem === null || isStr(suggestedSystem, L.system)) &&
    (systemOfferedFor === null || isJobId(systemOfferedFor)) &&
    isSamplingParams(raw['params']) &&
    isOneOf(raw['exportSide'], SIDES) &&
    isStr(raw['draft'], L.message) &&
    isArrayOf(raw['turns'], isTurn, L.turns) &&
    isInt(raw['nextId'], 0);
  if (!valid) return null;
  return {
    columns,
    system: raw['system'] as string,
    suggestedSystem,
    systemOfferedFor,
    params: raw['params'] as SamplingParams,
    exportSide: raw['exportSide'] as Side,
    draft: raw['draft'] as string,
    turns: raw['turns'] as Turn[],
    nextId: raw['nextId'] as number,
  } as PlaygroundState;
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
