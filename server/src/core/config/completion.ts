// Completions in a fine-tune config: keys the schema allows and the file lacks, enum values,
// base_model ids from the catalog, and target_modules from the chosen model. Where the cursor is
// comes from the generic schema assist (the document is often not valid YAML mid-edit).
import type { CompletionItem, Position } from '../types';
import { completionSite, enumCompletions, keyCompletions, replacingTyped } from '../yaml/schemaAssist';
import { MODEL_CATALOG } from './catalog';
import { resolveModel } from './modelInfo';
import type { ParsedYaml } from '../yaml/parse';
import { FINETUNE_SCHEMA, viewConfig } from './schema';
import type { ConfigContext } from './validate';

export async function configCompletions(
  parsed: ParsedYaml,
  position: Position,
  ctx: ConfigContext,
): Promise<CompletionItem[]> {
  const site = completionSite(parsed.lines, position);
  if (!site) return [];
  if (site.kind === 'key')
    return replacingTyped(keyCompletions(FINETUNE_SCHEMA, site.parent, parsed.data), position, site.typed);
  const items = await valueCompletions(site.path, parsed.data, ctx, site.kind);
  return replacingTyped(
    items.filter((item) => !site.exclude.includes(item.label)),
    position,
    site.typed,
  );
}

/** Model ids of the catalog, for `base_model` and a Datanet's `tokenizer`. */
export function modelIdCompletions(): CompletionItem[] {
  return MODEL_CATALOG.map((spec) => ({
    label: spec.id,
    kind: 'model' as const,
    detail: `${spec.family} · ${(spec.parameters / 1e9).toFixed(spec.parameters < 1e9 ? 2 : 1)}B · ${spec.contextLength} ctx${spec.remoteCode ? ' · remote code' : ''}`,
  }));
}

async function valueCompletions(
  path: string[],
  data: unknown,
  ctx: ConfigContext,
  position: 'value' | 'item',
): Promise<CompletionItem[]> {
  const joined = path.join('.');
  if (joined === 'base_model' && position === 'value') return modelIdCompletions();
  if (joined === 'lora.target_modules') {
    const items: CompletionItem[] = [];
    if (position === 'value') items.push({ label: 'all-linear', kind: 'value', detail: 'Every linear layer' });
    const view = viewConfig(data);
    if (view.baseModel) {
      const model = await resolveModel(view.baseModel, ctx.configDir, ctx.env);
      const present = new Set(Array.isArray(view.targetModules) ? view.targetModules : []);
      const source =
        model.disk && model.disk.linearModules.length > 0 ? 'from the weights on disk' : 'from the catalog';
      for (const name of model.facts?.moduleNames ?? []) {
        if (position === 'item' && present.has(name)) continue;
        const isDefault = model.facts?.defaultTargets.includes(name) ?? false;
        items.push({ label: name, kind: 'module', detail: `${isDefault ? 'default target, ' : ''}${source}` });
      }
    }
    return items;
  }
  return enumCompletions(FINETUNE_SCHEMA, path);
}
