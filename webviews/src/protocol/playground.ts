// The chat playground's messages, both ways. The host (client/src/panels/playgroundPanel.ts) and the
// webview (webviews/src/playground) import these types; each side runs the matching `parse…` on what it
// receives, so a message that does not match exactly (unknown type, wrong shape, extra key, oversize
// string, malformed job id) is dropped whole.
import type { Obj } from './validate';
import { isJobId } from './dashboard';
import { hasOnlyKeys, isArrayOf, isInt, isNum, isObj, isOneOf, isStr, messageType } from './validate';

export const PLAYGROUND_LIMITS = {
  target: 128,
  label: 256,
  model: 512,
  name: 256,
  message: 100_000,
  system: 20_000,
  messages: 200,
  stop: 8,
  stopLength: 64,
  tokenBatch: 100_000,
  error: 4000,
  list: 1000,
  turns: 200,
  maxNewTokens: 8192,
  generations: 64,
} as const;

/**
 * A column of the playground: 'base' is the left one (A), 'adapter' the right one (B). The names are the
 * first layout's; today each column has its own target and runs any of its models (a base model or an
 * adapter of a job server, any model of an OpenAI-compatible endpoint).
 */
export type Side = 'base' | 'adapter';
export const SIDES: readonly Side[] = ['base', 'adapter'];

export interface PlaygroundTarget {
  id: string;
  label: string;
  kind: 'local' | 'remote' | 'openai';
}

export interface AdapterChoice {
  jobId: string;
  name: string;
  baseModel: string;
  /** The system prompt of the adapter's training data (the adapter answers as trained only with it), or null. */
  systemPrompt: string | null;
}

export interface PlaygroundMessage {
  role: 'user' | 'assistant';
  content: string;
}

/** Sampling parameters; every field is set, so both sides agree on what was asked. */
export interface SamplingParams {
  max_new_tokens: number;
  temperature: number;
  top_p: number;
  seed: number | null;
  stop: string[];
}

export interface ChatOutcome {
  tokens: number;
  timeToFirstTokenMs: number;
  tokensPerSecond: number;
  finishReason: 'stop' | 'length' | 'cancelled';
}

// Host -> webview.
export interface InitMessage {
  type: 'init';
  targets: PlaygroundTarget[];
  baseModels: string[];
  /** What the command that opened the playground asked for (an adapter to try), or null. */
  preset: { target: string; adapterJobId: string } | null;
  /**
   * Generations of this panel the host still knows, so a webview that was reloaded (hidden, then shown
   * again) catches up on replies that streamed meanwhile; a reply it was streaming that is not here is lost.
   */
  generations: GenerationSnapshot[];
}
export interface GenerationSnapshot {
  id: number;
  text: string;
  result: ChatOutcome | null;
  error: string | null;
}
export interface AdaptersMessage {
  type: 'adapters';
  target: string;
  adapters: AdapterChoice[];
}
/** Text generated for request `id` since the previous batch. */
export interface TokensMessage {
  type: 'tokens';
  id: number;
  text: string;
}
export interface DoneMessage {
  type: 'done';
  id: number;
  result: ChatOutcome;
}
export interface FailedMessage {
  type: 'failed';
  id: number;
  message: string;
}
export interface ExportedMessage {
  type: 'exported';
  ok: boolean;
  message: string;
}
export type PlaygroundHostMessage =
  InitMessage | AdaptersMessage | TokensMessage | DoneMessage | FailedMessage | ExportedMessage;

// Webview -> host.
export interface PlaygroundReadyMessage {
  type: 'ready';
}
export interface ListAdaptersMessage {
  type: 'listAdapters';
  target: string;
}
/**
 * One reply to generate, for one column (`side`) on that column's `target`. A base model alone names it
 * in `base` with `adapterJobId` null; an adapter (or an OpenAI-compatible endpoint's model) names its id
 * in `adapterJobId` and leaves `base` null (the adapter's own base model).
 */
export interface GenerateMessage {
  type: 'generate';
  id: number;
  side: Side;
  target: string;
  base: string | null;
  adapterJobId: string | null;
  system: string | null;
  messages: PlaygroundMessage[];
  params: SamplingParams;
}
/** Stop every generation in flight. */
export interface StopMessage {
  type: 'stop';
}
export interface ExportTurn {
  user: string;
  base: string | null;
  adapter: string | null;
}
/** The conversation, for the host to turn into a `messages` record with `side`'s replies. */
export interface ExportMessage {
  type: 'export';
  side: Side;
  system: string | null;
  turns: ExportTurn[];
}
/** "Prefer this answer": the last turn's reply on `side` chosen over the other column's, as a preference pair. */
export interface PreferMessage {
  type: 'prefer';
  side: Side;
  system: string | null;
  turns: ExportTurn[];
}
export type PlaygroundWebviewMessage =
  PlaygroundReadyMessage | ListAdaptersMessage | GenerateMessage | StopMessage | ExportMessage | PreferMessage;

const L = PLAYGROUND_LIMITS;

function isTargetId(v: unknown): v is string {
  return isStr(v, L.target) && v.length > 0;
}

function isTarget(v: unknown): v is PlaygroundTarget {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['id', 'label', 'kind']) &&
    isTargetId(v['id']) &&
    isStr(v['label'], L.label) &&
    isOneOf(v['kind'], ['local', 'remote', 'openai'] as const)
  );
}

function isModelName(v: unknown): v is string {
  return isStr(v, L.model) && v.length > 0;
}

function isAdapterChoice(v: unknown): v is AdapterChoice {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['jobId', 'name', 'baseModel', 'systemPrompt']) &&
    isJobId(v['jobId']) &&
    isStr(v['name'], L.name) &&
    isStr(v['baseModel'], L.model) &&
    (v['systemPrompt'] === null || isStr(v['systemPrompt'], L.system))
  );
}

function isRequestId(v: unknown): v is number {
  return isInt(v, 0);
}

export function isOutcome(v: unknown): v is ChatOutcome {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['tokens', 'timeToFirstTokenMs', 'tokensPerSecond', 'finishReason']) &&
    isInt(v['tokens'], 0) &&
    isNum(v['timeToFirstTokenMs'], 0) &&
    isNum(v['tokensPerSecond'], 0) &&
    isOneOf(v['finishReason'], ['stop', 'length', 'cancelled'] as const)
  );
}

function isSnapshot(v: unknown): v is GenerationSnapshot {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['id', 'text', 'result', 'error']) &&
    isRequestId(v['id']) &&
    isStr(v['text'], L.message) &&
    (v['result'] === null || isOutcome(v['result'])) &&
    (v['error'] === null || isStr(v['error'], L.error))
  );
}

function isChatMessage(v: unknown): v is PlaygroundMessage {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['role', 'content']) &&
    isOneOf(v['role'], ['user', 'assistant'] as const) &&
    isStr(v['content'], L.message)
  );
}

function isStopString(v: unknown): v is string {
  return isStr(v, L.stopLength) && v.length > 0;
}

export function isSamplingParams(v: unknown): v is SamplingParams {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['max_new_tokens', 'temperature', 'top_p', 'seed', 'stop']) &&
    isInt(v['max_new_tokens'], 1, L.maxNewTokens) &&
    isNum(v['temperature'], 0, 5) &&
    isNum(v['top_p'], 0, 1) &&
    (v['seed'] === null || isInt(v['seed'], 0, 2 ** 32 - 1)) &&
    isArrayOf(v['stop'], isStopString, L.stop)
  );
}

function isExportTurn(v: unknown): v is ExportTurn {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['user', 'base', 'adapter']) &&
    isStr(v['user'], L.message) &&
    (v['base'] === null || isStr(v['base'], L.message)) &&
    (v['adapter'] === null || isStr(v['adapter'], L.message))
  );
}

function isSystem(v: unknown): v is string | null {
  return v === null || isStr(v, L.system);
}

const HOST_TYPES = ['init', 'adapters', 'tokens', 'done', 'failed', 'exported'] as const;

export function parsePlaygroundHostMessage(raw: unknown): PlaygroundHostMessage | null {
  const type = messageType(raw, HOST_TYPES);
  if (type === null) return null;
  const m = raw as Obj;
  const ok = (keys: string[], valid: boolean) => (hasOnlyKeys(m, ['type', ...keys]) && valid ? m : null);
  switch (type) {
    case 'init': {
      const preset = m['preset'];
      const presetOk =
        preset === null ||
        (isObj(preset) &&
          hasOnlyKeys(preset, ['target', 'adapterJobId']) &&
          isTargetId(preset['target']) &&
          isJobId(preset['adapterJobId']));
      return ok(
        ['targets', 'baseModels', 'preset', 'generations'],
        isArrayOf(m['targets'], isTarget, L.list) &&
          isArrayOf(m['baseModels'], isModelName, L.list) &&
          presetOk &&
          isArrayOf(m['generations'], isSnapshot, L.generations),
      ) as InitMessage | null;
    }
    case 'adapters':
      return ok(
        ['target', 'adapters'],
        isTargetId(m['target']) && isArrayOf(m['adapters'], isAdapterChoice, L.list),
      ) as AdaptersMessage | null;
    case 'tokens':
      return ok(['id', 'text'], isRequestId(m['id']) && isStr(m['text'], L.tokenBatch)) as TokensMessage | null;
    case 'done':
      return ok(['id', 'result'], isRequestId(m['id']) && isOutcome(m['result'])) as DoneMessage | null;
    case 'failed':
      return ok(['id', 'message'], isRequestId(m['id']) && isStr(m['message'], L.error)) as FailedMessage | null;
    case 'exported':
      return ok(
        ['ok', 'message'],
        typeof m['ok'] === 'boolean' && isStr(m['message'], L.error),
      ) as ExportedMessage | null;
  }
}

const WEBVIEW_TYPES = ['ready', 'listAdapters', 'generate', 'stop', 'export', 'prefer'] as const;

export function parsePlaygroundWebviewMessage(raw: unknown): PlaygroundWebviewMessage | null {
  const type = messageType(raw, WEBVIEW_TYPES);
  if (type === null) return null;
  const m = raw as Obj;
  const ok = (keys: string[], valid: boolean) => (hasOnlyKeys(m, ['type', ...keys]) && valid ? m : null);
  switch (type) {
    case 'ready':
    case 'stop':
      return ok([], true) as PlaygroundReadyMessage | StopMessage | null;
    case 'listAdapters':
      return ok(['target'], isTargetId(m['target'])) as ListAdaptersMessage | null;
    case 'generate': {
      // Either column runs a named base model with no adapter, or an adapter (its base model optional).
      const modelOk =
        isOneOf(m['side'], SIDES) &&
        (m['adapterJobId'] === null
          ? isModelName(m['base'])
          : isJobId(m['adapterJobId']) && (m['base'] === null || isModelName(m['base'])));
      return ok(
        ['id', 'side', 'target', 'base', 'adapterJobId', 'system', 'messages', 'params'],
        isRequestId(m['id']) &&
          modelOk &&
          isTargetId(m['target']) &&
          isSystem(m['system']) &&
          isArrayOf(m['messages'], isChatMessage, L.messages) &&
          (m['messages'] as PlaygroundMessage[]).length > 0 &&
          isSamplingParams(m['params']),
      ) as GenerateMessage | null;
    }
    case 'export':
      return ok(
        ['side', 'system', 'turns'],
        isOneOf(m['side'], SIDES) && isSystem(m['system']) && isArrayOf(m['turns'], isExportTurn, L.turns),
      ) as ExportMessage | null;
    case 'prefer':
      return ok(
        ['side', 'system', 'turns'],
        isOneOf(m['side'], SIDES) && isSystem(m['system']) && isArrayOf(m['turns'], isExportTurn, L.turns),
      ) as PreferMessage | null;
  }
}
