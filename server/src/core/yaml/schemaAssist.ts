// Schema-driven editing help for any YAML document with a JSON Schema: the sub-schema at a path,
// hover text for a key, and completion of keys and enum values worked out from the line being
// typed and the indentation above it (mid-edit the document is often not valid YAML).
import type { CompletionItem, Hover, Position } from '../types';
import type { LineIndex } from './lineIndex';
import type { ParsedYaml } from './parse';
import { pathAtOffset } from './paths';
import type { YamlPath } from './paths';

export interface SchemaNode {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode | boolean;
  required?: string[];
  oneOf?: SchemaNode[];
  items?: SchemaNode;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  pattern?: string;
  $ref?: string;
  definitions?: Record<string, SchemaNode>;
}

/** Follows a local `#/definitions/name` reference, keeping the referring node's own description. */
function deref(node: SchemaNode | undefined, root: SchemaNode): SchemaNode | undefined {
  if (!node?.$ref?.startsWith('#/definitions/')) return node;
  const target = root.definitions?.[node.$ref.slice('#/definitions/'.length)];
  return target ? { ...target, ...(node.description ? { description: node.description } : {}) } : node;
}

/** The sub-schema describing the value at `path` (array indices step into `items`). */
export function schemaAt(root: SchemaNode, path: YamlPath): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const segment of path) {
    if (!node) return undefined;
    if (typeof segment === 'number') node = node.items ?? node.oneOf?.find((alt) => alt.items)?.items;
    else {
      const additional: SchemaNode | undefined =
        typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined;
      node = node.properties?.[segment] ?? additional;
    }
    node = deref(node, root);
  }
  return node;
}

export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|&~#]/g, (c) => '\\' + c);
}

/** Markdown for a key: its description, allowed values, bounds and default. */
export function describeSchema(key: string, schema: SchemaNode): string {
  const lines = [`**${escapeMarkdown(key)}**`];
  if (schema.description) lines.push(schema.description);
  const allowed = schema.enum ?? (schema.const !== undefined ? [schema.const] : undefined);
  if (allowed) lines.push(`Allowed: ${allowed.map((v) => '`' + JSON.stringify(v) + '`').join(', ')}`);
  const bounds = [
    schema.minimum !== undefined ? `>= ${schema.minimum}` : '',
    schema.exclusiveMinimum !== undefined ? `> ${schema.exclusiveMinimum}` : '',
    schema.maximum !== undefined ? `<= ${schema.maximum}` : '',
    schema.exclusiveMaximum !== undefined ? `< ${schema.exclusiveMaximum}` : '',
  ].filter((b) => b !== '');
  if (bounds.length > 0) lines.push(`Range: ${bounds.join(', ')}`);
  if (schema.default !== undefined) lines.push(`Default: \`${JSON.stringify(schema.default)}\``);
  return lines.join('\n\n');
}

/** Hover on a key of a schema-described document: the key's documentation. */
export function schemaKeyHover(parsed: ParsedYaml, position: Position, root: SchemaNode): Hover | undefined {
  const location = pathAtOffset(parsed.doc, parsed.lines.offsetAt(position));
  if (!location || location.on !== 'key' || location.path.length === 0) return undefined;
  const schema = schemaAt(root, location.path);
  return schema ? { contents: describeSchema(String(location.path[location.path.length - 1]), schema) } : undefined;
}

/**
 * Where the cursor is, in terms completion cares about: typing a key under `parent`, a value of the
 * key at `path`, or an item of the list at `path`; `typed` is the part of the word already typed.
 * `exclude` lists flow-list items already present on the line.
 */
export type CompletionSite =
  | { kind: 'key'; parent: string[]; typed: string }
  | { kind: 'value' | 'item'; path: string[]; typed: string; exclude: string[] };

const KEY_ONLY_LINE = /^\s*(?:-\s+)?([^\s:#'"[{][^:#]*?)\s*:\s*(?:#.*)?$/;

export function completionSite(lines: LineIndex, position: Position): CompletionSite | undefined {
  if (position.line >= lines.lineCount) return undefined;
  const before = lines.lineText(position.line).slice(0, position.character);
  const listItem = /^(\s*)-\s*([\w.-]*)$/.exec(before);
  if (listItem) {
    const path = listOwnerPath(lines, position.line, listItem[1]!.length);
    return path ? { kind: 'item', path, typed: listItem[2]!, exclude: [] } : undefined;
  }
  const flowList = /^(\s*)([\w-]+):\s*\[([^\]]*)$/.exec(before);
  if (flowList) {
    const parent = parentPath(lines, position.line, flowList[1]!.length);
    // Mid-edit the list is unterminated YAML: the items already typed are read from the line.
    const typedItems = flowList[3]!.split(',').map((item) => item.trim().replace(/^["']|["']$/g, ''));
    const typed = /[\w.-]*$/.exec(flowList[3]!)![0];
    return parent
      ? { kind: 'item', path: [...parent, flowList[2]!], typed, exclude: typedItems.slice(0, -1) }
      : undefined;
  }
  const keyValue = /^(\s*)([\w-]+):\s*([^\s#]*)$/.exec(before);
  if (keyValue) {
    const parent = parentPath(lines, position.line, keyValue[1]!.length);
    return parent ? { kind: 'value', path: [...parent, keyValue[2]!], typed: keyValue[3]!, exclude: [] } : undefined;
  }
  const key = /^(\s*)([\w-]*)$/.exec(before);
  if (key) {
    const parent = parentPath(lines, position.line, key[1]!.length);
    return parent ? { kind: 'key', parent, typed: key[2]! } : undefined;
  }
  return undefined;
}

/** Each item replaces what is typed of its word (ids contain '/', '.' and '-', which an editor's word range would split on). */
export function replacingTyped(items: CompletionItem[], position: Position, typed: string): CompletionItem[] {
  const range = { start: { line: position.line, character: position.character - typed.length }, end: position };
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

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function firstSentence(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const end = text.search(/\.(\s|$)/);
  return end < 0 ? text : text.slice(0, end + 1);
}

/** Keys the schema allows under `parent` that the document does not have yet. */
export function keyCompletions(root: SchemaNode, parent: string[], data: unknown): CompletionItem[] {
  const schema = schemaAt(root, parent);
  if (!schema?.properties) return [];
  let present: unknown = data;
  for (const segment of parent) present = asRecord(present)?.[segment];
  const existing = asRecord(present) ?? {};
  return Object.entries(schema.properties)
    .filter(([key]) => !(key in existing))
    .map(([key, raw]) => {
      const sub = deref(raw, root) ?? raw;
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

/** Enum, const and boolean values the schema allows at `path`. */
export function enumCompletions(root: SchemaNode, path: string[]): CompletionItem[] {
  const schema = schemaAt(root, path);
  if (!schema) return [];
  const values =
    schema.enum ?? (schema.const !== undefined ? [schema.const] : schema.type === 'boolean' ? [true, false] : []);
  return values.map((value) => {
    const item: CompletionItem = { label: String(value), kind: 'enum' };
    if (value === schema.default) item.detail = 'default';
    return item;
  });
}
