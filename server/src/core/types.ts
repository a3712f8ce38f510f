// Plain data types of the language-service core. They mirror LSP's shapes (0-based lines, UTF-16
// columns) so the shell converts nothing, but the core never imports an LSP package.

export interface Position {
  /** 0-based line. */
  line: number;
  /** 0-based column in UTF-16 code units, as LSP and VS Code count. */
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export type Severity = 'error' | 'warning' | 'information' | 'hint';
/** What a user may set per rule: a severity, or `off` to silence it. */
export type SeveritySetting = Severity | 'off';

export interface RelatedInformation {
  /** Absent: the same document. */
  uri?: string;
  range: Range;
  message: string;
}

export interface Finding {
  rule: string;
  severity: Severity;
  range: Range;
  message: string;
  related?: RelatedInformation[];
  /** Machine-readable facts for code actions (e.g. the line a duplicate repeats). */
  data?: Record<string, unknown>;
}

export interface TextEdit {
  range: Range;
  newText: string;
}

export interface CodeAction {
  title: string;
  /** The rule this action fixes. */
  rule: string;
  edits: TextEdit[];
  isPreferred?: boolean;
}

export interface Hover {
  /** Markdown. Anything taken from user data must be escaped by the producer. */
  contents: string;
  range?: Range;
}

export type CompletionKind = 'property' | 'value' | 'model' | 'module' | 'enum';

export interface CompletionItem {
  label: string;
  kind: CompletionKind;
  detail?: string;
  documentation?: string;
  /** Text to insert; the label when absent. */
  insertText?: string;
  /** Range replaced by insertText; the word at the cursor when absent. */
  range?: Range;
}

export type SymbolKind = 'object' | 'property' | 'array' | 'string' | 'number' | 'boolean' | 'null';

export interface DocumentSymbol {
  name: string;
  detail?: string;
  kind: SymbolKind;
  range: Range;
  selectionRange: Range;
  children?: DocumentSymbol[];
}

/** A document as the core sees it: a URI, a version, and its text. */
export interface TextDocumentLike {
  uri: string;
  version: number;
  getText(): string;
}
