// Hovers on a fine-tune config: schema documentation on keys, catalog and disk facts on
// base_model, and the memory estimate on the blocks that drive it.
import type { Hover, Position } from '../types';
import { nodeSpan, pathAtOffset } from '../yaml/paths';
import { canEstimate, estimateMemory, memoryConfigOf, memoryTable } from './memory';
import { resolveModel } from './modelInfo';
import type { ResolvedModel } from './modelInfo';
import { describeSchema, escapeMarkdown } from '../yaml/schemaAssist';
import type { ParsedYaml } from '../yaml/parse';
import { schemaAt, viewConfig } from './schema';

export { escapeMarkdown };
import type { ConfigContext } from './validate';

const MEMORY_KEYS = new Set(['lora', 'training', 'quantization', 'method', 'objective']);

/** Escapes text taken from the user's file so it renders literally in markdown. */
export async function configHover(
  parsed: ParsedYaml,
  position: Position,
  ctx: ConfigContext,
): Promise<Hover | undefined> {
  const location = pathAtOffset(parsed.doc, parsed.lines.offsetAt(position));
  if (!location || location.path.length === 0) return undefined;
  const top = String(location.path[0]);
  const sections: string[] = [];
  if (location.on === 'key') {
    const schema = schemaAt(location.path.filter((s): s is string => typeof s === 'string'));
    if (schema) sections.push(describeSchema(String(location.path[location.path.length - 1]), schema));
  }
  const view = viewConfig(parsed.data);
  const needsModel =
    top === 'base_model' || (location.on === 'key' && location.path.length === 1 && MEMORY_KEYS.has(top));
  if (needsModel && view.baseModel) {
    const model = await resolveModel(view.baseModel, ctx.configDir, ctx.env);
    if (top === 'base_model') sections.push(describeModel(model));
    else if (model.facts && canEstimate(model.facts)) {
      const estimate = estimateMemory(memoryConfigOf(view), model.facts);
      sections.push(
        `**Estimated GPU memory** for ${escapeMarkdown(view.baseModel)} (budget ${ctx.settings.gpuMemoryGb} GiB)\n\n` +
          memoryTable(estimate) +
          preferenceNote(estimate.assumptions),
      );
    }
  }
  if (sections.length === 0) return undefined;
  const span = location.node ? nodeSpan(location.node) : undefined;
  return {
    contents: sections.join('\n\n---\n\n'),
    ...(span ? { range: parsed.lines.rangeOf(span[0], span[1]) } : {}),
  };
}

/** For a preference objective, what its estimate assumes about the pairs and the reference model. */
function preferenceNote(assumptions: string[]): string {
  const notes = assumptions.filter((a) => /^(dpo|orpo|kto)\b/.test(a));
  return notes.length ? '\n\n' + notes.map((a) => `- ${a}`).join('\n') : '';
}

function describeModel(model: ResolvedModel): string {
  const facts = model.facts;
  const title = `**${escapeMarkdown(model.id)}**`;
  if (!facts) {
    return `${title}\n\nNot in the model catalog and not found on disk (a folder relative to this file, or the local Hugging Face cache).`;
  }
  const rows: [string, string][] = [];
  if (facts.family) rows.push(['Family', facts.family]);
  if (facts.architecture) rows.push(['Architecture', facts.architecture]);
  if (facts.parameters) rows.push(['Parameters', formatCount(facts.parameters)]);
  if (facts.contextLength) rows.push(['Context', `${facts.contextLength} tokens`]);
  if (facts.hiddenSize && facts.numLayers) {
    rows.push([
      'Shape',
      `${facts.numLayers} layers, hidden ${facts.hiddenSize}, ${facts.numHeads ?? '?'} heads (${facts.numKvHeads ?? '?'} KV)`,
    ]);
  }
  rows.push(['Linear modules', facts.moduleNames.join(', ')]);
  rows.push(['Default LoRA targets', facts.defaultTargets.join(', ')]);
  rows.push(['Remote code', facts.remoteCode ? 'needed (trust_remote_code: true)' : 'no']);
  if (facts.chatTemplate !== undefined) rows.push(['Chat template', facts.chatTemplate ? 'yes' : 'no']);
  if (facts.gated) rows.push(['Access', 'gated: accept the licence on the Hub first']);
  rows.push(['On disk', model.disk ? model.disk.dir : 'no (catalog facts only)']);
  if (model.disk?.dtype) rows.push(['Stored as', model.disk.dtype]);
  const table = ['| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${escapeMarkdown(v)} |`)].join('\n');
  const notes = [model.catalogNote, ...(model.disk?.problems ?? [])].filter((n): n is string => !!n);
  return [title, table, ...notes.map((n) => `_${escapeMarkdown(n)}_`)].join('\n\n');
}

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e11 ? 0 : 2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}
