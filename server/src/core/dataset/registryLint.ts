// The linter of LLaMA-Factory's dataset registry (a file named dataset_info.json): per entry, unknown keys
// (with did-you-mean), where its records come from (a local file_name inside the registry's folder, as the
// trainer resolves it; a hub entry is noted), its formatting, and the columns it names against the first
// records of its file (a bounded read through the injected Environment).
import { findNodeAtLocation, parseTree } from 'jsonc-parser';
import { tooDeepForTree } from './jsonArraySplit';
import type { Node } from 'jsonc-parser';
import type { Environment } from '../io';
import type { Finding, Range, Severity } from '../types';
import { closestMatch } from '../yaml/didYouMean';
import { sampleRecords } from '../config/validate';
import {
  ALL_REGISTRY_COLUMNS,
  REGISTRY_COLUMNS,
  REGISTRY_FORMATTINGS,
  REGISTRY_KEYS,
  REGISTRY_TAGS,
} from './registryEntry';
import { REGISTRY_SAMPLE_BYTES, resolveEntry } from './registryFile';

class Locator {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  position(offset: number): { line: number; character: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: offset - this.starts[lo]! };
  }
  range(node: Node | undefined): Range {
    if (!node) return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    return { start: this.position(node.offset), end: this.position(node.offset + node.length) };
  }
}

/** The key node of a property node's value (its parent's first child). */
function keyOf(value: Node | undefined): Node | undefined {
  return value?.parent?.type === 'property' ? value.parent.children?.[0] : value;
}

export async function validateRegistry(
  text: string,
  path: string,
  env: Environment,
  severityOf: (rule: string) => Severity | undefined,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const at = new Locator(text);
  const report = (rule: string, node: Node | undefined, message: string, data?: Record<string, unknown>) => {
    const severity = severityOf(rule);
    if (severity) findings.push({ rule, severity, range: at.range(node), message, ...(data ? { data } : {}) });
  };
  const errors: { offset: number; length: number }[] = [];
  // jsonc-parser recurses per level: a registry nested deeper than any real one is refused unparsed.
  const root = tooDeepForTree(text)
    ? undefined
    : parseTree(text.replace(/^\uFEFF/, ' '), errors as never, { allowTrailingComma: false });
  if (!root || root.type !== 'object' || errors.length > 0) {
    const first = errors[0];
    report(
      'registry/invalid-json',
      first ? ({ offset: first.offset, length: Math.max(1, first.length) } as Node) : root,
      errors.length > 0
        ? 'dataset_info.json is not valid JSON here.'
        : 'A dataset registry is a JSON object of named entries ({"name": {"file_name": ...}}).',
    );
    return findings;
  }
  for (const property of root.children ?? []) {
    const [nameNode, entryNode] = property.children ?? [];
    if (!nameNode || !entryNode) continue;
    const name = String(nameNode.value);
    if (entryNode.type !== 'object') {
      report('registry/invalid-json', entryNode, `Entry '${name}' must be an object ({"file_name": ...}).`);
      continue;
    }
    await lintEntry(name, nameNode, entryNode);
  }
  return findings;

  async function lintEntry(name: string, nameNode: Node, entryNode: Node): Promise<void> {
    const entry = JSON.parse(text.slice(entryNode.offset, entryNode.offset + entryNode.length)) as Record<
      string,
      unknown
    >;
    for (const keyNode of (entryNode.children ?? []).map((p) => p.children?.[0])) {
      const key = String(keyNode?.value);
      if (REGISTRY_KEYS.includes(key)) continue;
      const suggestion = closestMatch(key, REGISTRY_KEYS);
      report(
        'registry/unknown-key',
        keyNode,
        `LLaMA-Factory does not read "${key}" in an entry.${suggestion ? ` Did you mean "${suggestion}"?` : ''}`,
        suggestion ? { key, suggestion } : { key },
      );
    }
    const formatting = entry['formatting'];
    const formattingNode = findNodeAtLocation(entryNode, ['formatting']);
    if (formatting !== undefined && (typeof formatting !== 'string' || !REGISTRY_FORMATTINGS.includes(formatting))) {
      const suggestion = typeof formatting === 'string' ? closestMatch(formatting, REGISTRY_FORMATTINGS) : undefined;
      report(
        'registry/formatting',
        formattingNode,
        `formatting ${JSON.stringify(formatting)} is not read by this trainer: use ${REGISTRY_FORMATTINGS.join(' or ')}.${suggestion ? ` Did you mean "${suggestion}"?` : ''}`,
        suggestion ? { value: formatting, suggestion } : { value: formatting },
      );
    }
    const readAs = typeof formatting === 'string' && formatting === 'sharegpt' ? 'sharegpt' : 'alpaca';
    const columnsNode = findNodeAtLocation(entryNode, ['columns']);
    for (const property of columnsNode?.type === 'object' ? (columnsNode.children ?? []) : []) {
      const keyNode = property.children?.[0];
      const column = String(keyNode?.value);
      if (column in REGISTRY_COLUMNS[readAs]) continue;
      const known = ALL_REGISTRY_COLUMNS.includes(column);
      const suggestion = known ? undefined : closestMatch(column, ALL_REGISTRY_COLUMNS);
      report(
        'registry/unknown-key',
        keyNode,
        known
          ? `Column "${column}" is not read for ${readAs} formatting.`
          : `LLaMA-Factory has no column "${column}".${suggestion ? ` Did you mean "${suggestion}"?` : ''}`,
        suggestion ? { key: column, suggestion } : { key: column },
      );
    }
    const tagsNode = findNodeAtLocation(entryNode, ['tags']);
    for (const property of tagsNode?.type === 'object' ? (tagsNode.children ?? []) : []) {
      const keyNode = property.children?.[0];
      const tag = String(keyNode?.value);
      if (tag in REGISTRY_TAGS) continue;
      const suggestion = closestMatch(tag, Object.keys(REGISTRY_TAGS));
      report(
        'registry/unknown-key',
        keyNode,
        `LLaMA-Factory has no tag "${tag}".${suggestion ? ` Did you mean "${suggestion}"?` : ''}`,
        suggestion ? { key: tag, suggestion } : { key: tag },
      );
    }
    const resolved = await resolveEntry(env, path, entry);
    if (!resolved.ok) {
      if (resolved.key === 'formatting') return; // reported above
      const hub = resolved.key !== undefined && resolved.key !== 'file_name';
      const rule = hub
        ? 'registry/hub-entry'
        : resolved.key === 'file_name'
          ? 'registry/file-missing'
          : 'registry/no-file';
      const node = resolved.key ? keyOf(findNodeAtLocation(entryNode, [resolved.key])) : nameNode;
      report(
        rule,
        resolved.key === 'file_name' ? findNodeAtLocation(entryNode, ['file_name']) : node,
        `Entry '${name}'${resolved.key === 'file_name' ? ':' : ''} ${resolved.problem}.`,
      );
      return;
    }
    const sample = await env.fs.readRange(resolved.file, 0, Math.min(resolved.size, REGISTRY_SAMPLE_BYTES));
    if (!sample) return;
    const records = sampleRecords(new TextDecoder().decode(sample), resolved.size <= REGISTRY_SAMPLE_BYTES).filter(
      (r): r is Record<string, unknown> => typeof r === 'object' && r !== null && !Array.isArray(r),
    );
    if (records.length === 0) return;
    const given = columnsNode?.type === 'object';
    for (const [column, key] of Object.entries(resolved.reading.columns)) {
      if (records.some((record) => key in record)) continue;
      // Default columns (no `columns` given) that are optional in LLaMA-Factory (query) are not reported.
      if (!given && column === 'query') continue;
      const node = given ? findNodeAtLocation(entryNode, ['columns', column]) : nameNode;
      report(
        'registry/column-absent',
        node,
        `Column ${column} is read from "${key}", but none of the first ${records.length} record(s) of ${resolved.file.slice(resolved.file.lastIndexOf('/') + 1)} has it (their keys: ${[...new Set(records.flatMap((r) => Object.keys(r)))].slice(0, 8).join(', ')}).`,
        { column, key },
      );
    }
  }
}
