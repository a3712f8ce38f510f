// The registry of stable rule ids. Users suppress, configure and search findings by these ids; the
// CLI prints them. An id keeps its meaning forever; new ids may be added here.
import type { Severity, SeveritySetting } from './types';

export type RuleCategory = 'dataset' | 'datanet' | 'config' | 'registry';

export interface RuleInfo {
  id: string;
  category: RuleCategory;
  defaultSeverity: Severity;
  /** One line: what the rule checks. Shown in docs, hovers and `modelfactory lint --rules`. */
  description: string;
}

const rule = (id: string, category: RuleCategory, defaultSeverity: Severity, description: string): RuleInfo => ({
  id,
  category,
  defaultSeverity,
  description,
});

export const RULES: readonly RuleInfo[] = [
  rule('jsonl/invalid-json', 'dataset', 'error', 'A line is not valid JSON.'),
  rule('jsonl/too-deep', 'dataset', 'error', 'A record nested more than 64 levels deep (not checked further).'),
  rule(
    'jsonl/line-too-long',
    'dataset',
    'error',
    'A line longer than the documented bound (64 MiB): not parsed, the rest of the file is checked.',
  ),
  rule(
    'encoding/utf16',
    'dataset',
    'error',
    'The file is UTF-16 (it starts with a UTF-16 byte order mark); datasets must be UTF-8.',
  ),
  rule(
    'file/unreadable',
    'dataset',
    'error',
    'A file that cannot be read: not a regular file (a device, FIFO, socket or folder), over its size cap, or removed.',
  ),
  rule(
    'config/model-files',
    'config',
    'warning',
    "A base model's files that were refused or hold implausible values (a huge safetensors header, 1e308 in config.json).",
  ),
  rule(
    'jsonl/blank-line',
    'dataset',
    'warning',
    'A blank line inside a JSONL file (a record is expected on every line).',
  ),
  rule(
    'encoding/bom',
    'dataset',
    'warning',
    'The file starts with a UTF-8 byte order mark, which many loaders reject.',
  ),
  rule('encoding/invalid-utf8', 'dataset', 'error', 'Bytes that are not valid UTF-8.'),
  rule('encoding/mixed-eol', 'dataset', 'warning', 'The file mixes CRLF, LF or CR line endings.'),
  rule(
    'format/unknown',
    'dataset',
    'error',
    'A record matches no known format (alpaca, sharegpt, messages, text, preference, kto, prompt_completion).',
  ),
  rule('format/mixed', 'dataset', 'error', "A record's format differs from the file's (or the Datanet's) format."),
  rule('schema/missing-field', 'dataset', 'error', 'A required field of the record format is missing.'),
  rule('schema/wrong-type', 'dataset', 'error', 'A field has the wrong JSON type.'),
  rule(
    'schema/unknown-field',
    'dataset',
    'warning',
    "A field the record format does not read that looks like content: another format's field, or a misspelt one.",
  ),
  rule(
    'schema/extra-field',
    'dataset',
    'hint',
    'A top-level field no record format reads (metadata such as source or category): training ignores it.',
  ),
  rule(
    'messages/unknown-role',
    'dataset',
    'error',
    'A message role or ShareGPT speaker the record contract does not know.',
  ),
  rule('messages/no-assistant', 'dataset', 'error', 'A conversation with no assistant turn: nothing to learn from.'),
  rule('messages/empty-content', 'dataset', 'error', 'A message whose content is empty.'),
  rule(
    'messages/tool-call',
    'dataset',
    'error',
    'A tool call the trainer cannot render: no function name, arguments that are not a JSON object, a call outside an assistant turn.',
  ),
  rule(
    'messages/reasoning',
    'dataset',
    'error',
    "Reasoning (reasoning_content, thinking or reasoning) the trainer cannot use: on a turn other than an assistant's, or two different texts on one turn.",
  ),
  rule(
    'preference/identical',
    'dataset',
    'error',
    'A preference pair whose two answers are the same: nothing to prefer.',
  ),
  rule(
    'media/placeholder-count',
    'dataset',
    'error',
    'The number of <image>, <video> or <audio> placeholders differs from the number of files the record lists.',
  ),
  rule(
    'media/missing-file',
    'dataset',
    'error',
    "A file in a record's images, videos or audios that does not exist or is not a regular file (relative to the dataset's folder; http(s) URLs are accepted unchecked).",
  ),
  rule(
    'messages/role-order',
    'dataset',
    'warning',
    'Turns out of order: system first, then user and assistant alternating.',
  ),
  rule('content/empty', 'dataset', 'error', 'An empty output, response, completion or text.'),
  rule(
    'content/placeholder',
    'dataset',
    'warning',
    'A template placeholder left unfilled in the text ({{name}}, [INSERT NAME], <NAME>, {user_name}).',
  ),
  rule('dedup/exact', 'dataset', 'warning', 'A record identical to an earlier one.'),
  rule('dedup/near', 'dataset', 'warning', 'A record nearly identical to an earlier one (MinHash Jaccard estimate).'),
  rule(
    'dataset/hard-record',
    'dataset',
    'information',
    "One of the hardest 1% of records after the workspace's latest run (record-loss.jsonl): the model did not learn its answer; read it first.",
  ),
  rule('pii/email', 'dataset', 'warning', 'An email address.'),
  rule('pii/phone', 'dataset', 'warning', 'A phone number.'),
  rule('secret/api-key', 'dataset', 'error', 'An API key or access token (cloud providers, AI providers, code hosts).'),
  rule('secret/private-key', 'dataset', 'error', 'A PEM private key block.'),
  rule(
    'length/too-long',
    'dataset',
    'warning',
    'A record longer than the token limit: it would be truncated in training.',
  ),
  rule('length/too-short', 'dataset', 'warning', 'A record shorter than the minimum length.'),
  rule(
    'format/chat-template',
    'dataset',
    'error',
    "The model's chat template fails on a record (its own raise_exception, such as roles that must alternate): the trainer could not render it.",
  ),
  rule('datanet/manifest', 'datanet', 'error', 'A Datanet manifest that breaks its schema.'),
  rule(
    'evals/schema',
    'config',
    'error',
    'A golden-prompts file (*.evals.yaml) that breaks its schema, names a missing config or repeats a prompt name.',
  ),
  rule('datanet/file-too-large', 'datanet', 'error', "A contribution file larger than the Datanet's max_file_mb."),
  rule('datanet/file-type', 'datanet', 'error', 'A governed file of a type the Datanet does not accept.'),
  rule('datanet/daily-cap', 'datanet', 'warning', "Today's contributions exceed the Datanet's daily_mb."),
  rule('datanet/daily-files', 'datanet', 'warning', "Today's contributions exceed the Datanet's daily_files."),
  rule(
    'datanet/tokenizer-not-found',
    'datanet',
    'warning',
    "The Datanet's tokenizer is not on disk (model folder, tokenizer.json or local Hugging Face cache): token counts are estimates.",
  ),
  rule('config/schema', 'config', 'error', 'A value that breaks the fine-tune config schema.'),
  rule('config/unknown-key', 'config', 'error', 'A key the fine-tune config does not define.'),
  rule('config/missing-key', 'config', 'error', 'A required key is missing.'),
  rule('config/model-unknown', 'config', 'warning', 'A base model that is neither in the catalog nor found on disk.'),
  rule(
    'config/target-module',
    'config',
    'error',
    "A LoRA target module that does not exist in the model's architecture.",
  ),
  rule('config/qlora-requires-quantization', 'config', 'error', 'method: qlora without a 4-bit quantization block.'),
  rule('config/lora-with-quantization', 'config', 'error', 'method: lora with a quantization block (that is QLoRA).'),
  rule('config/context-length', 'config', 'warning', "max_seq_length beyond the model's context window."),
  rule('config/lr-range', 'config', 'warning', 'A learning rate far outside what works for LoRA.'),
  rule(
    'config/beta-range',
    'config',
    'warning',
    'training.beta of a preference objective far outside 0.01-1, or set for objective sft, which ignores it.',
  ),
  rule(
    'config/objective-lora-head',
    'config',
    'error',
    'A LoRA adapter on the output head (lm_head) with objective dpo, orpo or kto, which TRL refuses.',
  ),
  rule(
    'config/dataset-missing',
    'config',
    'error',
    "The dataset file, Datanet manifest or dataset registry does not exist, or the registry's entry cannot be read.",
  ),
  rule(
    'config/dataset-format-mismatch',
    'config',
    'error',
    "The dataset's detected format contradicts dataset.format.",
  ),
  rule(
    'config/dataset-hub',
    'config',
    'information',
    'A Hub dataset (dataset.hub): its records are checked on the trainer at pre-flight, not in the editor.',
  ),
  rule('config/memory', 'config', 'warning', 'The estimated GPU memory exceeds the configured GPU memory.'),
  rule(
    'config/tokenizer-not-found',
    'config',
    'information',
    "The base model's tokenizer is not on disk yet: its dataset's token counts are estimates.",
  ),
  rule(
    'config/chat-template',
    'config',
    'error',
    'chat_template names neither a built-in template nor a readable .jinja file, or the template does not parse.',
  ),
  rule(
    'config/remote-code',
    'config',
    'warning',
    'The model needs remote code (trust_remote_code): an explicit opt-in.',
  ),
  rule('registry/invalid-json', 'registry', 'error', 'A dataset_info.json that is not a JSON object of named entries.'),
  rule(
    'registry/unknown-key',
    'registry',
    'warning',
    'A key LLaMA-Factory does not read in an entry, its columns or its tags (or a column its formatting does not read).',
  ),
  rule('registry/no-file', 'registry', 'error', 'An entry with neither a file_name nor a hub or script url.'),
  rule(
    'registry/hub-entry',
    'registry',
    'information',
    'An entry read from a dataset hub or a script: this trainer reads local files only.',
  ),
  rule(
    'registry/file-missing',
    'registry',
    'error',
    "An entry's file_name that does not exist, is a folder, or lies outside the registry's folder.",
  ),
  rule('registry/formatting', 'registry', 'error', 'A formatting other than alpaca or sharegpt.'),
  rule(
    'registry/column-absent',
    'registry',
    'warning',
    "A column the entry names that none of its file's first records has.",
  ),
];

export const RULES_BY_ID: ReadonlyMap<string, RuleInfo> = new Map(RULES.map((r) => [r.id, r]));

/**
 * Per-rule severity overrides, most specific last: settings, then a Datanet manifest, then inline
 * directives. A rule id or a category prefix (`pii/*`, `secret/*`) may be given.
 */
export type RuleOverrides = Readonly<Record<string, SeveritySetting>>;

/** The effective severity of `ruleId`, or undefined when it is turned off. */
export function effectiveSeverity(ruleId: string, ...layers: (RuleOverrides | undefined)[]): Severity | undefined {
  let result: SeveritySetting = RULES_BY_ID.get(ruleId)?.defaultSeverity ?? 'warning';
  const prefix = ruleId.slice(0, ruleId.indexOf('/') + 1) + '*';
  for (const layer of layers) {
    if (!layer) continue;
    const byPrefix = layer[prefix];
    if (byPrefix !== undefined) result = byPrefix;
    const exact = layer[ruleId];
    if (exact !== undefined) result = exact;
  }
  return result === 'off' ? undefined : result;
}
