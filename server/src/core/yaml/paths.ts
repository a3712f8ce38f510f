// Locating nodes by path (for findings) and paths by offset (for hover and completion).
import { isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Document, Node, Pair } from 'yaml';
import type { Range } from '../types';
import type { LineIndex } from './lineIndex';

export type YamlPath = (string | number)[];

export function keyText(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

/** The pair of `map` (a YAML map node) whose key is `key`. */
export function findPair(map: unknown, key: string): Pair<Node, Node | null> | undefined {
  if (!isMap(map)) return undefined;
  for (const item of map.items) {
    if (isPair(item) && keyText(item) === key) return item as Pair<Node, Node | null>;
  }
  return undefined;
}

export interface PathLocation {
  /** The key of the last segment found (a sequence item stands for its own key). */
  keyNode: Node | undefined;
  /** The value at the full path; undefined when the path is not all there. */
  valueNode: Node | undefined;
  /** How many segments were found. */
  depth: number;
}

export function locatePath(doc: Document, path: YamlPath): PathLocation {
  let current: unknown = doc.contents;
  let keyNode: Node | undefined;
  let depth = 0;
  for (const segment of path) {
    if (typeof segment === 'number' && isSeq(current)) {
      const item = current.items[segment];
      if (item === undefined) break;
      keyNode = item as Node;
      current = item;
    } else {
      const pair = findPair(current, String(segment));
      if (!pair) break;
      keyNode = pair.key;
      current = pair.value ?? undefined;
    }
    depth++;
  }
  const complete = depth === path.length;
  return { keyNode, valueNode: complete ? (current as Node | undefined) : undefined, depth };
}

/**
 * The span a node covers, without trailing line breaks, comments or blank lines: `yaml` ends a
 * block collection where the next key starts, so its end is taken from its last item instead.
 */
export function nodeSpan(node: Node): [number, number] | undefined {
  if (!node.range) return undefined;
  return [node.range[0], Math.max(node.range[0], contentEnd(node))];
}

function contentEnd(node: Node): number {
  if ((isMap(node) || isSeq(node)) && !node.flow && node.items.length > 0) {
    const last = node.items[node.items.length - 1];
    const tail = isPair(last) ? ((last.value as Node | null) ?? (last.key as Node | null)) : (last as Node | null);
    if (tail?.range) return Math.max(contentEnd(tail), isPair(last) ? ((last.key as Node | null)?.range?.[1] ?? 0) : 0);
  }
  return node.range![1];
}

/**
 * The exact range of the key or value at `path`. A value that is empty falls back to its key; a
 * path that is not all there falls back to the deepest key found, then to the document's start.
 */
export function rangeOfPath(doc: Document, lines: LineIndex, path: YamlPath, which: 'key' | 'value'): Range {
  const location = locatePath(doc, path);
  if (which === 'value' && location.valueNode) {
    const span = nodeSpan(location.valueNode);
    if (span && span[1] > span[0]) return lines.rangeOf(span[0], span[1]);
  }
  const keySpan = location.keyNode ? nodeSpan(location.keyNode) : undefined;
  if (keySpan) return lines.rangeOf(keySpan[0], keySpan[1]);
  return documentStartRange(doc, lines);
}

/** The first content line's text, the place for findings about the whole document. */
export function documentStartRange(doc: Document, lines: LineIndex): Range {
  const contents = doc.contents as Node | null;
  const start = contents?.range?.[0] ?? 0;
  const line = lines.positionAt(start).line;
  return lines.rangeOf(start, Math.max(start, lines.lineEnd(line)));
}

export interface OffsetLocation {
  path: YamlPath;
  /** On a key, or in a value (a scalar, or inside a collection but on no child). */
  on: 'key' | 'value';
  node: Node | undefined;
}

/** What the offset points at, descending into the innermost node that contains it. */
export function pathAtOffset(doc: Document, offset: number): OffsetLocation | undefined {
  const path: YamlPath = [];
  let current: unknown = doc.contents;
  for (;;) {
    if (isMap(current)) {
      let next: unknown;
      for (const item of current.items) {
        const key = item.key as Node | null;
        const keySpan = key ? nodeSpan(key) : undefined;
        if (keySpan && offset >= keySpan[0] && offset <= keySpan[1]) {
          return { path: [...path, keyText(item)], on: 'key', node: key ?? undefined };
        }
        const value = item.value as Node | null;
        const valueSpan = value ? nodeSpan(value) : undefined;
        if (valueSpan && offset >= valueSpan[0] && offset <= valueSpan[1]) {
          path.push(keyText(item));
          next = value;
          break;
        }
      }
      if (next === undefined) return path.length === 0 ? undefined : { path, on: 'value', node: current };
      current = next;
    } else if (isSeq(current)) {
      const index = current.items.findIndex((item) => {
        const span = nodeSpan(item as Node);
        return span !== undefined && offset >= span[0] && offset <= span[1];
      });
      if (index < 0) return { path, on: 'value', node: current };
      path.push(index);
      current = current.items[index];
    } else {
      return { path, on: 'value', node: (current as Node | null) ?? undefined };
    }
  }
}
