// The hyperparameter form's model of a fine-tune YAML document: what the form shows (`readForm`) and
// the smallest text edit that sets one field (`editForField`). Pure: no `vscode`, so it is tested in
// plain Node. Edits touch only the scalar, key or block they change; comments, key order, quoting
// style, line endings and every other line stay byte-identical.
import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, Scalar } from 'yaml';
import type { Document, Node, Pair, YAMLMap } from 'yaml';
import { LineIndex } from '../../../server/src/core/yaml/lineIndex';
import { findPair, keyText, nodeSpan, pathAtOffset } from '../../../server/src/core/yaml/paths';
import { FIELD_PATHS, fieldSpec, isFieldPath, isFieldValue } from '../../../webviews/src/protocol/hyperparameters';
import type { FieldPath, FieldState, FieldValue, FormValues } from '../../../webviews/src/protocol/hyperparameters';
import finetuneSchema from '../../../schemas/finetune.schema.json';

/** An offset-based replacement in the document's text (UTF-16 offsets, as VS Code counts them). */
export interface TextEdit {
  start: number;
  end: number;
  newText: string;
}

export interface FormRead {
  values: FormValues;
  /** The first YAML syntax error, or null. The values are what could be read regardless. */
  parseError: string | null;
}

/** The longest source excerpt kept for an invalid value. */
const MAX_RAW = 200;

function parse(text: string): Document.Parsed {
  return parseDocument(text, { uniqueKeys: true, prettyErrors: false });
}

function firstLine(message: string): string {
  const newline = message.indexOf('\n');
  return newline < 0 ? message : message.slice(0, newline);
}

/** The value node at `keys` (aliases followed) and the pair holding it, when the whole path is there. */
function locate(
  doc: Document,
  keys: readonly string[],
): { pair: Pair<Node, Node | null>; parent: YAMLMap } | undefined {
  let current: unknown = doc.contents;
  let found: { pair: Pair<Node, Node | null>; parent: YAMLMap } | undefined;
  for (const key of keys) {
    if (isAlias(current)) current = current.resolve(doc);
    const pair = findPair(current, key);
    if (!pair) return undefined;
    found = { pair, parent: current as YAMLMap };
    current = pair.value;
  }
  return found;
}

function readField(text: string, doc: Document, path: FieldPath): FieldState {
  const location = locate(doc, path.split('.'));
  if (!location) return { value: null, status: 'absent', raw: null };
  const node = location.pair.value;
  let value: unknown = null;
  try {
    value = node ? node.toJS(doc, { maxAliasCount: 100 }) : null;
  } catch {
    value = undefined;
  }
  if (isFieldValue(path, value)) return { value, status: 'ok', raw: null };
  const span = node ? nodeSpan(node) : undefined;
  return { value: null, status: 'invalid', raw: span ? text.slice(span[0], Math.min(span[1], span[0] + MAX_RAW)) : '' };
}

/** Every form field as the YAML states it. Never throws: broken YAML yields what can be read. */
export function readForm(text: string): FormRead {
  const doc = parse(text);
  const values = {} as FormValues;
  for (const path of FIELD_PATHS) values[path] = readField(text, doc, path);
  const error = doc.errors[0];
  return { values, parseError: error ? firstLine(error.message) : null };
}

/** The form field a position in the document belongs to (for diagnostics), or null. */
export function fieldPathAt(text: string, line: number, character: number): FieldPath | null {
  const offset = new LineIndex(text).offsetAt({ line, character });
  const location = pathAtOffset(parse(text), offset);
  if (!location) return null;
  const keys = location.path.filter((segment): segment is string => typeof segment === 'string');
  for (let depth = Math.min(keys.length, 2); depth > 0; depth--) {
    const candidate = keys.slice(0, depth).join('.');
    if (isFieldPath(candidate)) return candidate;
  }
  return null;
}

// ---- Writing values ------------------------------------------------------------------------------

/** Words YAML 1.1 (PyYAML, which the trainer reads configs with) or 1.2 reads as something other than a string. */
const RESERVED_WORDS = /^(?:y|n|yes|no|true|false|on|off|null)$/i;
/** Plain scalars we write: a letter or `_` first, no spaces, a `:` only inside (never before a space). */
const PLAIN_BLOCK = /^[A-Za-z_](?:[A-Za-z0-9_./@+-]|:(?=[A-Za-z0-9_./@+-]))*$/;
const PLAIN_FLOW = /^[A-Za-z_][A-Za-z0-9_./@+-]*$/;

type QuoteStyle = 'plain' | 'single' | 'double';

function quoteDouble(text: string): string {
  return JSON.stringify(text).replace(
    /[\u007f-\u009f\u2028\u2029\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function formatString(text: string, style: QuoteStyle, flow: boolean): string {
  if (style === 'single' && !/[\r\n]/.test(text)) return `'${text.replace(/'/g, "''")}'`;
  const plain = (flow ? PLAIN_FLOW : PLAIN_BLOCK).test(text) && !RESERVED_WORDS.test(text);
  return style !== 'double' && plain ? text : quoteDouble(text);
}

/**
 * A number both YAML 1.2 and PyYAML's YAML 1.1 read back as the same float: exponent forms get a
 * `.` in the mantissa and a sign in the exponent (PyYAML reads `1e-4` as a string).
 */
export function formatNumber(value: number, exponent = false): string {
  const text = exponent && !Number.isInteger(value) ? value.toExponential() : String(value);
  const match = /^(-?\d+)(\.\d+)?e([+-]?)(\d+)$/.exec(text);
  if (!match) return text;
  return `${match[1]}${match[2] ?? '.0'}e${match[3] || '+'}${match[4]}`;
}

type Tree = FieldValue | { [key: string]: Tree };

interface Hints {
  style: QuoteStyle;
  exponent: boolean;
}

const NO_HINTS: Hints = { style: 'plain', exponent: false };

function formatInline(value: Tree, flow: boolean, hints: Hints = NO_HINTS): string {
  if (typeof value === 'string') return formatString(value, hints.style, flow);
  if (typeof value === 'number') return formatNumber(value, hints.exponent);
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map((item) => formatString(item, 'plain', true)).join(', ')}]`;
  const entries = Object.entries(value).map(([key, child]) => `${key}: ${formatInline(child, true)}`);
  return `{${entries.join(', ')}}`;
}

/** `key: value` as block lines, nested maps indented by `unit` spaces. */
function blockLines(key: string, value: Tree, unit: number): string[] {
  if (typeof value !== 'object' || Array.isArray(value)) return [`${key}: ${formatInline(value, false)}`];
  const pad = ' '.repeat(unit);
  return [`${key}:`, ...Object.entries(value).flatMap(([k, v]) => blockLines(k, v, unit).map((l) => pad + l))];
}

function nest(keys: readonly string[], value: Tree): Tree {
  return keys.reduceRight<Tree>((inner, key) => ({ [key]: inner }), value);
}

// ---- The edit context ------------------------------------------------------------------------------

class EditContext {
  readonly doc: Document.Parsed;
  readonly lines: LineIndex;
  readonly eol: string;
  readonly unit: number;

  constructor(readonly text: string) {
    this.doc = parse(text);
    this.lines = new LineIndex(text);
    this.eol = text.includes('\r\n') ? '\r\n' : '\n';
    this.unit = this.indentUnit();
  }

  /** The document's own nesting step: the first nested block map's offset from its parent. */
  private indentUnit(): number {
    const root = this.doc.contents;
    if (!isMap(root) || root.flow) return 2;
    for (const pair of root.items) {
      const child = pair.value;
      if (isMap(child) && !child.flow && child.items[0] && isPair(child.items[0])) {
        const childKey = child.items[0].key as Node | null;
        const parentKey = pair.key as Node | null;
        if (childKey?.range && parentKey?.range) {
          const step = this.column(childKey.range[0]) - this.column(parentKey.range[0]);
          if (step > 0) return step;
        }
      }
    }
    return 2;
  }

  column(offset: number): number {
    return this.lines.positionAt(offset).character;
  }

  lineOf(offset: number): number {
    return this.lines.positionAt(offset).line;
  }

  /** Whether only spaces precede `offset` on its line (the key starts its own line). */
  startsLine(offset: number): boolean {
    return /^[ \t]*$/.test(this.text.slice(this.lines.lineStart(this.lineOf(offset)), offset));
  }

  /** Where a pair's content ends: its value's last character, or its key's. */
  pairEnd(pair: Pair): number {
    const value = pair.value as Node | null;
    const valueSpan =
      value && !(isScalar(value) && value.range && value.range[0] === value.range[1]) ? nodeSpan(value) : undefined;
    const keyEnd = (pair.key as Node | null)?.range?.[1] ?? 0;
    return Math.max(keyEnd, valueSpan ? this.trimBreaks(valueSpan[1]) : keyEnd);
  }

  /** Block scalars end after their last line break; an edit stops before it. */
  trimBreaks(end: number): number {
    let e = end;
    while (e > 0 && (this.text[e - 1] === '\n' || this.text[e - 1] === '\r')) e--;
    return e;
  }
}

function keyStart(pair: Pair): number {
  return (pair.key as Node | null)?.range?.[0] ?? 0;
}

/** The order of keys under `parentPath` in the schema, for placing a new key among its siblings. */
function schemaKeyOrder(parentPath: readonly string[]): string[] {
  type Props = { properties?: Record<string, Props> };
  let node: Props | undefined = finetuneSchema as Props;
  for (const key of parentPath) node = node?.properties?.[key];
  return Object.keys(node?.properties ?? {});
}

// ---- Edits -------------------------------------------------------------------------------------------

/** Replaces the value of an existing pair, keeping its quoting style where the new value is a string. */
function replaceValue(ctx: EditContext, pair: Pair<Node, Node | null>, value: Tree, flowParent: boolean): TextEdit[] {
  const node = pair.value;
  const keyEnd = pair.key.range?.[1] ?? 0;
  if (!node?.range) return [{ start: keyEnd, end: keyEnd, newText: `: ${formatInline(value, flowParent)}` }];
  const [start, rawEnd] = node.range;
  if (isScalar(node) || isAlias(node)) {
    const end = isScalar(node) ? ctx.trimBreaks(rawEnd) : rawEnd;
    const source = ctx.text.slice(start, end);
    const hints: Hints = {
      style:
        isScalar(node) && node.type === Scalar.QUOTE_SINGLE
          ? 'single'
          : isScalar(node) && node.type === Scalar.QUOTE_DOUBLE
            ? 'double'
            : 'plain',
      exponent: isScalar(node) && typeof node.value === 'number' && /e/i.test(source),
    };
    const newText = formatInline(value, flowParent, hints);
    if (source === newText) return [];
    const gap = start > 0 && ctx.text[start - 1] === ':' ? ' ' : '';
    return [{ start, end, newText: gap + newText }];
  }
  const end = ctx.pairEnd(pair);
  if (Array.isArray(value) && isSeq(node) && !node.flow && ctx.startsLine(start)) {
    const indent = ' '.repeat(ctx.column(start));
    const items = value.map((item) => `- ${formatString(item, 'plain', false)}`);
    return [{ start, end, newText: items.join(ctx.eol + indent) }];
  }
  const newText = formatInline(value, flowParent);
  if (node.flow) return [{ start, end: rawEnd, newText }];
  // A block collection becomes an inline value: take it back onto the key's line when nothing but
  // the colon lies between (a comment there keeps the value on its own line).
  if (/^[ \t]*:[ \t]*\r?\n[ \t]*$/.test(ctx.text.slice(keyEnd, start)))
    return [{ start: keyEnd, end, newText: `: ${newText}` }];
  return [{ start, end, newText }];
}

/** Inserts `key: value` into an existing map, after its previous sibling in schema order. */
function insertIntoMap(
  ctx: EditContext,
  map: YAMLMap,
  mapPath: readonly string[],
  key: string,
  value: Tree,
): TextEdit[] {
  const items = map.items.filter((item): item is Pair => isPair(item));
  if (map.flow) {
    const entry = `${key}: ${formatInline(value, true)}`;
    const last = items[items.length - 1];
    if (last) return [{ start: ctx.pairEnd(last), end: ctx.pairEnd(last), newText: `, ${entry}` }];
    const close = ctx.text.lastIndexOf('}', map.range![1]);
    return [{ start: close, end: close, newText: entry }];
  }
  const order = schemaKeyOrder(mapPath);
  const rank = order.indexOf(key);
  const ranked = items.map((pair) => ({ pair, rank: order.indexOf(keyText(pair)) }));
  const before = ranked.filter((r) => r.rank >= 0 && r.rank < rank).pop();
  const after = ranked.find((r) => r.rank > rank);
  const first = items[0]!;
  const indent = ' '.repeat(ctx.column(keyStart(first)));
  const lines = blockLines(key, value, ctx.unit);
  const text = lines.join(ctx.eol + indent);
  if (!before && after && ctx.startsLine(keyStart(after.pair))) {
    const lineStart = ctx.lines.lineStart(ctx.lineOf(keyStart(after.pair)));
    return [{ start: lineStart, end: lineStart, newText: indent + text + ctx.eol }];
  }
  const anchor = before?.pair ?? items[items.length - 1]!;
  const lineEnd = ctx.lines.lineEnd(ctx.lineOf(ctx.pairEnd(anchor)));
  return [{ start: lineEnd, end: lineEnd, newText: ctx.eol + indent + text }];
}

/** Sets `keys` to `value`, creating missing parents; [] when a parent on the way is not a map. */
function setAt(ctx: EditContext, keys: readonly string[], value: Tree): TextEdit[] {
  let current: unknown = ctx.doc.contents;
  let flow = false;
  for (let depth = 0; depth < keys.length; depth++) {
    if (isAlias(current)) return [];
    const key = keys[depth]!;
    if (current === null || current === undefined) return appendToDocument(ctx, nest(keys.slice(depth), value));
    if (!isMap(current)) return [];
    flow ||= Boolean(current.flow);
    const pair = findPair(current, key);
    if (!pair) return insertIntoMap(ctx, current, keys.slice(0, depth), key, nest(keys.slice(depth + 1), value));
    if (depth === keys.length - 1) return replaceValue(ctx, pair, value, flow);
    const child = pair.value;
    if (isMap(child)) {
      current = child;
    } else if (child === null || (isScalar(child) && child.value === null)) {
      return fillEmptyParent(ctx, pair, nest(keys.slice(depth + 1), value), flow);
    } else {
      return [];
    }
  }
  return [];
}

/** `lora:` with no value (or `~`) gets its first child. */
function fillEmptyParent(ctx: EditContext, pair: Pair<Node, Node | null>, value: Tree, flow: boolean): TextEdit[] {
  const node = pair.value;
  const empty = !node?.range || node.range[0] === node.range[1];
  if (flow || !empty || !ctx.startsLine(keyStart(pair))) return replaceValue(ctx, pair, value, true);
  const indent = ' '.repeat(ctx.column(keyStart(pair)) + ctx.unit);
  const entries = Object.entries(value as Record<string, Tree>).flatMap(([k, v]) => blockLines(k, v, ctx.unit));
  const lineEnd = ctx.lines.lineEnd(ctx.lineOf(keyStart(pair)));
  return [{ start: lineEnd, end: lineEnd, newText: entries.map((l) => ctx.eol + indent + l).join('') }];
}

/** A document with no content yet (empty, or comments only): the keys go at its end. */
function appendToDocument(ctx: EditContext, tree: Tree): TextEdit[] {
  const lines = Object.entries(tree as Record<string, Tree>).flatMap(([k, v]) => blockLines(k, v, ctx.unit));
  const end = ctx.text.length;
  const lead = end === 0 || ctx.text.endsWith('\n') || ctx.text.endsWith('\r') ? '' : ctx.eol;
  return [{ start: end, end, newText: lead + lines.join(ctx.eol) + ctx.eol }];
}

/** Removes the key at `keys`, and its parent when that leaves the parent empty. */
function removeAt(ctx: EditContext, keys: readonly string[]): TextEdit[] {
  const location = locate(ctx.doc, keys);
  if (!location) return [];
  const { pair, parent } = location;
  if (keys.length > 1 && parent.items.length === 1) return removeAt(ctx, keys.slice(0, -1));
  const items = parent.items as Pair[];
  const index = items.indexOf(pair);
  const start = keyStart(pair);
  if (parent.flow || !ctx.startsLine(start)) {
    const next = items[index + 1];
    if (next) return [{ start, end: keyStart(next), newText: '' }];
    const previous = items[index - 1];
    return [{ start: previous ? ctx.pairEnd(previous) : start, end: ctx.pairEnd(pair), newText: '' }];
  }
  const firstLine = ctx.lineOf(start);
  const lastLine = ctx.lineOf(ctx.pairEnd(pair));
  const lineStart = ctx.lines.lineStart(firstLine);
  if (lastLine + 1 < ctx.lines.lineCount)
    return [{ start: lineStart, end: ctx.lines.lineStart(lastLine + 1), newText: '' }];
  // The last line of a document without a final line break: take the break before it instead.
  const from = firstLine > 0 ? ctx.lines.lineEnd(firstLine - 1) : lineStart;
  return [{ start: from, end: ctx.text.length, newText: '' }];
}

export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start);
  let result = text;
  for (const edit of sorted) result = result.slice(0, edit.start) + edit.newText + result.slice(edit.end);
  return result;
}

/**
 * `second` (computed on the text after `first`) expressed on the original text. Apart, both stay
 * minimal; where they touch, they become one edit.
 */
function compose(text: string, first: TextEdit[], second: TextEdit[]): TextEdit[] {
  if (second.length === 0) return first;
  if (first.length === 0) return second;
  const a = first[0]!;
  const delta = a.newText.length - (a.end - a.start);
  const mapped: TextEdit[] = [a];
  for (const b of second) {
    if (b.end < a.start) mapped.push(b);
    else if (b.start > a.start + a.newText.length) mapped.push({ ...b, start: b.start - delta, end: b.end - delta });
    else return [wholeDiff(text, applyEdits(applyEdits(text, first), second))];
  }
  return mapped.sort((x, y) => x.start - y.start);
}

/** One edit covering everything between the common prefix and suffix of two texts. */
function wholeDiff(before: string, after: string): TextEdit {
  let prefix = 0;
  while (prefix < before.length && prefix < after.length && before[prefix] === after[prefix]) prefix++;
  let suffix = 0;
  while (
    suffix < before.length - prefix &&
    suffix < after.length - prefix &&
    before[before.length - 1 - suffix] === after[after.length - 1 - suffix]
  )
    suffix++;
  return { start: prefix, end: before.length - suffix, newText: after.slice(prefix, after.length - suffix) };
}

/** The quantization block QLoRA needs, with the schema's defaults. */
function defaultQuantization(): Record<string, Tree> {
  type Props = { properties?: Record<string, { default?: unknown }> };
  const properties =
    (finetuneSchema as { properties: Record<string, Props> }).properties['quantization']?.properties ?? {};
  const block: Record<string, Tree> = {};
  for (const [key, schema] of Object.entries(properties)) {
    const fallback = schema.default;
    if (typeof fallback === 'string' || typeof fallback === 'number' || typeof fallback === 'boolean')
      block[key] = fallback;
  }
  return block;
}

function editOne(text: string, keys: readonly string[], value: Tree | undefined): TextEdit[] {
  const ctx = new EditContext(text);
  return value === undefined ? removeAt(ctx, keys) : setAt(ctx, keys, value);
}

/**
 * The minimal edit that sets `path` to `value` (or removes it, for undefined). [] when nothing needs
 * to change, when the YAML has syntax errors (nothing is edited blind), or when a parent on the way
 * is not a map. Switching `method` also adds the quantization block (qlora needs it) or removes it
 * (lora refuses it).
 */
export function editForField(text: string, path: FieldPath, value: FieldValue | undefined): TextEdit[] {
  if (parse(text).errors.length > 0) return [];
  if (value !== undefined && !isFieldValue(path, value)) return [];
  if (value === undefined && fieldSpec(path).required) return [];
  const edits = editOne(text, path.split('.'), value);
  if (path !== 'method' || value === undefined) return edits;
  const after = applyEdits(text, edits);
  const hasQuantization = locate(parse(after), ['quantization']) !== undefined;
  const companion =
    value === 'qlora' && !hasQuantization
      ? editOne(after, ['quantization'], defaultQuantization())
      : value === 'lora' && hasQuantization
        ? editOne(after, ['quantization'], undefined)
        : [];
  return compose(text, edits, companion);
}
