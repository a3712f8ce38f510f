// Chat templates: how an Example becomes the text the model is trained on. Templates are Jinja, as in
// Hugging Face tokenizers (`chat_template` in tokenizer_config.json, or chat_template.jinja beside it),
// rendered here with @huggingface/jinja, the maintained JavaScript implementation of the subset chat
// templates use; the trainer renders the same templates with jinja2. Built-in templates (a config's
// `chat_template: chatml`, and fallback.jinja for models without one) are the files in
// schemas/chat-templates/, which both sides read.
import contract from '../../../schemas/records/contract.json';
import { contractWords } from './dataset/contract';
import { Template } from '@huggingface/jinja';
import type { Example, Turn } from './dataset/example';
import { dirName, isAbsolutePath, joinPath } from './hfCache';
import { readChecked, type Environment } from './io';
import type { TokenCounter } from './tokenizer';

/** The special tokens a template sees, as transformers passes them (`special_tokens_map`). */
export type SpecialTokens = Record<string, string | string[]>;

const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

/** A token in tokenizer_config.json: a string, or an AddedToken object `{content, ...}`. */
function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/** The special tokens of a parsed tokenizer_config.json. */
export function specialTokensOf(tokenizerConfig: unknown): SpecialTokens {
  const out: SpecialTokens = {};
  if (!tokenizerConfig || typeof tokenizerConfig !== 'object') return out;
  const config = tokenizerConfig as Record<string, unknown>;
  for (const key of SPECIAL_TOKEN_KEYS) {
    const text = tokenText(config[key]);
    if (text !== undefined) out[key] = text;
  }
  const extra = config['additional_special_tokens'];
  if (Array.isArray(extra)) {
    const texts = extra.map(tokenText).filter((t): t is string => t !== undefined);
    if (texts.length > 0) out['additional_special_tokens'] = texts;
  }
  return out;
}

/**
 * The templates a model offers by name: `chat_template` of tokenizer_config.json is a string (the
 * default) or a list of `{name, template}` (`default`, `tool_use`, ...); a chat_template.jinja file
 * beside it replaces the default, as transformers loads it.
 */
export function templatesOf(tokenizerConfig: unknown, chatTemplateFile?: string): Map<string, string> {
  const out = new Map<string, string>();
  const field =
    tokenizerConfig && typeof tokenizerConfig === 'object'
      ? (tokenizerConfig as Record<string, unknown>)['chat_template']
      : undefined;
  if (typeof field === 'string' && field.length > 0) out.set('default', field);
  else if (Array.isArray(field)) {
    for (const entry of field) {
      if (!entry || typeof entry !== 'object') continue;
      const { name, template } = entry as { name?: unknown; template?: unknown };
      if (typeof name === 'string' && typeof template === 'string') out.set(name, template);
    }
  }
  if (chatTemplateFile !== undefined && chatTemplateFile.length > 0) out.set('default', chatTemplateFile);
  return out;
}

/** A template that did not render a record: its own message, or what went wrong while rendering. */
export interface RenderFailure {
  error: string;
}

/** One compiled template; compiled once per distinct text for the life of the process. */
export class ChatTemplate {
  private static readonly compiled = new Map<string, Template | Error>();

  private constructor(
    /** Shown to users: "chat_template of <folder>", "built-in chatml", a .jinja path. */
    readonly name: string,
    private readonly template: Template,
  ) {}

  /** Compiles `text`; an Error when the template does not parse. */
  static compile(text: string, name: string): ChatTemplate | Error {
    let compiled = ChatTemplate.compiled.get(text);
    if (compiled === undefined) {
      try {
        compiled = new Template(text);
      } catch (err) {
        compiled = new Error((err as Error)?.message ?? String(err));
      }
      ChatTemplate.compiled.set(text, compiled);
    }
    return compiled instanceof Error ? compiled : new ChatTemplate(name, compiled);
  }

  /**
   * The conversation `turns` (with `tools`) as the model's input text, or why it could not be rendered:
   * the message of the template's own `raise_exception(...)` (roles that must alternate...), or of an
   * error while rendering. `raise_exception` and `strftime_now` are the engine's globals.
   */
  render(
    turns: readonly Turn[],
    tools: readonly unknown[] | undefined,
    specials: SpecialTokens,
  ): string | RenderFailure {
    const inline = turns.some((t) => t.reasoning) && !this.rendersReasoning(tools, specials);
    return this.renderMessages(templateMessages(turns, inline), tools, specials);
  }

  /** Whether the template renders reasoning from the message, with and without tools (probed once each). */
  private readonly reasoningProbes: (boolean | undefined)[] = [undefined, undefined];

  /**
   * Whether this template renders an assistant turn's reasoning from the message (reasoning_content,
   * thinking or reasoning): the contract's probe, as the reasoning of a final assistant turn, shows up
   * in the text. Templates that do not get the reasoning inline (templateMessages); the trainer decides
   * the same way (data.renders_reasoning).
   */
  rendersReasoning(tools: readonly unknown[] | undefined, specials: SpecialTokens): boolean {
    const slot = tools && tools.length > 0 ? 1 : 0;
    let known = this.reasoningProbes[slot];
    if (known === undefined) {
      const probe = contract.reasoning.probe;
      const turns: Turn[] = [
        { role: 'user', content: '?' },
        { role: 'assistant', content: '!', reasoning: probe },
      ];
      const text = this.renderMessages(templateMessages(turns), tools, specials);
      known = typeof text === 'string' && text.includes(probe);
      this.reasoningProbes[slot] = known;
    }
    return known;
  }

  private renderMessages(
    messages: Record<string, unknown>[],
    tools: readonly unknown[] | undefined,
    specials: SpecialTokens,
  ): string | RenderFailure {
    try {
      return this.template.render({
        ...specials,
        messages,
        tools: tools && tools.length > 0 ? tools : null,
        documents: null,
        add_generation_prompt: false,
      });
    } catch (err) {
      return { error: (err as Error)?.message ?? String(err) };
    }
  }
}

/**
 * Turns as chat templates take them (OpenAI's shape): `{role, content, tool_calls: [{type: 'function',
 * function: {name, arguments}}], tool_call_id, name}`, absent keys left out as transformers drops
 * `None` values. An assistant turn's reasoning goes under each of the contract's reasoning keys, or, with
 * `inlineReasoning` (a template that renders none of them), into the content between think tags: the
 * trainer's records.template_turns does the same.
 */
export function templateMessages(turns: readonly Turn[], inlineReasoning = false): Record<string, unknown>[] {
  const words = contract.reasoning;
  return turns.map((turn) => {
    const message: Record<string, unknown> = { role: turn.role, content: turn.content };
    if (turn.reasoning && inlineReasoning) {
      message['content'] = words.inline_open + turn.reasoning + words.inline_close + turn.content;
    } else if (turn.reasoning) {
      for (const key of words.keys) message[key] = turn.reasoning;
    }
    if (turn.tool_calls && turn.tool_calls.length > 0) {
      message['tool_calls'] = turn.tool_calls.map((call) => ({
        ...(call.id !== undefined ? { id: call.id } : {}),
        type: 'function',
        function: { name: call.name, arguments: call.arguments },
      }));
    }
    if (turn.tool_call_id !== undefined) message['tool_call_id'] = turn.tool_call_id;
    if (turn.name !== undefined) message['name'] = turn.name;
    return message;
  });
}

/**
 * What renders a model's records: its templates by name, the special tokens they see, and where they
 * come from. `pick` chooses as transformers does: the `tool_use` template for a record with tools when
 * there is one, else `default` (or the only one).
 */
export class TemplateSet {
  private readonly compiled = new Map<string, ChatTemplate | Error>();

  constructor(
    readonly templates: ReadonlyMap<string, string>,
    readonly specials: SpecialTokens,
    /** Where the templates come from, for messages. */
    readonly origin: string,
  ) {}

  get eosToken(): string {
    const eos = this.specials['eos_token'];
    return typeof eos === 'string' ? eos : '';
  }

  /** The template for a record with or without tools; an Error when none fits or it does not parse. */
  pick(hasTools: boolean): ChatTemplate | Error {
    let name = hasTools && this.templates.has('tool_use') ? 'tool_use' : 'default';
    if (!this.templates.has(name) && this.templates.size === 1) name = [...this.templates.keys()][0] as string;
    const cached = this.compiled.get(name);
    if (cached) return cached;
    const text = this.templates.get(name);
    const result =
      text === undefined
        ? new Error(`${this.origin} has several chat templates and none named default`)
        : ChatTemplate.compile(text, this.templates.size > 1 ? `${this.origin} (${name})` : this.origin);
    this.compiled.set(name, result);
    return result;
  }

  /**
   * The texts the trainer tokenizes for `example`: one conversation, or for a preference pair the
   * prompt with each answer (two sequences). Text records are not templated: the text and the EOS.
   */
  renderExample(example: Example): string[] | RenderFailure {
    if (example.kind === 'text') return [(example.text ?? '') + this.eosToken];
    const template = this.pick((example.tools?.length ?? 0) > 0);
    if (template instanceof Error) return { error: `the chat template does not parse: ${template.message}` };
    const sequences =
      example.kind === 'preference'
        ? [
            [...example.messages, ...(example.chosen ?? [])],
            [...example.messages, ...(example.rejected ?? [])],
          ]
        : example.kind === 'kto'
          ? [[...example.messages, ...(example.completion ?? [])]]
          : [example.messages];
    const out: string[] = [];
    for (const turns of sequences) {
      const text = template.render(turns, example.tools, this.specials);
      if (typeof text !== 'string') return text;
      const dropped = droppedToolCall(template, turns, example.tools, this.specials, text);
      if (dropped !== undefined) return { error: contractWords('template-drops-tool-calls', { name: dropped }) };
      out.push(text);
    }
    return out;
  }
}

/**
 * The name of a tool call the template leaves out of the text: rendered without the calls, the text is
 * the same (a template that knows only role and content). The model would learn an empty answer, and
 * the trainer refuses such a record in the same words.
 */
function droppedToolCall(
  template: ChatTemplate,
  turns: readonly Turn[],
  tools: readonly unknown[] | undefined,
  specials: SpecialTokens,
  rendered: string,
): string | undefined {
  const call = turns.find((t) => t.tool_calls && t.tool_calls.length > 0)?.tool_calls?.[0];
  if (!call) return undefined;
  const withoutCalls = turns.map(({ tool_calls: _calls, ...rest }) => rest);
  return template.render(withoutCalls, tools, specials) === rendered ? call.name || 'a tool' : undefined;
}

const BUILTIN_NAME = /^[a-z0-9_.-]+$/;

/** The text of built-in template `name` (schemas/chat-templates/NAME.jinja), or undefined. */
export async function builtinTemplate(name: string, env: Environment): Promise<string | undefined> {
  if (!env.chatTemplatesDir || !BUILTIN_NAME.test(name) || name.endsWith('.jinja')) return undefined;
  const bytes = await env.fs.readFile(joinPath(env.chatTemplatesDir, name + '.jinja'), 'template');
  return bytes ? new TextDecoder().decode(bytes) : undefined;
}

/** The built-in templates' names. */
export async function builtinTemplateNames(env: Environment): Promise<string[]> {
  if (!env.chatTemplatesDir) return [];
  const entries = (await env.fs.readDir(env.chatTemplatesDir)) ?? [];
  return entries
    .filter((e) => e.endsWith('.jinja'))
    .map((e) => e.slice(0, -'.jinja'.length))
    .sort();
}

/**
 * A config's `chat_template:`: a built-in name, or a .jinja file relative to the config. The text and
 * where it came from, or why it cannot be used (in words for a diagnostic).
 */
export async function configTemplate(
  choice: string,
  configDir: string,
  env: Environment,
): Promise<{ text: string; origin: string } | { problem: string }> {
  if (choice.endsWith('.jinja')) {
    const path = isAbsolutePath(choice) ? choice : joinPath(configDir, choice);
    const read = await readChecked(env, path, 'template');
    if ('refused' in read) {
      return {
        problem: read.missing
          ? `The chat template file ${choice} does not exist (looked for ${path}).`
          : `The chat template file ${choice} is not used: ${read.refused}.`,
      };
    }
    return { text: new TextDecoder().decode(read.bytes), origin: path };
  }
  const text = await builtinTemplate(choice, env);
  if (text !== undefined) return { text, origin: `built-in ${choice}` };
  const names = await builtinTemplateNames(env);
  return {
    problem: `'${choice}' is neither a built-in chat template (${names.filter((n) => n !== 'fallback').join(', ') || 'none found'}) nor a .jinja file relative to this config.`,
  };
}

/**
 * The templates that render a file's records for `counter`'s model: the config's `chat_template` when
 * it names one that exists, else the model's own (tokenizer_config.json, chat_template.jinja), else the
 * built-in fallback. Undefined for the estimate (no tokenizer), or when not even the fallback is found.
 */
export async function templateSetFor(
  counter: TokenCounter,
  choice: { chatTemplate?: string; configDir: string } | undefined,
  env: Environment,
): Promise<TemplateSet | undefined> {
  if (!counter.exact) return undefined;
  const specials = specialTokensOf(counter.tokenizerConfig);
  if (choice?.chatTemplate) {
    const chosen = await configTemplate(choice.chatTemplate, choice.configDir, env);
    if ('text' in chosen) return new TemplateSet(new Map([['default', chosen.text]]), specials, chosen.origin);
  }
  const own = templatesOf(counter.tokenizerConfig, counter.chatTemplateFile);
  if (own.size > 0) return new TemplateSet(own, specials, `chat_template of ${dirName(counter.name)}`);
  const fallback = await builtinTemplate('fallback', env);
  if (fallback === undefined) return undefined;
  return new TemplateSet(
    new Map([['default', fallback]]),
    specials,
    'built-in fallback (the model has no chat template)',
  );
}
