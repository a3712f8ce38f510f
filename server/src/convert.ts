// Conversions between the core's plain types and LSP's. The core's shapes already match LSP's
// (0-based lines, UTF-16 columns), so these are small.
import { fileURLToPath } from 'node:url';
import {
  CompletionItemKind,
  DiagnosticSeverity,
  SymbolKind,
  type CompletionItem as LspCompletionItem,
  type Diagnostic,
  type DocumentSymbol as LspDocumentSymbol,
} from 'vscode-languageserver/node';
import type { CompletionItem, DocumentSymbol, Finding, Severity } from './core/types';

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

export function toDiagnostic(f: Finding, uri: string): Diagnostic {
  const d: Diagnostic = {
    range: f.range,
    severity: SEVERITY[f.severity],
    code: f.rule,
    source: 'modelfactory',
    message: f.message,
  };
  if (f.data) d.data = f.data;
  if (f.related?.length) {
    d.relatedInformation = f.related.map((r) => ({
      location: { uri: r.uri ?? uri, range: r.range },
      message: r.message,
    }));
  }
  return d;
}

const COMPLETION_KIND: Record<CompletionItem['kind'], CompletionItemKind> = {
  property: CompletionItemKind.Property,
  value: CompletionItemKind.Value,
  model: CompletionItemKind.Module,
  module: CompletionItemKind.Field,
  enum: CompletionItemKind.EnumMember,
};

export function toCompletionItem(item: CompletionItem): LspCompletionItem {
  const out: LspCompletionItem = { label: item.label, kind: COMPLETION_KIND[item.kind] };
  if (item.detail) out.detail = item.detail;
  if (item.documentation) out.documentation = { kind: 'markdown', value: item.documentation };
  if (item.range) out.textEdit = { range: item.range, newText: item.insertText ?? item.label };
  else if (item.insertText) out.insertText = item.insertText;
  return out;
}

const SYMBOL_KIND: Record<DocumentSymbol['kind'], SymbolKind> = {
  object: SymbolKind.Object,
  property: SymbolKind.Property,
  array: SymbolKind.Array,
  string: SymbolKind.String,
  number: SymbolKind.Number,
  boolean: SymbolKind.Boolean,
  null: SymbolKind.Null,
};

export function toDocumentSymbol(s: DocumentSymbol): LspDocumentSymbol {
  const out: LspDocumentSymbol = {
    name: s.name,
    kind: SYMBOL_KIND[s.kind],
    range: s.range,
    selectionRange: s.selectionRange,
  };
  if (s.detail) out.detail = s.detail;
  if (s.children?.length) out.children = s.children.map(toDocumentSymbol);
  return out;
}

/** The file-system path of a `file:` URI; undefined for other schemes (untitled, remote). */
export function uriToPath(uri: string): string | undefined {
  try {
    return uri.startsWith('file:') ? fileURLToPath(uri) : undefined;
  } catch {
    return undefined;
  }
}
