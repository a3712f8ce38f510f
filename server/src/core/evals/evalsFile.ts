// Golden-prompt files (`*.evals.yaml`, schemas/evals.schema.json; run by the trainer's `golden` command and
// the Testing view): the schema's errors at exact ranges with did-you-mean, the config it names (it must
// exist beside the file), prompt names unique; key hover and key/enum completion from the same schema.
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import evalsSchema from '../../../../schemas/evals.schema.json';
import { dirName, isAbsolutePath, joinPath } from '../hfCache';
import type { Environment } from '../io';
import type { CompletionItem, Finding, Hover, Position, Severity } from '../types';
import { filterSuppressed, rangeOfPath, syntaxFindings, validateYaml } from '../yaml';
import type { ParsedYaml } from '../yaml';
import {
  completionSite,
  enumCompletions,
  keyCompletions,
  replacingTyped,
  schemaAt,
  schemaKeyHover,
  type SchemaNode,
} from '../yaml/schemaAssist';

export const EVALS_RULE = 'evals/schema';
const EVALS_SCHEMA = evalsSchema as SchemaNode;
let compiled: ValidateFunction | undefined;

function evalsValidator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: false }).compile(evalsSchema);
  return compiled;
}

export async function validateEvals(
  parsed: ParsedYaml,
  path: string,
  env: Environment,
  severityOf: (rule: string) => Severity | undefined,
): Promise<Finding[]> {
  const severity = severityOf(EVALS_RULE);
  if (!severity) return [];
  const findings = syntaxFindings(parsed, EVALS_RULE, severity);
  findings.push(...validateYaml(parsed, evalsValidator(), { ruleFor: () => EVALS_RULE, severityOf }));
  if (findings.length > 0) return filterSuppressed(findings, parsed.lines);
  const data = parsed.data as { config: string; prompts: { name: string }[] };
  const configPath = isAbsolutePath(data.config) ? data.config : joinPath(dirName(path), data.config);
  const stat = await env.fs.stat(configPath);
  if (!stat?.isFile) {
    findings.push({
      rule: EVALS_RULE,
      severity,
      range: rangeOfPath(parsed.doc, parsed.lines, ['config'], 'value'),
      message: `The config ${data.config} does not exist (looked for ${configPath}); the prompts need its base model and chat template.`,
    });
  } else if (!/\.finetune\.ya?ml$|(^|\/)modelfactory\.ya?ml$/.test(configPath)) {
    findings.push({
      rule: EVALS_RULE,
      severity,
      range: rangeOfPath(parsed.doc, parsed.lines, ['config'], 'value'),
      message: `${data.config} is not a fine-tune config (*.finetune.yaml or modelfactory.yaml).`,
    });
  }
  const seen = new Set<string>();
  data.prompts.forEach((prompt, index) => {
    if (seen.has(prompt.name)) {
      findings.push({
        rule: EVALS_RULE,
        severity,
        range: rangeOfPath(parsed.doc, parsed.lines, ['prompts', index, 'name'], 'value'),
        message: `Another prompt is named ${JSON.stringify(prompt.name)}: names must be unique (each is a test).`,
      });
    }
    seen.add(prompt.name);
  });
  return filterSuppressed(findings, parsed.lines);
}

export function evalsHover(parsed: ParsedYaml, position: Position): Hover | undefined {
  return schemaKeyHover(parsed, position, EVALS_SCHEMA);
}

/**
 * A key typed inside a `prompts` item (`  - name: …` then `    expect:` …): the shared helper reads parents
 * from key-only lines, which a list item's first line is not; here the item is found, and its schema used.
 */
function promptKeyCompletions(parsed: ParsedYaml, position: Position): CompletionItem[] | undefined {
  const { lines } = parsed;
  if (position.line >= lines.lineCount) return undefined;
  const before = lines.lineText(position.line).slice(0, position.character);
  const key = /^(\s*)(?:-\s+)?([\w-]*)$/.exec(before);
  if (!key) return undefined;
  let threshold = key[1]!.length + (before.trimStart().startsWith('-') ? 2 : 0);
  const inner: string[] = [];
  for (let l = position.line - (before.trimStart().startsWith('-') ? 0 : 1); l >= 0; l--) {
    const text = l === position.line ? before : lines.lineText(l);
    const trimmed = text.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const indent = text.length - trimmed.length;
    if (trimmed.startsWith('- ') || trimmed === '-' || (l === position.line && trimmed.startsWith('-'))) {
      if (indent >= threshold) continue;
      // The list item: its owner must be the top-level `prompts:`; count the items above to index the data.
      let index = 0;
      for (let o = l - 1; o >= 0; o--) {
        const owner = lines.lineText(o);
        const ownerTrimmed = owner.trimStart();
        const ownerIndent = owner.length - ownerTrimmed.length;
        if (ownerIndent === indent && ownerTrimmed.startsWith('-')) index++;
        if (ownerIndent < indent && ownerTrimmed !== '' && !ownerTrimmed.startsWith('#')) {
          if (ownerIndent !== 0 || !/^prompts\s*:\s*(#.*)?$/.test(ownerTrimmed)) return undefined;
          const item = (parsed.data as { prompts?: unknown[] } | undefined)?.prompts?.[index];
          const schema = schemaAt(EVALS_SCHEMA, ['prompts', 0]);
          if (!schema) return undefined;
          return replacingTyped(keyCompletions(schema, inner, item), position, key[2]!);
        }
      }
      return undefined;
    }
    if (indent >= threshold) continue;
    const match = /^([\w-]+)\s*:\s*(#.*)?$/.exec(trimmed);
    if (!match) return undefined;
    inner.unshift(match[1]!);
    threshold = indent;
  }
  return undefined;
}

export function evalsCompletions(parsed: ParsedYaml, position: Position): CompletionItem[] {
  const inPrompt = promptKeyCompletions(parsed, position);
  if (inPrompt) return inPrompt;
  const site = completionSite(parsed.lines, position);
  if (!site) return [];
  const items =
    site.kind === 'key'
      ? keyCompletions(EVALS_SCHEMA, site.parent, parsed.data)
      : enumCompletions(EVALS_SCHEMA, site.path).filter((item) => !site.exclude.includes(item.label));
  return replacingTyped(items, position, site.typed);
}
