// The outline of a config: its keys, nested as in the file.
import { isMap, isPair, isScalar, isSeq } from 'yaml';
import type { Node } from 'yaml';
import type { DocumentSymbol, SymbolKind } from '../types';
import type { LineIndex } from '../yaml/lineIndex';
import { keyText, nodeSpan } from '../yaml/paths';
import type { ParsedYaml } from '../yaml/parse';

export function configSymbols(parsed: ParsedYaml): DocumentSymbol[] {
  return symbolsOf(parsed.doc.contents as Node | null, parsed.lines);
}

function kindOf(node: Node | null | undefined): SymbolKind {
  if (isMap(node)) return 'object';
  if (isSeq(node)) return 'array';
  if (isScalar(node)) {
    const value = node.value;
    if (typeof value === 'number') return 'number';
    if (typeof value === 'boolean') return 'boolean';
    if (value === null || value === undefined) return 'null';
    return 'string';
  }
  return 'null';
}

function symbolsOf(node: Node | null | undefined, lines: LineIndex): DocumentSymbol[] {
  const symbols: DocumentSymbol[] = [];
  if (isMap(node)) {
    for (const item of node.items) {
      if (!isPair(item)) continue;
      const keySpan = nodeSpan(item.key as Node);
      if (!keySpan) continue;
      const value = item.value as Node | null;
      const valueSpan = value ? nodeSpan(value) : undefined;
      const end = valueSpan && valueSpan[1] > keySpan[1] ? valueSpan[1] : keySpan[1];
      symbols.push(
        makeSymbol(keyText(item), value, lines.rangeOf(keySpan[0], end), lines.rangeOf(keySpan[0], keySpan[1]), lines),
      );
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => {
      const span = nodeSpan(item as Node);
      if (!span) return;
      const range = lines.rangeOf(span[0], span[1]);
      const name = isScalar(item) ? String(item.value) : `[${index}]`;
      symbols.push(makeSymbol(name, item as Node, range, range, lines));
    });
  }
  return symbols;
}

function makeSymbol(
  name: string,
  value: Node | null,
  range: DocumentSymbol['range'],
  selectionRange: DocumentSymbol['range'],
  lines: LineIndex,
): DocumentSymbol {
  const symbol: DocumentSymbol = { name, kind: kindOf(value), range, selectionRange };
  if (isScalar(value) && value.value !== null && value.value !== undefined) symbol.detail = String(value.value);
  const children = symbolsOf(value, lines);
  if (children.length > 0) symbol.children = children;
  return symbol;
}
