// The record contract's output: what one dataset record becomes before the chat template renders it.
// The trainer (trainer/modelfactory_trainer/records.py) builds the same structure from the same
// record, and the conformance corpus (test/conformance/) holds both sides to it. The detection order,
// role names and other tables live in schemas/records/contract.json, read by both sides.

/** A turn in canonical roles. Tool calls carry parsed arguments, as chat templates expect them. */
export interface Turn {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls?: ToolCall[];
  /** The call a tool result answers (OpenAI `tool_call_id`). */
  tool_call_id?: string;
  /** The tool's or speaker's name. */
  name?: string;
  /** false on an assistant turn the record excludes from the loss (OpenAI `weight: 0`). */
  train?: false;
  /**
   * An assistant turn's reasoning (chain of thought), from `reasoning_content`, `thinking` or `reasoning`:
   * learned with the answer. See templateMessages for how a template gets it.
   */
  reasoning?: string;
}

export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
  id?: string;
}

/** A tool definition as chat templates take it: `{type: 'function', function: {name, description, parameters}}`. */
export type ToolDefinition = Record<string, unknown>;

export type ExampleKind = 'sft' | 'preference' | 'kto' | 'text';

export interface Media {
  images?: string[];
  videos?: string[];
  audios?: string[];
}

/**
 * One record in the contract's terms.
 * - `sft`: `messages` is the conversation; the assistant turns (unless `train: false`) are learned.
 * - `preference`: `messages` is the prompt; `chosen` and `rejected` are the two answers (assistant turns).
 * - `kto`: `messages` is the prompt; `completion` the answer, `label` whether it is desirable.
 * - `text`: `text` is learned whole (continued pre-training).
 */
export interface Example {
  kind: ExampleKind;
  messages: Turn[];
  tools?: ToolDefinition[];
  text?: string;
  chosen?: Turn[];
  rejected?: Turn[];
  completion?: Turn[];
  label?: boolean;
  media?: Media;
}

/** A reason the trainer refuses a record, in the linter's terms: the rule id that reports it as an error. */
export interface Refusal {
  rule: string;
  /** JSON path inside the record. */
  path: (string | number)[];
  message: string;
}

export type Conversion = { ok: true; example: Example } | { ok: false; refusals: Refusal[] };
