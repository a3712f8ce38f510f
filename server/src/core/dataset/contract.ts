// The record contract: how one parsed record becomes an Example (example.ts), or why the trainer would
// refuse it, in the linter's rule ids. trainer/modelfactory_trainer/records.py is the same procedure in
// Python; both read the tables in schemas/records/contract.json, and test/conformance/records.jsonl holds
// both to the same verdicts, examples, renderings and trained spans.
import contract from '../../../../schemas/records/contract.json';
import type { Conversion, Example, Media, Refusal, ToolCall, ToolDefinition, Turn } from './example';
import type { RecordFormat } from './formats';

type Path = (string | number)[];
type Json = Record<string, unknown>;

const MESSAGE_ROLES: Readonly<Record<string, Turn['role']>> = contract.roles.messages as Record<string, Turn['role']>;
const SHAREGPT_ROLES: Readonly<Record<string, Turn['role']>> = contract.roles.sharegpt as Record<string, Turn['role']>;
const TOOL_CALL_SPEAKERS: ReadonlySet<string> = new Set(contract.tool_call_speakers);
const MEDIA_PLACEHOLDERS = contract.media as Readonly<Record<keyof Media, string>>;
const REASONING_KEYS: readonly string[] = contract.reasoning.keys;
const REASONING_KEY_SET: ReadonlySet<string> = new Set(REASONING_KEYS);
const NO_KEYS: readonly string[] = [];

/** The words both sides use for a config-level verdict, with `{name}` placeholders filled in. */
export function contractWords(key: keyof typeof contract.words, values: Record<string, string | number> = {}): string {
  return contract.words[key].replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? String(values[name]) : whole,
  );
}

/** The objective a record format trains with (`sft`, `dpo`, `kto`; preference pairs also train with `orpo`). */
export function objectiveOf(format: RecordFormat): string {
  for (const [objective, formats] of Object.entries(contract.objectives)) {
    if ((formats as string[]).includes(format)) return objective;
  }
  return 'sft';
}

export const RUNNABLE_OBJECTIVES: ReadonlySet<string> = new Set(contract.runnable_objectives);

/**
 * Why a config with `objective` cannot train records of `format`, in the contract's words; undefined
 * when it can. Used by the config linter and pre-flight; the trainer says the same.
 */
export function objectiveProblem(objective: string, format: RecordFormat): string | undefined {
  if (!RUNNABLE_OBJECTIVES.has(objective)) return contractWords('objective-not-runnable', { objective });
  const formats = (contract.objectives as Record<string, string[] | undefined>)[objective];
  if (formats?.includes(format)) return undefined;
  const needed = objectiveOf(format);
  const why =
    format === 'kto' ? contractWords('why-kto') : format === 'preference' ? contractWords('why-preference') : '';
  return contractWords('format-needs-objective', { format, needed, objective, why }).replace(/: $/, '.');
}

/** Whether a record lists media files (images, videos, audios) or has image parts in its content. */
export function hasMedia(record: unknown): boolean {
  if (!isObject(record)) return false;
  for (const key of Object.keys(MEDIA_PLACEHOLDERS)) {
    const value = record[key];
    if (Array.isArray(value) && value.length > 0) return true;
  }
  return JSON.stringify(record).includes('"image_url"');
}

/** The media lists a record may carry, once (not an Object.keys per record). */
const MEDIA_KEYS = Object.keys(MEDIA_PLACEHOLDERS) as (keyof Media)[];
const MEDIA_KEY_SET: ReadonlySet<string> = new Set(MEDIA_KEYS);

/**
 * Whether `object` has an own key in `keys`. A walk of its own keys (one or two in most messages and
 * records) instead of a lookup of each key in `keys`: loads by a computed key cost about 24 ns a
 * message where this costs 12, and a validation reads every message of every record.
 */
function hasKeyIn(object: object, keys: ReadonlySet<string>): boolean {
  for (const key in object) if (keys.has(key)) return true;
  return false;
}

function hasMediaLists(media: Media): boolean {
  if (!hasKeyIn(media, MEDIA_KEY_SET)) return false;
  for (const key of MEDIA_KEYS) if (media[key] !== undefined) return true;
  return false;
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Gathers refusals; every accessor reports what it could not use and returns undefined. */
class Reader {
  readonly refusals: Refusal[] = [];

  refuse(rule: string, path: Path, message: string): undefined {
    this.refusals.push({ rule, path, message });
    return undefined;
  }

  string(record: Json, key: string, path: Path, required: boolean): string | undefined {
    const value = record[key];
    if (value === undefined)
      return required ? this.refuse('schema/missing-field', path, `'${key}' is missing`) : undefined;
    if (typeof value !== 'string') return this.refuse('schema/wrong-type', [...path, key], `'${key}' must be a string`);
    return value;
  }

  /** OpenAI message content: text, a list of parts (text parts joined by newlines), or null. */
  content(value: unknown, path: Path, media: Media): string | null | undefined {
    if (value === null || value === undefined) return null;
    if (typeof value === 'string') return value;
    if (!Array.isArray(value)) return this.refuse('schema/wrong-type', path, 'content must be text or a list of parts');
    const texts: string[] = [];
    for (const [i, part] of value.entries()) {
      if (!isObject(part)) return this.refuse('schema/wrong-type', [...path, i], 'a content part must be an object');
      if (part.type === 'text' && typeof part.text === 'string') texts.push(part.text);
      else if (part.type === 'image_url') {
        const url = isObject(part.image_url) ? part.image_url.url : undefined;
        (media.images ??= []).push(typeof url === 'string' ? url : '');
        texts.push(MEDIA_PLACEHOLDERS.images);
      } else
        return this.refuse(
          'schema/wrong-type',
          [...path, i],
          `content part of type '${String(part.type)}' is not text`,
        );
    }
    return texts.join('\n');
  }

  /** A call's arguments: an object, or a string holding one. */
  arguments(value: unknown, path: Path): Record<string, unknown> | undefined {
    if (value === undefined || value === null) return {};
    if (isObject(value)) return value;
    if (typeof value === 'string') {
      let parsed: unknown;
      try {
        parsed = value.trim() === '' ? {} : JSON.parse(value);
      } catch {
        return this.refuse('messages/tool-call', path, 'the tool call arguments are not valid JSON');
      }
      if (isObject(parsed)) return parsed;
      if (typeof parsed === 'string' && /^\s*\{/.test(parsed)) {
        return this.refuse(
          'messages/tool-call',
          path,
          'the tool call arguments are JSON encoded twice (a string that holds JSON): encode them once',
        );
      }
    }
    return this.refuse('messages/tool-call', path, 'the tool call arguments must be a JSON object');
  }

  /** `{name, arguments}` (an OpenAI function or a ShareGPT function_call value). */
  call(value: unknown, path: Path, id?: unknown): ToolCall | undefined {
    if (!isObject(value) || typeof value.name !== 'string' || value.name === '') {
      return this.refuse('messages/tool-call', path, 'a tool call needs the name of the function it calls');
    }
    const args = this.arguments(value.arguments, [...path, 'arguments']);
    if (!args) return undefined;
    const call: ToolCall = { name: value.name, arguments: args };
    if (typeof id === 'string') call.id = id;
    return call;
  }

  /** Tool definitions: a list of objects (or a JSON string holding one), each wrapped as `{type: 'function', function}`. */
  tools(value: unknown, path: Path): ToolDefinition[] | undefined {
    let list = value;
    if (typeof value === 'string') {
      try {
        list = value.trim() === '' ? [] : JSON.parse(value);
      } catch {
        return this.refuse('schema/wrong-type', path, 'tools is a string that is not valid JSON');
      }
    }
    if (!Array.isArray(list)) return this.refuse('schema/wrong-type', path, 'tools must be a list of tool definitions');
    const tools: ToolDefinition[] = [];
    for (const [i, tool] of list.entries()) {
      if (!isObject(tool)) return this.refuse('schema/wrong-type', [...path, i], 'a tool definition must be an object');
      tools.push(isObject(tool.function) ? tool : { type: 'function', function: tool });
    }
    return tools;
  }

  /** An OpenAI message list in canonical turns. */
  openAiMessages(list: unknown, path: Path, media: Media): Turn[] | undefined {
    if (!Array.isArray(list)) return this.refuse('schema/wrong-type', path, 'expected a list of messages');
    // Sized once: an empty array's first push allocates room for 17 (a list with a refusal is dropped).
    const turns = new Array<Turn>(list.length);
    let ok = true;
    for (let i = 0; i < list.length; i++) {
      const turn = this.openAiMessage(list[i], path, i, media);
      if (turn) turns[i] = turn;
      else ok = false;
    }
    return ok ? turns : undefined;
  }

  /**
   * Message `index` of the list at `list` (its path). Paths are built only for a refusal: building one
   * per message and field was a fifth of what validating a record allocated.
   */
  private openAiMessage(message: unknown, list: Path, index: number, media: Media): Turn | undefined {
    if (!isObject(message)) return this.refuse('schema/wrong-type', pathAt(list, index), 'a message must be an object');
    const raw = message.role;
    if (typeof raw !== 'string')
      return this.refuse('schema/missing-field', pathAt(list, index), "a message needs a 'role'");
    const role = MESSAGE_ROLES[raw];
    if (!role) return this.refuse('messages/unknown-role', pathAt(list, index, 'role'), `unknown role '${raw}'`);
    const content =
      typeof message.content === 'string'
        ? message.content
        : this.content(message.content, pathAt(list, index, 'content'), media);
    if (content === undefined) return undefined;
    let calls: ToolCall[] | undefined;
    if (message.tool_calls !== undefined) {
      if (!Array.isArray(message.tool_calls)) {
        return this.refuse('schema/wrong-type', pathAt(list, index, 'tool_calls'), 'tool_calls must be a list');
      }
      calls = [];
      for (const [i, call] of message.tool_calls.entries()) {
        const callPath = pathAt(list, index, 'tool_calls', i);
        if (!isObject(call)) return this.refuse('messages/tool-call', callPath, 'a tool call must be an object');
        const parsed = this.call(call.function, [...callPath, 'function'], call.id);
        if (!parsed) return undefined;
        calls.push(parsed);
      }
    }
    if (message.function_call !== undefined) {
      const parsed = this.call(message.function_call, pathAt(list, index, 'function_call'));
      if (!parsed) return undefined;
      (calls ??= []).push(parsed);
    }
    if (calls && calls.length > 0 && role !== 'assistant') {
      return this.refuse('messages/tool-call', pathAt(list, index, 'role'), `a ${raw} message cannot call tools`);
    }
    if (content === null && !(calls && calls.length > 0)) {
      return this.refuse('messages/empty-content', pathAt(list, index), `a ${raw} message needs content`);
    }
    const turn: Turn = { role, content: content ?? '' };
    if (calls && calls.length > 0) turn.tool_calls = calls;
    if (typeof message.tool_call_id === 'string') turn.tool_call_id = message.tool_call_id;
    if (typeof message.name === 'string') turn.name = message.name;
    let reasoning: [string, string] | undefined;
    for (const key of hasKeyIn(message, REASONING_KEY_SET) ? REASONING_KEYS : NO_KEYS) {
      const value = message[key];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string')
        return this.refuse('schema/wrong-type', pathAt(list, index, key), `${key} must be text`);
      if (!value.trim()) continue;
      if (role !== 'assistant') {
        return this.refuse(
          'messages/reasoning',
          pathAt(list, index, key),
          `a ${raw} message cannot carry reasoning (${key}): only assistant turns reason`,
        );
      }
      if (reasoning && reasoning[1] !== value) {
        return this.refuse(
          'messages/reasoning',
          pathAt(list, index, key),
          `${reasoning[0]} and ${key} hold different reasoning: keep one`,
        );
      }
      reasoning ??= [key, value];
    }
    if (reasoning) turn.reasoning = reasoning[1];
    if (message.weight !== undefined && message.weight !== 0 && message.weight !== 1) {
      return this.refuse('schema/wrong-type', pathAt(list, index, 'weight'), 'weight must be 0 or 1');
    }
    if (message.weight === 0 && role === 'assistant') turn.train = false;
    return turn;
  }

  /** One ShareGPT turn in canonical form. */
  shareGptTurn(turn: unknown, path: Path): Turn | undefined {
    if (!isObject(turn)) return this.refuse('schema/wrong-type', path, 'a turn must be an object');
    const from = turn.from;
    if (typeof from !== 'string') return this.refuse('schema/missing-field', path, "a turn needs 'from'");
    const role = SHAREGPT_ROLES[from];
    if (!role) return this.refuse('messages/unknown-role', [...path, 'from'], `unknown speaker '${from}'`);
    const value = this.string(turn, 'value', path, true);
    if (value === undefined) return undefined;
    // A turn's weight (SlimOrca, OpenHermes, axolotl): 0 leaves an answer untrained; 1 and null are the default.
    const weight = turn.weight;
    if (weight !== undefined && weight !== null && weight !== 0 && weight !== 1) {
      return this.refuse('schema/wrong-type', [...path, 'weight'], 'weight must be 0, 1 or null');
    }
    if (!TOOL_CALL_SPEAKERS.has(from)) {
      return weight === 0 && role === 'assistant' ? { role, content: value, train: false } : { role, content: value };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return this.refuse('messages/tool-call', [...path, 'value'], `a ${from} turn must hold the call as JSON`);
    }
    const calls: ToolCall[] = [];
    for (const [i, call] of (Array.isArray(parsed) ? parsed : [parsed]).entries()) {
      const one = this.call(call, Array.isArray(parsed) ? [...path, 'value', i] : [...path, 'value']);
      if (!one) return undefined;
      calls.push(one);
    }
    if (calls.length === 0) return this.refuse('messages/tool-call', [...path, 'value'], 'the call list is empty');
    return weight === 0
      ? { role: 'assistant', content: '', tool_calls: calls, train: false }
      : { role: 'assistant', content: '', tool_calls: calls };
  }

  shareGptTurns(list: unknown, path: Path): Turn[] | undefined {
    if (!Array.isArray(list)) return this.refuse('schema/wrong-type', path, 'expected a list of turns');
    const turns: Turn[] = [];
    let ok = true;
    for (const [i, turn] of list.entries()) {
      const one = this.shareGptTurn(turn, [...path, i]);
      if (one) turns.push(one);
      else ok = false;
    }
    return ok ? turns : undefined;
  }

  /** Alpaca's history pairs, system, instruction and input as turns ending with the user's. */
  alpacaPrompt(record: Json): Turn[] | undefined {
    const turns: Turn[] = [];
    const system = this.string(record, 'system', [], false);
    if (system) turns.push({ role: 'system', content: system });
    const history = record.history;
    if (history !== undefined) {
      if (!Array.isArray(history))
        return this.refuse('schema/wrong-type', ['history'], 'history must be a list of pairs');
      for (const [i, pair] of history.entries()) {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
          return this.refuse(
            'schema/wrong-type',
            ['history', i],
            'each history entry must be a [user, assistant] pair of strings',
          );
        }
        turns.push({ role: 'user', content: pair[0] }, { role: 'assistant', content: pair[1] });
      }
    }
    const instruction = this.string(record, 'instruction', [], true);
    const input = typeof record.input === 'string' ? record.input : this.string(record, 'input', [], false);
    if (instruction === undefined) return undefined;
    turns.push({ role: 'user', content: input ? instruction + contract.alpaca_join + input : instruction });
    return turns;
  }

  media(record: Json): Media | undefined {
    const media: Media = {};
    if (!hasKeyIn(record, MEDIA_KEY_SET)) return media;
    for (const key of MEDIA_KEYS) {
      const value = record[key];
      if (value === undefined) continue;
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
        return this.refuse('schema/wrong-type', [key], `${key} must be a list of file paths`);
      }
      if (value.length > 0) media[key] = value as string[];
    }
    return media;
  }
}

function hasTrainedAnswer(turns: Turn[]): boolean {
  return turns.some((t) => t.role === 'assistant' && t.train !== false);
}

/** An answer (preference side, KTO completion) as assistant turns. */
function answerTurns(reader: Reader, value: unknown, path: Path, media: Media): Turn[] | undefined {
  if (typeof value === 'string') return [{ role: 'assistant', content: value }];
  if (Array.isArray(value)) return reader.openAiMessages(value, path, media);
  if (isObject(value) && 'from' in value) {
    const turn = reader.shareGptTurn(value, path);
    return turn ? [turn] : undefined;
  }
  if (isObject(value) && 'role' in value) return reader.openAiMessages([value], path, media)?.slice(0, 1);
  return reader.refuse('schema/wrong-type', path, 'an answer must be text, messages or one turn');
}

/** The record's top-level `system` prompt as a turn, if it has one. */
function systemTurns(record: Json): Turn[] {
  return typeof record.system === 'string' && record.system ? [{ role: 'system', content: record.system }] : [];
}

/** A prompt given as text (one user turn) or as messages. */
function promptTurns(reader: Reader, record: Json, value: unknown, path: Path, media: Media): Turn[] | undefined {
  const system = systemTurns(record);
  if (typeof value === 'string') return [...system, { role: 'user', content: value }];
  const turns = reader.openAiMessages(value, path, media);
  return turns && [...system, ...turns];
}

function turnsEqual(a: Turn[], b: Turn[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function isBlank(turns: Turn[]): boolean {
  return turns.every((t) => t.content.trim() === '' && !t.tool_calls);
}

/** Where two texts that begin alike part, as TRL's extract_prompt finds it: a space just before stays with the answers. */
function sharedTextPrefix(first: string, second: string): number {
  let length = 0;
  const limit = Math.min(first.length, second.length);
  while (length < limit && first[length] === second[length]) length++;
  return length > 0 && first[length - 1] === ' ' ? length - 1 : length;
}

function preference(reader: Reader, record: Json, media: Media): Example | undefined {
  let prompt: Turn[] | undefined;
  let chosen: Turn[] | undefined;
  let rejected: Turn[] | undefined;
  let tools: ToolDefinition[] | undefined;
  if (isObject(record.input) && 'preferred_output' in record) {
    prompt = reader.openAiMessages(record.input.messages, ['input', 'messages'], media);
    if (record.input.tools !== undefined) tools = reader.tools(record.input.tools, ['input', 'tools']);
    chosen = reader.openAiMessages(record.preferred_output, ['preferred_output'], media);
    rejected = reader.openAiMessages(record.non_preferred_output, ['non_preferred_output'], media);
  } else {
    if ('conversations' in record) {
      const system = systemTurns(record);
      const turns = reader.shareGptTurns(record.conversations, ['conversations']);
      prompt = turns && [...system, ...turns];
    } else if ('instruction' in record) {
      prompt = reader.alpacaPrompt(record);
    } else if ('prompt' in record) {
      prompt = promptTurns(reader, record, record.prompt, ['prompt'], media);
    }
    chosen = answerTurns(reader, record.chosen, ['chosen'], media);
    rejected = answerTurns(reader, record.rejected, ['rejected'], media);
    if (prompt === undefined && !('prompt' in record) && !('conversations' in record) && !('instruction' in record)) {
      // TRL's implicit prompt: both sides are whole conversations that share the prompt.
      if (chosen && rejected && Array.isArray(record.chosen) && Array.isArray(record.rejected)) {
        let shared = 0;
        while (shared < chosen.length && shared < rejected.length && turnsEqual([chosen[shared]!], [rejected[shared]!]))
          shared++;
        prompt = chosen.slice(0, shared);
        chosen = chosen.slice(shared);
        rejected = rejected.slice(shared);
      } else if (typeof record.chosen === 'string' && typeof record.rejected === 'string') {
        // The same in text (Anthropic's HH-RLHF): the prompt is the two texts' common beginning.
        if (record.chosen === record.rejected)
          return reader.refuse('preference/identical', ['rejected'], 'the two answers are identical');
        const shared = sharedTextPrefix(record.chosen, record.rejected);
        if (shared > 0) {
          prompt = promptTurns(reader, record, record.chosen.slice(0, shared), ['chosen'], media);
          chosen = [{ role: 'assistant', content: record.chosen.slice(shared) }];
          rejected = [{ role: 'assistant', content: record.rejected.slice(shared) }];
        }
      }
      if (!prompt || prompt.length === 0) {
        return reader.refuse(
          'schema/missing-field',
          [],
          'a preference record needs a prompt (prompt, instruction, conversations or input.messages), or two answers that begin with the same one',
        );
      }
    }
    if (record.tools !== undefined) tools = reader.tools(record.tools, ['tools']);
  }
  if (!prompt || !chosen || !rejected || (record.tools !== undefined && !tools)) return undefined;
  const chosenKey = 'preferred_output' in record ? 'preferred_output' : 'chosen';
  const rejectedKey = 'non_preferred_output' in record ? 'non_preferred_output' : 'rejected';
  if (isBlank(chosen)) return reader.refuse('content/empty', [chosenKey], 'the preferred answer is empty');
  if (isBlank(rejected)) return reader.refuse('content/empty', [rejectedKey], 'the rejected answer is empty');
  if (!hasTrainedAnswer(chosen))
    return reader.refuse('messages/no-assistant', [chosenKey], 'the preferred answer has no assistant turn');
  if (!hasTrainedAnswer(rejected))
    return reader.refuse('messages/no-assistant', [rejectedKey], 'the rejected answer has no assistant turn');
  if (turnsEqual(chosen, rejected))
    return reader.refuse('preference/identical', [rejectedKey], 'the two answers are identical');
  const example: Example = { kind: 'preference', messages: prompt, chosen, rejected };
  if (tools && tools.length > 0) example.tools = tools;
  return example;
}

function kto(reader: Reader, record: Json, media: Media): Example | undefined {
  const labelKey = 'label' in record ? 'label' : 'kto_tag';
  const label = record[labelKey];
  if (typeof label !== 'boolean')
    return reader.refuse('schema/wrong-type', [labelKey], `${labelKey} must be true or false`);
  let prompt: Turn[] | undefined;
  let completion: Turn[] | undefined;
  if ('completion' in record) {
    prompt = 'prompt' in record ? promptTurns(reader, record, record.prompt, ['prompt'], media) : [];
    completion = answerTurns(reader, record.completion, ['completion'], media);
  } else {
    const system = systemTurns(record);
    const turns =
      'messages' in record
        ? reader.openAiMessages(record.messages, ['messages'], media)
        : reader.shareGptTurns(record.conversations, ['conversations']);
    if (!turns) return undefined;
    const last = turns.length - 1;
    if (last < 0 || turns[last]!.role !== 'assistant') {
      return reader.refuse(
        'messages/no-assistant',
        ['messages' in record ? 'messages' : 'conversations'],
        'the conversation must end with the answer the label judges',
      );
    }
    prompt = [...system, ...turns.slice(0, last)];
    completion = [turns[last]!];
  }
  if (!prompt || !completion) return undefined;
  if (!hasTrainedAnswer(completion))
    return reader.refuse('messages/no-assistant', ['completion'], 'the completion has no assistant turn');
  if (isBlank(completion)) return reader.refuse('content/empty', ['completion'], 'the completion is empty');
  const example: Example = { kind: 'kto', messages: prompt, completion, label };
  if (record.tools !== undefined) {
    const tools = reader.tools(record.tools, ['tools']);
    if (!tools) return undefined;
    if (tools.length > 0) example.tools = tools;
  }
  return example;
}

function conversation(
  reader: Reader,
  record: Json,
  format: 'messages' | 'sharegpt' | 'alpaca',
  media: Media,
): Example | undefined {
  let turns: Turn[] | undefined;
  let tools: ToolDefinition[] | undefined;
  let listKey = 'messages';
  if (format === 'messages') {
    if (!('messages' in record)) return reader.refuse('schema/missing-field', [], "'messages' is missing");
    turns = reader.openAiMessages(record.messages, ['messages'], media);
    if (record.tools !== undefined || record.functions !== undefined) {
      const definitions = [
        ...(record.tools !== undefined ? (reader.tools(record.tools, ['tools']) ?? []) : []),
        ...(record.functions !== undefined ? (reader.tools(record.functions, ['functions']) ?? []) : []),
      ];
      if (definitions.length > 0) tools = definitions;
    }
  } else if (format === 'sharegpt') {
    listKey = 'conversations';
    if (!('conversations' in record)) return reader.refuse('schema/missing-field', [], "'conversations' is missing");
    const system = reader.string(record, 'system', [], false);
    const list = reader.shareGptTurns(record.conversations, ['conversations']);
    turns = list && (system ? [{ role: 'system', content: system }, ...list] : list);
    if (record.tools !== undefined) tools = reader.tools(record.tools, ['tools']);
  } else {
    const prompt = reader.alpacaPrompt(record);
    const output = reader.string(record, 'output', [], true);
    turns = prompt && output !== undefined ? [...prompt, { role: 'assistant', content: output }] : undefined;
  }
  if (!turns || reader.refusals.length > 0) return undefined;
  if (!hasTrainedAnswer(turns)) {
    return reader.refuse(
      'messages/no-assistant',
      [listKey],
      turns.some((t) => t.role === 'assistant')
        ? 'every assistant turn has weight 0'
        : 'the conversation has no assistant turn',
    );
  }
  const example: Example = { kind: 'sft', messages: turns };
  if (tools && tools.length > 0) example.tools = tools;
  return example;
}

/**
 * TRL's prompt-completion record, trained as sft: the prompt (text, or messages whose assistant turns are
 * context, not learned) and the completion learned after it, as TRL's completion-only loss does.
 */
function promptCompletion(reader: Reader, record: Json, media: Media): Example | undefined {
  if (!('prompt' in record)) return reader.refuse('schema/missing-field', [], "'prompt' is missing");
  if (!('completion' in record)) return reader.refuse('schema/missing-field', [], "'completion' is missing");
  const prompt = promptTurns(reader, record, record.prompt, ['prompt'], media);
  const completion = answerTurns(reader, record.completion, ['completion'], media);
  if (!prompt || !completion) return undefined;
  if (!hasTrainedAnswer(completion))
    return reader.refuse('messages/no-assistant', ['completion'], 'the completion has no assistant turn');
  if (isBlank(completion)) return reader.refuse('content/empty', ['completion'], 'the completion is empty');
  const context = prompt.map((t): Turn => (t.role === 'assistant' ? { ...t, train: false } : t));
  const example: Example = { kind: 'sft', messages: [...context, ...completion] };
  if (record.tools !== undefined) {
    const tools = reader.tools(record.tools, ['tools']);
    if (!tools) return undefined;
    if (tools.length > 0) example.tools = tools;
  }
  return example;
}

function placeholderCounts(example: Example): Record<keyof Media, number> {
  const counts = { images: 0, videos: 0, audios: 0 };
  const turns = [...example.messages, ...(example.chosen ?? []), ...(example.completion ?? [])];
  for (const turn of turns) {
    for (const key of Object.keys(counts) as (keyof Media)[]) {
      counts[key] += turn.content.split(MEDIA_PLACEHOLDERS[key]).length - 1;
    }
  }
  return counts;
}

/** The record in the contract's terms, or the refusals the trainer would give it. */
export function toExample(record: unknown, format: RecordFormat): Conversion {
  const reader = new Reader();
  if (!isObject(record)) {
    reader.refuse('format/unknown', [], 'a record must be a JSON object');
    return { ok: false, refusals: reader.refusals };
  }
  const media = reader.media(record) ?? {};
  let example: Example | undefined;
  switch (format) {
    case 'text': {
      const text = reader.string(record, 'text', [], true);
      if (text !== undefined) example = { kind: 'text', messages: [], text };
      break;
    }
    case 'preference':
      example = preference(reader, record, media);
      break;
    case 'kto':
      example = kto(reader, record, media);
      break;
    case 'prompt_completion':
      example = promptCompletion(reader, record, media);
      break;
    default:
      example = conversation(reader, record, format, media);
  }
  if (!example || reader.refusals.length > 0) return { ok: false, refusals: reader.refusals };
  if (hasMediaLists(media)) {
    const counts = placeholderCounts(example);
    for (const key of Object.keys(media) as (keyof Media)[]) {
      const files = media[key]!.length;
      if (counts[key] !== files) {
        reader.refuse(
          'media/placeholder-count',
          [key],
          `${files} ${key} but ${counts[key]} ${MEDIA_PLACEHOLDERS[key]} placeholder${counts[key] === 1 ? '' : 's'} in the text: they must match`,
        );
      }
    }
    if (reader.refusals.length > 0) return { ok: false, refusals: reader.refusals };
    example.media = media;
  }
  return { ok: true, example };
}

/** The path of field `keys` of item `index` of the list at `list`. */
function pathAt(list: Path, index: number, ...keys: (string | number)[]): Path {
  return [...list, index, ...keys];
}

/** Each key the detection table names, as one bit. */
const DETECT_BITS = new Map<string, number>();
function detectMask(keys: readonly string[]): number {
  let mask = 0;
  for (const key of keys) {
    if (!DETECT_BITS.has(key)) DETECT_BITS.set(key, 1 << DETECT_BITS.size);
    mask |= DETECT_BITS.get(key) as number;
  }
  return mask;
}
/** The detection table as masks: a rule fits when the record has every key of `all` and one of `any` (0: none asked). */
const DETECT_RULES = contract.detect.map((rule) => ({
  format: rule.format as RecordFormat,
  all: detectMask(rule.all),
  any: 'any' in rule && rule.any ? detectMask(rule.any) : 0,
}));
if (DETECT_BITS.size > 30) throw new Error('contract.json: the detection table names more keys than a mask holds');

/**
 * The format a record is written in, by the contract's detection table; undefined when none fits. The
 * record's own keys are walked once against the table's (a record has a few): a lookup of each of the
 * table's keys in the record, by a computed name, took five to ten for a chat record, about 1 ms per
 * 10 MB.
 */
export function detectFormat(record: unknown): RecordFormat | undefined {
  if (!isObject(record)) return undefined;
  let present = 0;
  for (const key in record) present |= DETECT_BITS.get(key) ?? 0;
  for (const rule of DETECT_RULES) {
    if ((present & rule.all) === rule.all && (rule.any === 0 || (present & rule.any) !== 0)) return rule.format;
  }
  return undefined;
}
