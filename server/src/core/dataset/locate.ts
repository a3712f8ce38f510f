// Maps a JSON path inside one record line to UTF-16 columns. Only lines that have a finding pay for
// the syntax tree: the hot path parses with JSON.parse, which knows no offsets.
import { findNodeAtLocation, parseTree } from 'jsonc-parser';
import type { Node as JsonNode } from 'jsonc-parser';

export type JsonPath = readonly (string | number)[];

export class LineLocator {
  private root: JsonNode | undefined | null = null;

  constructor(readonly text: string) {}

  private tree(): JsonNode | undefined {
    if (this.root === null) this.root = parseTree(this.text);
    return this.root;
  }

  /** The deepest existing node on `path`: a missing field points at its parent. */
  private nodeAt(path: JsonPath): JsonNode | undefined {
    const root = this.tree();
    if (!root) return undefined;
    for (let n = path.length; n >= 0; n--) {
      const node = findNodeAtLocation(root, path.slice(0, n));
      if (node) return node;
    }
    return root;
  }

  /** Range of the value at `path` ([start, end) columns). */
  value(path: JsonPath): [number, number] {
    const node = this.nodeAt(path);
    if (!node) return [0, this.text.length];
    return [node.offset, node.offset + node.length];
  }

  /** Range of the property name of `path` (its last segment must be a key), else of the value. */
  key(path: JsonPath): [number, number] {
    const node = this.nodeAt(path);
    const property = node?.parent;
    if (node && property?.type === 'property' && property.children?.[0] && path.length > 0) {
      const keyNode = property.children[0];
      if (keyNode.value === path[path.length - 1]) {
        return [keyNode.offset, keyNode.offset + keyNode.length];
      }
    }
    return this.value(path);
  }
}
