// messages/unknown-role, messages/no-assistant, messages/empty-content, messages/role-order for the
// messages (OpenAI), sharegpt and preference (message-list) formats.
import contract from '../../../../schemas/records/contract.json';
import type { LineFindings } from './context';
import type { JsonPath, LineLocator } from './locate';
import { isBlankText } from './whitespace';

/** OpenAI's roles, `developer` and the legacy `function` included (schemas/records/contract.json). */
export const OPENAI_ROLES: ReadonlySet<string> = new Set(Object.keys(contract.roles.messages));
export const SHAREGPT_SPEAKERS: ReadonlySet<string> = new Set(Object.keys(contract.roles.sharegpt));

/** Common wrong roles and the OpenAI role they mean. */
const OPENAI_ROLE_FIXES: Readonly<Record<string, string>> = {
  human: 'user',
  gpt: 'assistant',
  bot: 'assistant',
  model: 'assistant',
  ai: 'assistant',
  chatbot: 'assistant',
  observation: 'tool',
  function_call: 'assistant',
};

/** Common wrong speakers in ShareGPT data and the `from` value they mean. */
const SHAREGPT_FIXES: Readonly<Record<string, string>> = {
  user: 'human',
  assistant: 'gpt',
  bot: 'gpt',
  model: 'gpt',
  ai: 'gpt',
  chatgpt: 'gpt',
  function: 'function_call',
};

/** The role as the conversation structure sees it. */
export type TurnKind = 'system' | 'user' | 'assistant' | 'assistant-call' | 'tool' | 'unknown';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function suggestionFor(
  role: string,
  fixes: Readonly<Record<string, string>>,
  valid: ReadonlySet<string>,
): string | undefined {
  const lower = role.toLowerCase().trim();
  if (lower !== role && valid.has(lower)) return lower;
  return fixes[lower];
}

function isEmptyContent(content: unknown): boolean {
  if (typeof content === 'string') return isBlankText(content);
  if (Array.isArray(content)) {
    if (content.length === 0) return true;
    return content.every(
      (part) => isObject(part) && part.type === 'text' && (typeof part.text !== 'string' || part.text.trim() === ''),
    );
  }
  return content === null || content === undefined;
}

/** Checks an OpenAI-style message list at `path` (the record's `messages`, or a preference side). */
export function checkOpenAiMessages(
  list: unknown,
  path: JsonPath,
  out: LineFindings,
  loc: LineLocator,
  options: { requireAssistant: boolean; checkOrder: boolean },
): void {
  if (!Array.isArray(list)) return;
  // Sized once (each message sets its own entry): an empty array's first push allocates room for 17.
  const turns = new Array<TurnKind>(list.length);
  for (let i = 0; i < list.length; i++) {
    const msg: unknown = list[i];
    if (!isObject(msg)) {
      turns[i] = 'unknown';
      continue;
    }
    const role = msg.role;
    let turn: TurnKind = 'unknown';
    if (typeof role === 'string') {
      if (OPENAI_ROLES.has(role)) {
        turn = (contract.roles.messages as Record<string, TurnKind>)[role]!;
        const calls = (Array.isArray(msg.tool_calls) && msg.tool_calls.length > 0) || isObject(msg.function_call);
        if (turn === 'assistant' && calls) turn = 'assistant-call';
      } else {
        const suggestion = suggestionFor(role, OPENAI_ROLE_FIXES, OPENAI_ROLES);
        if (suggestion === 'assistant' || suggestion === 'user' || suggestion === 'system' || suggestion === 'tool') {
          turn = suggestion;
        }
        if (out.isOn('messages/unknown-role')) {
          const [s, e] = loc.value([...path, i, 'role']);
          out.add(
            'messages/unknown-role',
            s,
            e,
            suggestion
              ? `Role '${role}' is not an OpenAI role: use '${suggestion}'.`
              : `Role '${role}' is not an OpenAI role: use system, developer, user, assistant or tool.`,
            suggestion ? { role, suggestion } : { role },
          );
        }
      }
    }
    turns[i] = turn;
    const toolCallOnly = turn === 'assistant-call';
    const content = msg.content;
    // An assistant turn that only calls tools may have null or empty content; every other turn needs text.
    const allowedEmpty = toolCallOnly && (content === null || content === undefined || content === '');
    const checkable =
      content === undefined || content === null || typeof content === 'string' || Array.isArray(content);
    if (checkable && !allowedEmpty && isEmptyContent(content)) {
      const [s, e] = content === undefined ? loc.value([...path, i]) : loc.value([...path, i, 'content']);
      const who = typeof role === 'string' ? role : 'no role';
      out.add(
        'messages/empty-content',
        s,
        e,
        content === undefined
          ? `Message ${i} (${who}) has no content: add a "content" field with the turn's text, or delete the message.`
          : `Message ${i} (${who}) has empty content: write the turn's text or delete the message.`,
      );
    }
  }
  finishConversation(turns, path, out, loc, 'role', options);
}

/** Checks a ShareGPT `conversations` list (a preference record's prompt needs no answer in it). */
export function checkShareGptConversations(
  list: unknown,
  path: JsonPath,
  out: LineFindings,
  loc: LineLocator,
  options = { requireAssistant: true, checkOrder: true },
): void {
  if (!Array.isArray(list)) return;
  const turns: TurnKind[] = [];
  for (let i = 0; i < list.length; i++) {
    const msg: unknown = list[i];
    if (!isObject(msg)) {
      turns.push('unknown');
      continue;
    }
    const from = msg.from;
    let speaker = typeof from === 'string' ? from : undefined;
    if (speaker !== undefined && !SHAREGPT_SPEAKERS.has(speaker)) {
      const suggestion = suggestionFor(speaker, SHAREGPT_FIXES, SHAREGPT_SPEAKERS);
      const [s, e] = loc.value([...path, i, 'from']);
      out.add(
        'messages/unknown-role',
        s,
        e,
        suggestion
          ? `Speaker '${speaker}' is not a ShareGPT 'from' value: use '${suggestion}'.`
          : `Speaker '${speaker}' is not a ShareGPT 'from' value: use human, gpt, system, function_call, observation or tool.`,
        suggestion ? { role: speaker, suggestion } : { role: speaker },
      );
      speaker = suggestion;
    }
    turns.push(shareGptTurn(speaker));
    if (typeof msg.value === 'string' && isBlankText(msg.value)) {
      const [s, e] = loc.value([...path, i, 'value']);
      out.add(
        'messages/empty-content',
        s,
        e,
        `Turn ${i} (${typeof from === 'string' ? from : 'no speaker'}) has an empty value: write the turn's text or delete it.`,
      );
    }
  }
  finishConversation(turns, path, out, loc, 'from', options);
}

function shareGptTurn(speaker: string | undefined): TurnKind {
  switch (speaker) {
    case 'human':
      return 'user';
    case 'gpt':
      return 'assistant';
    case 'system':
      return 'system';
    case 'function_call':
      return 'assistant-call';
    case 'observation':
    case 'tool':
      return 'tool';
    default:
      return 'unknown';
  }
}

function finishConversation(
  turns: TurnKind[],
  path: JsonPath,
  out: LineFindings,
  loc: LineLocator,
  roleKey: string,
  options: { requireAssistant: boolean; checkOrder: boolean },
): void {
  if (options.requireAssistant && !turns.includes('assistant') && !turns.includes('assistant-call')) {
    if (!turns.includes('unknown')) {
      const [s, e] = loc.key(path);
      out.add(
        'messages/no-assistant',
        s,
        e,
        roleKey === 'from'
          ? "The conversation has no 'gpt' turn, so there is nothing to learn: add the expected answer."
          : "The conversation has no 'assistant' message, so there is nothing to learn: add the expected answer.",
      );
    }
  }
  if (options.checkOrder && out.isOn('messages/role-order')) {
    const problem = firstOrderProblem(turns, roleKey === 'from');
    if (problem) {
      const [s, e] = loc.value([...path, problem.index, roleKey]);
      out.add('messages/role-order', s, e, problem.message);
    }
  }
}

export function firstOrderProblem(
  turns: readonly TurnKind[],
  shareGpt: boolean,
): { index: number; message: string } | undefined {
  const user = shareGpt ? "'human'" : "'user'";
  const assistant = shareGpt ? "'gpt'" : "'assistant'";
  const toolName = shareGpt ? "'observation'" : "'tool'";
  const call = shareGpt ? "'function_call'" : "an 'assistant' message with tool_calls";
  // What the previous structural turn was; tool results continue the assistant's call.
  let prev: 'start' | 'user' | 'assistant' | 'call' | 'tool' = 'start';
  for (let i = 0; i < turns.length; i++) {
    const t = turns[i];
    if (t === 'unknown') return undefined;
    if (t === 'system') {
      if (prev !== 'start')
        return {
          index: i,
          message: 'A system message may only come first: move it to the start or merge it into the first one.',
        };
      continue;
    }
    if (t === 'tool') {
      if (prev !== 'call' && prev !== 'tool') {
        return { index: i, message: `A ${toolName} result must follow ${call}.` };
      }
      prev = 'tool';
      continue;
    }
    if (t === 'user') {
      if (prev === 'user')
        return {
          index: i,
          message: `Two ${user} turns in a row: merge them or add the ${assistant} reply between them.`,
        };
      if (prev === 'call') return { index: i, message: `${call} must be followed by its ${toolName} result.` };
      prev = 'user';
      continue;
    }
    // assistant or assistant-call
    if (prev === 'start')
      return {
        index: i,
        message: `The conversation starts with ${assistant}: it should start with a ${user} turn (after an optional system message).`,
      };
    if (prev === 'assistant')
      return { index: i, message: `Two ${assistant} turns in a row: merge them or add the ${user} turn between them.` };
    if (prev === 'call' && t === 'assistant')
      return { index: i, message: `${call} must be followed by its ${toolName} result.` };
    prev = t === 'assistant-call' ? 'call' : 'assistant';
  }
  return undefined;
}
