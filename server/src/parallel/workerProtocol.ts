// What crosses between the main thread and the dataset workers. Validator options hold functions
// (the severity lookup, the token counter), which cannot be posted: they travel as the data that
// rebuilds them, a severity per rule id and the tokenizer.json path (or "estimate").
import { TemplateSet, type SpecialTokens } from '../core/chatTemplate';
import type { DatasetValidatorOptions } from '../core/dataset/context';
import { ExampleTokenCounter } from '../core/dataset/exampleTokens';
import type { RecordFormat } from '../core/dataset/formats';
import type { BlockAnalysis, DatasetStreamOptions } from '../core/dataset/stream';
import { RULES } from '../core/rules';
import { dirName } from '../core/hfCache';
import { estimateTokenCounter, loadTokenCounter } from '../core/tokenizer';
import type { Severity } from '../core/types';
import { decodeAsciiOnNode, nodeEnvironment } from '../nodeFs';

export interface WorkerOptions {
  /** Severity per rule id; rules that are off are absent. */
  severities: Record<string, Severity>;
  format?: RecordFormat;
  recordSchema?: object;
  maxTokens: number;
  minChars: number;
  nearThreshold: number;
  /** The tokenizer.json to load, or "estimate". */
  tokenizer: string;
  /** The chat templates that render records for it (ExampleTokenCounter), with their special tokens. */
  templates?: { entries: [string, string][]; specials: SpecialTokens; origin: string };
  /** Present when the counter is an ExampleTokenCounter: whether it counts every record exactly (statistics). */
  exactAll?: boolean;
}

/** Main -> worker: analyse these whole lines. */
export interface BlockRequest {
  seq: number;
  bytes: Uint8Array;
  atFileStart: boolean;
}

/** Worker -> main. */
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'block'; seq: number; analysis: BlockAnalysis }
  | { type: 'error'; seq: number; message: string };

/**
 * The options as data, or undefined when a worker could not reproduce them: a token counter that is
 * neither the estimate nor a tokenizer.json on disk.
 */
export function toWorkerOptions(opts: DatasetValidatorOptions): WorkerOptions | undefined {
  const examples = opts.tokenCounter instanceof ExampleTokenCounter ? opts.tokenCounter : undefined;
  const counter = examples ? examples.tokenizer : opts.tokenCounter;
  const estimate = estimateTokenCounter();
  let tokenizer: string;
  if (!counter.exact && counter.name === estimate.name) tokenizer = estimate.name;
  else if (counter.exact && counter.name.endsWith('.json')) tokenizer = counter.name;
  else return undefined;
  const severities: Record<string, Severity> = {};
  for (const rule of RULES) {
    const severity = opts.severityOf(rule.id);
    if (severity) severities[rule.id] = severity;
  }
  const out: WorkerOptions = {
    severities,
    maxTokens: opts.maxTokens,
    minChars: opts.minChars,
    nearThreshold: opts.nearThreshold,
    tokenizer,
  };
  if (examples?.templates) {
    const { templates, specials, origin } = examples.templates;
    out.templates = { entries: [...templates.entries()], specials, origin };
  }
  if (examples) out.exactAll = examples.exactAll;
  if (opts.format) out.format = opts.format;
  if (opts.recordSchema) out.recordSchema = opts.recordSchema;
  return out;
}

/** The options rebuilt in a worker; rejects when the tokenizer cannot be loaded there. */
export async function fromWorkerOptions(data: WorkerOptions): Promise<DatasetStreamOptions> {
  let tokenizer = estimateTokenCounter();
  if (data.tokenizer !== tokenizer.name) {
    const loaded = await loadTokenCounter(data.tokenizer, dirName(data.tokenizer), nodeEnvironment());
    if (!loaded) throw new Error(`cannot load the tokenizer ${data.tokenizer}`);
    tokenizer = loaded;
  }
  const templates = data.templates
    ? new TemplateSet(new Map(data.templates.entries), data.templates.specials, data.templates.origin)
    : undefined;
  const tokenCounter =
    data.exactAll !== undefined ? new ExampleTokenCounter(tokenizer, templates, data.exactAll) : tokenizer;
  const severities = new Map(Object.entries(data.severities));
  const opts: DatasetStreamOptions = {
    severityOf: (rule) => severities.get(rule),
    maxTokens: data.maxTokens,
    minChars: data.minChars,
    nearThreshold: data.nearThreshold,
    tokenCounter,
    decodeAscii: decodeAsciiOnNode,
  };
  if (data.format) opts.format = data.format;
  if (data.recordSchema) opts.recordSchema = data.recordSchema;
  return opts;
}
