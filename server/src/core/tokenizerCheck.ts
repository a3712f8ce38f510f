// Diagnostics on the files that name a tokenizer or a chat template: a Datanet's `tokenizer:` and a
// fine-tune config's `base_model` that no tokenizer.json on disk answers (token counts are then
// estimates; the message says where it looked), and a config's `chat_template:` that is neither a
// built-in template nor a readable .jinja file, or that does not parse.
import { ChatTemplate, configTemplate } from './chatTemplate';
import { dirName, isAbsolutePath, joinPath } from './hfCache';
import type { Environment } from './io';
import { tokenizerFile, tokenizerSearchPlaces } from './tokenizer';
import type { Finding, Severity } from './types';
import { rangeOfPath, type ParsedYaml } from './yaml';

type SeverityOf = (rule: string) => Severity | undefined;

function str(data: unknown, key: string): string | undefined {
  const value = data && typeof data === 'object' ? (data as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** datanet/tokenizer-not-found on a manifest whose `tokenizer` names nothing on disk. */
export async function manifestTokenizerFindings(
  parsed: ParsedYaml,
  manifestPath: string,
  env: Environment,
  severityOf: SeverityOf,
): Promise<Finding[]> {
  const rule = 'datanet/tokenizer-not-found';
  const severity = severityOf(rule);
  const tokenizer = str(parsed.data, 'tokenizer');
  if (!severity || !tokenizer) return [];
  const dir = dirName(manifestPath);
  if (await tokenizerFile(tokenizer, dir, env)) return [];
  return [
    {
      rule,
      severity,
      range: rangeOfPath(parsed.doc, parsed.lines, ['tokenizer'], 'value'),
      message: `No tokenizer.json found for '${tokenizer}' (looked for ${tokenizerSearchPlaces(tokenizer, dir, env).join(' and ')}): token counts of the files this Datanet governs are estimates. Point tokenizer at a model folder or a tokenizer.json, or put the model in the Hugging Face cache.`,
    },
  ];
}

/**
 * config/tokenizer-not-found on a `base_model` with no tokenizer.json on disk (the trainer may still
 * download it; the dataset's counts are estimates until then), and config/chat-template on a
 * `chat_template` that cannot be used.
 */
export async function configTokenizerFindings(
  parsed: ParsedYaml,
  configDir: string,
  env: Environment,
  severityOf: SeverityOf,
): Promise<Finding[]> {
  const out: Finding[] = [];
  const model = str(parsed.data, 'base_model');
  const missing = severityOf('config/tokenizer-not-found');
  // Said where it matters: the config trains on a dataset file that is there to be counted.
  const datasetPath = str((parsed.data as Record<string, unknown> | undefined)?.['dataset'], 'path');
  const dataset = datasetPath
    ? isAbsolutePath(datasetPath)
      ? datasetPath
      : joinPath(configDir, datasetPath)
    : undefined;
  const counted = dataset !== undefined && (await env.fs.stat(dataset))?.isFile === true;
  if (missing && counted && model && !model.startsWith('builtin:') && !(await tokenizerFile(model, configDir, env))) {
    out.push({
      rule: 'config/tokenizer-not-found',
      severity: missing,
      range: rangeOfPath(parsed.doc, parsed.lines, ['base_model'], 'value'),
      message: `No tokenizer.json for '${model}' on disk (looked for ${tokenizerSearchPlaces(model, configDir, env).join(' and ')}): the dataset's token counts are estimates, not the model's own. The trainer downloads the model when it trains; download it first for exact counts.`,
    });
  }
  const choice = str(parsed.data, 'chat_template');
  const bad = severityOf('config/chat-template');
  if (bad && choice) {
    const found = await configTemplate(choice, configDir, env);
    const problem =
      'problem' in found
        ? found.problem
        : (() => {
            const compiled = ChatTemplate.compile(found.text, found.origin);
            return compiled instanceof Error
              ? `The chat template ${found.origin} does not parse: ${compiled.message}`
              : undefined;
          })();
    if (problem) {
      out.push({
        rule: 'config/chat-template',
        severity: bad,
        range: rangeOfPath(parsed.doc, parsed.lines, ['chat_template'], 'value'),
        message: problem,
      });
    }
  }
  return out;
}
