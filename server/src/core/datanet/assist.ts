// Editing help in a Datanet manifest: key documentation on hover, and completion of keys, enum
// values, rule ids under `rules.severity`, and model ids for `tokenizer`.
import datanetSchema from '../../../../schemas/datanet.schema.json';
import { modelIdCompletions } from '../config/completion';
import { RULES } from '../rules';
import type { CompletionItem, Hover, Position } from '../types';
import type { ParsedYaml } from '../yaml';
import {
  completionSite,
  enumCompletions,
  keyCompletions,
  replacingTyped,
  schemaKeyHover,
  type SchemaNode,
} from '../yaml/schemaAssist';

const DATANET_SCHEMA = datanetSchema as SchemaNode;

export function manifestHover(parsed: ParsedYaml, position: Position): Hover | undefined {
  return schemaKeyHover(parsed, position, DATANET_SCHEMA);
}

export function manifestCompletions(parsed: ParsedYaml, position: Position): CompletionItem[] {
  const site = completionSite(parsed.lines, position);
  if (!site) return [];
  let items: CompletionItem[];
  if (site.kind === 'key') {
    items =
      site.parent.join('.') === 'rules.severity'
        ? RULES.filter((r) => r.category !== 'config').map((r) => ({
            label: r.id,
            kind: 'property' as const,
            insertText: `"${r.id}": `,
            detail: `${r.defaultSeverity} by default`,
            documentation: r.description,
          }))
        : keyCompletions(DATANET_SCHEMA, site.parent, parsed.data);
  } else if (site.path.join('.') === 'tokenizer' && site.kind === 'value') {
    items = modelIdCompletions();
  } else {
    items = enumCompletions(DATANET_SCHEMA, site.path).filter((item) => !site.exclude.includes(item.label));
  }
  return replacingTyped(items, position, site.typed);
}
