// A record's length in the model's own terms: the Example rendered with the model's chat template and
// encoded with its tokenizer, the tokens the trainer feeds the model for it before truncation. Without a
// tokenizer on disk, the documented estimate of the record's text (recordText.ts).
import type { TemplateSet } from '../chatTemplate';
import { estimateOfCounts, utf8Length, type TokenCounter } from '../tokenizer';
import { toExample } from './contract';
import type { Example, Turn } from './example';
import { detectRecordFormat } from './formats';
import { exampleText, TURN_OVERHEAD_TOKENS, type RecordText } from './recordText';

/** The token count of a record the chat template failed on (it has none). */
export const NO_TOKENS = 0xffffffff;

export interface ExampleCount {
  tokens: number;
  /** True when `tokens` came from the model's tokenizer. */
  exact: boolean;
  /** Why the chat template could not render the record; `tokens` is then NO_TOKENS. */
  error?: string;
}

/** The estimate of a record's text: about four characters a token, plus a few tokens a turn for the template. */
export function estimateRecordText(text: RecordText, fullIsAscii = false): number {
  const estimate = fullIsAscii ? Math.ceil(text.fullLength / 4) : estimateOfCounts(text.fullLength, text.fullNonAscii);
  return estimate + TURN_OVERHEAD_TOKENS * text.turns;
}

/** What a template adds around a turn's reasoning, at most (think tags, gpt-oss's analysis channel). */
const REASONING_SLACK_BYTES = 128;

/** Bytes a turn's own values add to the rendered text (its content, reasoning, tool calls and names). */
function turnBytes(turn: Turn): number {
  let bytes = utf8Length(turn.content) + utf8Length(turn.name ?? '') + utf8Length(turn.tool_call_id ?? '');
  if (turn.reasoning) bytes += utf8Length(turn.reasoning) + REASONING_SLACK_BYTES;
  for (const call of turn.tool_calls ?? []) {
    // tojson writes ", " and ": " where JSON.stringify writes "," and ":": at most twice the bytes.
    bytes += utf8Length(call.name) + 2 * utf8Length(JSON.stringify(call.arguments)) + utf8Length(call.id ?? '');
  }
  return bytes;
}

/** The example with every value of its own emptied: what the template adds around them. */
function skeletonOf(example: Example): Example {
  const hollow = (turns: readonly Turn[] | undefined): Turn[] | undefined =>
    turns?.map((t) => ({
      role: t.role,
      content: '',
      ...(t.tool_calls ? { tool_calls: t.tool_calls.map(() => ({ name: '', arguments: {} })) } : {}),
    }));
  const out: Example = { kind: example.kind, messages: hollow(example.messages) ?? [] };
  if (example.tools) out.tools = example.tools;
  if (example.text !== undefined) out.text = '';
  for (const key of ['chosen', 'rejected', 'completion'] as const) {
    const turns = hollow(example[key]);
    if (turns) out[key] = turns;
  }
  return out;
}

/** A key for the skeleton: the kind, roles and tool-call counts of every sequence, and the tools. */
function shapeKey(example: Example): string {
  const part = (turns: readonly Turn[] | undefined) =>
    (turns ?? []).map((t) => t.role[0] + (t.tool_calls?.length ?? '') + (t.name ? 'n' : '')).join('');
  return [
    example.kind,
    part(example.messages),
    part(example.chosen),
    part(example.rejected),
    part(example.completion),
    example.tools ? JSON.stringify(example.tools) : '',
  ].join('|');
}

function allTurns(example: Example): Turn[] {
  return [...example.messages, ...(example.chosen ?? []), ...(example.rejected ?? []), ...(example.completion ?? [])];
}

/** Skeletons rendered; kept per shape, at most this many (then the table starts afresh). */
const MAX_SHAPES = 4096;
/** Slack per turn in the bound, for templates that move a little text around (a reasoning block...). */
const SLACK_BYTES_PER_TURN = 16;

/**
 * Counts Examples with a tokenizer and a chat template. It is a TokenCounter too (plain text counts go
 * to the tokenizer), so it travels wherever the validator options take one.
 */
export class ExampleTokenCounter implements TokenCounter {
  readonly exact: boolean;
  readonly name: string;
  private readonly shapes = new Map<string, { bytes: number } | { error: string }>();

  constructor(
    /** The model's tokenizer, or the estimate. */
    readonly tokenizer: TokenCounter,
    /** The templates that render records; undefined without a tokenizer (the estimate needs none). */
    readonly templates: TemplateSet | undefined,
    /** Count every record exactly, even where the length check needs no exact count (statistics). */
    readonly exactAll = false,
  ) {
    this.exact = tokenizer.exact && templates !== undefined && tokenizer.encodeCount !== undefined;
    this.name = tokenizer.name;
  }

  /** Which template renders records, in words ("estimate" without one). */
  get templateName(): string {
    return this.exact && this.templates ? this.templates.origin : 'estimate';
  }

  count(text: string): number {
    return this.tokenizer.count(text);
  }

  /** The same counter, counting every record exactly (for statistics). */
  counting(exactAll: boolean): ExampleTokenCounter {
    return exactAll === this.exactAll ? this : new ExampleTokenCounter(this.tokenizer, this.templates, exactAll);
  }

  /**
   * The tokens the trainer feeds the model for `example`: each sequence rendered and encoded (the
   * longer of a preference pair's two). As in the trainer (and transformers' apply_chat_template), a
   * rendered conversation is encoded without adding special tokens: the template writes the ones the
   * model sees (its BOS, turn markers, EOS). A text record is its text and the EOS, encoded with the
   * special tokens the tokenizer adds (a BOS).
   */
  countExample(example: Example): ExampleCount {
    if (!this.exact || !this.templates || !this.tokenizer.encodeCount) {
      return { tokens: estimateRecordText(exampleText(example)), exact: false };
    }
    const texts = this.templates.renderExample(example);
    if (!Array.isArray(texts)) return { tokens: NO_TOKENS, exact: true, error: texts.error };
    let tokens = 0;
    for (const text of texts) tokens = Math.max(tokens, this.tokenizer.encodeCount(text, example.kind === 'text'));
    return { tokens, exact: true };
  }

  /**
   * The count that decides the length check against `maxTokens`, cheaply: a record whose rendered text
   * is surely within the limit (its own bytes, plus what the template adds around a record of its shape,
   * bound the tokens of any byte-level or byte-fallback tokenizer) is not rendered and encoded, and its
   * count is the estimate. The template's additions are rendered once per shape (roles, tool calls, tool
   * definitions), so a template that refuses a shape (roles that must alternate) is caught here too.
   */
  lengthCount(example: Example, text: RecordText, maxTokens: number, fullIsAscii = false): ExampleCount {
    if (this.exactAll || !this.exact || !this.templates) return this.countExample(example);
    const key = shapeKey(example);
    let shape = this.shapes.get(key);
    if (shape === undefined) {
      const rendered = this.templates.renderExample(skeletonOf(example));
      shape = Array.isArray(rendered) ? { bytes: rendered.reduce((n, t) => n + utf8Length(t), 0) } : rendered;
      if (this.shapes.size >= MAX_SHAPES) this.shapes.clear();
      this.shapes.set(key, shape);
    }
    if ('error' in shape) return this.countExample(example);
    const turns = allTurns(example);
    let bytes = shape.bytes + 2 + SLACK_BYTES_PER_TURN * turns.length + utf8Length(example.text ?? '');
    for (const turn of turns) bytes += turnBytes(turn);
    if (bytes <= maxTokens) return { tokens: estimateRecordText(text, fullIsAscii), exact: false };
    return this.countExample(example);
  }
}

/**
 * The count of one JSONL line (or `.json` element text) as the trainer would see it: undefined for a
 * line that is not a record the contract accepts (those are reported by other rules and not trained).
 */
export function countRecordText(text: string, counter: ExampleTokenCounter): ExampleCount | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const format = detectRecordFormat(value);
  if (!format) return undefined;
  const conversion = toExample(value, format);
  return conversion.ok ? counter.countExample(conversion.example) : undefined;
}
