// Completions in a fine-tune config, worked out from the line being typed and the indentation
// above it (the document is often not valid YAML mid-edit): keys the schema allows and the file
// lacks, enum values, base_model ids from the catalog, and target_modules from the chosen model.
import type { CompletionItem, Position } from '../types';
import type { LineIndex } from '../yaml/lineIndex';
import { MODEL_CATALOG } from './catalog';
import { resolveModel } from './modelInfo';
import { asRecord, parseConfig, schemaAt, viewConfig } from './schema';
import type { ConfigContext } from './validate';

const KEY_ONLY_LINE = /^\s*(?:-\s+)?([^\s:#'"[{][^:#]*?)\s*:\s*(?:#.*)?$/;

export async function configCompletions(
  text: string,
  uri: string,
  version: number,
  position: Position,
  ctx: ConfigContext,
): Promise<CompletionItem[]> {
  const parsed = parseConfig(text, uri, version);
  const { lines } = parsed;
  if (position.line >= lines.lineCount) return [];
  const before = lines.lineText(position.line).slice(0, position.character);

  // Each item replaces what is typed so far of its word (ids contain '/', '.' and '-', which an
  // editor's default word range would split on).
  const replacing = (typed: string) => (items: CompletionItem[]) => withRange(items, position, typed.length);

  const listItem = /^(\s*)-\s*([\w.-]*)$/.exec(before);
  if (listItem) {
    const keyPath = listOwnerPath(lines, position.line, listItem[1]!.length);
    return keyPath ? valueCompletions(keyPath, parsed.data, ctx, 'item').then(replacing(listItem[2]!)) : [];
  }
  const flowList = /^(\s*)([\w-]+):\s*\[([^\]]*)$/.exec(before);
  if (flowList) {
    const parent = parentPath(lines, position.line, flowList[1]!.length);
    // Mid-edit the list is unterminated YAML: the items already typed are read from the line.
    const typed = flowList[3]!.split(',').map((item) => item.trim().replace(/^["']|["']$/g, ''));
    const current = /[\w.-]*$/.exec(flowList[3]!)![0];
    const items = parent ? await valueCompletions([...parent, flowList[2]!], parsed.data, ctx, 'item') : [];
    return replacing(current)(items.filter((item) => !typed.slice(0, -1).includes(item.label)));
  }
  const keyValue = /^(\s*)([\w-]+):\s*([^\s#]*)$/.exec(before);
  if (keyValue) {
    const parent = parentPath(lines, position.line, keyValue[1]!.length);
    return parent
      ? valueCompletions([...parent, keyValue[2]!], parsed.data, ctx, 'value').then(replacing(keyValue[3]!))
      : [];
  }
  const key = /^(\s*)([\w-]*)$/.exec(before);
  if (key) {
    const parent = parentPath(lines, position.line, key[1]!.length);
    return parent ? replacing(key[2]!)(keyCompletions(parent, parsed.data)) : [];
  }
  return [];
}

function withRange(items: CompletionItem[], position: Position, typedLength: number): CompletionItem[] {
  const range = { start: { line: position.line, character: position.character - typedLength }, end: position };
  return items.map((item) => ({ ...item, range }));
}

/** The keys of the maps that enclose a line indented by `indent`, read from the lines above. */
function parentPath(lines: LineIndex, line: number, indent: number): string[] | undefined {
  const path: string[] = [];
  let threshold = indent;
  for (let l = line - 1; l >= 0 && threshold > 0; l--) {
    const text = lines.lineText(l);
    const trimmed = text.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const lineIndent = text.length - trimmed.length;
    if (lineIndent >= threshold) continue;
    const match = KEY_ONLY_LINE.exec(text);
    if (!match) return undefined;
    path.unshift(match[1]!);
    threshold = lineIndent;
  }
  return path;
}

/** The path of the key a block-sequence item at `indent` belongs to. */
function listOwnerPath(lines: LineIndex, line: number, indent: number): string[] | undefined {
  for (let l = line - 1; l >= 0; l--) {
    const text = lines.lineText(l);
    const trimmed = text.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const lineIndent = text.length - trimmed.length;
    if (lineIndent === indent && trimmed.startsWith('-')) continue;
    if (lineIndent > indent) continue;
    const match = KEY_ONLY_LINE.exec(text);
    if (!match || trimmed.startsWith('-')) return undefined;
    const parent = parentPath(lines, l, lineIndent);
    return parent ? [...parent, match[1]!] : undefined;
  }
  return undefined;
}

function dataAt(data: unknown, path: string[]): unknown {
  let current = data;
  for (const segment of path) current = asRecord(current)?.[segment];
  return current;
}

function firstSentence(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const end = text.search(/\.(\s|$)/);
  return end < 0 ? text : text.slice(0, end + 1);
}

function keyCompletions(parent: string[], data: unknown): CompletionItem[] {
  const schema = schemaAt(parent);
  if (!schema?.properties) return [];
  const present = asRecord(dataAt(data, parent)) ?? {};
  return Object.entries(schema.properties)
    .filter(([key]) => !(key in present))
    .map(([key, sub]) => {
      const item: CompletionItem = {
        label: key,
        kind: 'property',
        insertText: sub.properties ? `${key}:\n` : `${key}: `,
      };
      const detail = firstSentence(sub.description);
      if (detail) item.detail = detail;
      if (sub.description) item.documentation = sub.description;
      return item;
    });
}

async function valueCompletions(
  path: string[],
  data: unknown,
  ctx: ConfigContext,
  position: 'value' | 'item',
): Promise<CompletionItem[]> {
  const joined = path.join('.');
  if (joined === 'base_model' && position === 'value') {
    return MODEL_CATALOG.map((spec) => ({
      label: spec.id,
      kind: 'model' as const,
      detail: `${spec.family} · ${(spec.parameters / 1e9).toFixed(spec.parameters < 1e9 ? 2 : 1)}B · ${spec.contextLength} ctx${spec.remoteCode ? ' · remote code' : ''}`,
    }));
  }
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
  const schema = schemaAt(path);
  if (!schema) return [];
  const values =
    schema.enum ?? (schema.const !== undefined ? [schema.const] : schema.type === 'boolean' ? [true, false] : []);
  return values.map((value) => {
    const item: CompletionItem = { label: String(value), kind: 'enum' };
    if (value === schema.default) item.detail = 'default';
    return item;
  });
}
