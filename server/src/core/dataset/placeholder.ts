// content/placeholder: template slots that were never filled in. A model trained on them learns to
// write "{{name}}" instead of a name. Four spellings, from the most to the least certain:
//   {{name}}, {{ user.name }}   Jinja/Mustache/Handlebars; LLaMA-Factory's data/identity.json ships
//                               {{name}} and {{author}} in 85 of its 91 records, to be replaced
//   [INSERT NAME], [TODO]       a note to the editor: [insert ...], [fill in ...], [enter your ...]
//                               ("[Enter CASSIUS]" is a stage direction), [placeholder],
//                               [todo], [tbd], or all-caps [YOUR NAME] (mixed-case "[Your Name]" in a
//                               drafted letter is a convention answers use on purpose, so it passes)
//   <NAME>, <AUTHOR>            only these identity slots (and BOT_NAME, MODEL_NAME, ASSISTANT_NAME,
//                               AI_NAME): LLaMA-Factory's self_cognition.json used <NAME> and <AUTHOR>
//                               in 74 of 80 records; other capitals in angle brackets in real data are
//                               deliberate (<MASK> in a task, ssh <USERNAME>@<IP_ADDRESS> in an answer,
//                               <PAD>/<EOS> tokens, <PERSON> redactions)
//   {name}, {user_name}         str.format slots, only in prose: never in a string that shows code or
//                               math (backticks, backslashes, $, =, ;, <, >, |, print(, .format(,
//                               f-strings), never after a word character, ^, _, $ or a slash
//                               (\frac{a}{b}, x_{i}, /users/{id}), never a single letter ({x}).
// Nothing inside a code span (``` fences or `inline code`) counts, nor a string that is itself a
// template (it contains {% or a Handlebars block), nor an object key, nor anything in a record that
// asks for or talks about a template or placeholders (LLaMA-Factory's alpaca_en_demo.json answers
// "Generate an appropriate template..." with "Date: [insert date]": that is the answer). Matching runs over the raw line
// text, like the PII detectors, so columns are exact; each spelling's regex runs only when an indexOf
// loop finds its opening character followed by a plausible one, so most lines cost four indexOf scans.
import type { LineFindings } from './context';

export type PlaceholderKind = 'mustache' | 'bracket' | 'angle' | 'brace';

export interface PlaceholderMatch {
  kind: PlaceholderKind;
  start: number;
  end: number;
  text: string;
}

const MUSTACHE = /\{\{\s*[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\s*\}\}/g;
const BRACKET =
  /\[(?:(?:insert|fill[ -]in|enter[ ](?:your|the|a|an))[ ][^[\]\\"]{1,60}|(?:placeholder|todo|tbd)(?:[ :-][^[\]\\"]{0,60})?|your[ _][a-z][a-z0-9 _]{0,40})\](?![(:])/gi;
const ANGLE = /<(?:NAME|AUTHOR|BOT_NAME|MODEL_NAME|ASSISTANT_NAME|AI_NAME)>/g;
const BRACE = /\{(?:[a-z][a-z0-9]*(?:_[a-z0-9]+)*|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)\}/g;
/** What a single-brace slot may not follow (`x_{i}`, `${v}`, `\\frac{a}`, `/{id}`...): neighboursAllow and collectBraces. */
const NOT_BEFORE_BRACE = /[\w\\$^_{}/#%@]/;

/** A record that asks for or talks about a template: its slots are the answer, not leftovers. */
const ABOUT_TEMPLATES =
  /\btemplates?\b|\bplaceholders?\b|\bfill[- ]in\b|模板|模版|テンプレート|\bplantillas?\b|\bvorlagen?\b/i;
/** A string that is a template's source, not text with a slot left in it. */
const TEMPLATE_SOURCE = /\{%|\{\{[#/!>^]/;
/** A string that shows code or math: single braces there are code, not slots. */
const CODE_OR_MATH = /[`$=;<>|]|\\\\|\.format\(|\bprint\(|\bf\\"|\bf'|%\(/;

const MAX_PER_LINE = 20;

export interface StringSpan {
  /** Offset of the first character inside the quotes. */
  start: number;
  /** Offset of the closing quote. */
  end: number;
  isKey: boolean;
}

/**
 * The string literals of a JSON text (raw offsets), one at a time from its start: from quote to quote
 * by indexOf (a quote after an odd run of backslashes is escaped), not a character at a time. Its
 * fields are the literal it is at (none yet: both 0); no object is made per literal.
 */
class StringCursor implements StringSpan {
  start = 0;
  end = 0;
  isKey = false;
  /** Where the next literal's opening quote is looked for; -1 when there is none. */
  private from = 0;

  constructor(private readonly text: string) {}

  /** Moves to the next literal; false (and the fields as they were) when there is none. */
  next(): boolean {
    const text = this.text;
    const i = this.from < 0 ? -1 : text.indexOf('"', this.from);
    if (i < 0) {
      this.from = -1;
      return false;
    }
    const start = i + 1;
    let j = text.indexOf('"', start);
    while (j >= 0 && escapedAt(text, j, start)) j = text.indexOf('"', j + 1);
    if (j < 0) j = text.length;
    let k = j + 1;
    for (let c = text.charCodeAt(k); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = text.charCodeAt(++k));
    this.start = start;
    this.end = j;
    this.isKey = text.charCodeAt(k) === 0x3a;
    this.from = j + 1;
    return true;
  }

  /**
   * Whether `offset` is inside a literal, moving on to it (then the fields are that literal's). The
   * offsets asked about must not decrease.
   */
  holds(offset: number): boolean {
    while (this.end <= offset) if (!this.next()) return false;
    return this.start <= offset;
  }
}

/** The string literals of a JSON text (raw offsets), in order, up to the one holding offset `upTo`. */
export function stringSpans(text: string, upTo: number): StringSpan[] {
  const spans: StringSpan[] = [];
  const cursor = new StringCursor(text);
  while (cursor.next() && cursor.start - 1 < upTo) {
    spans.push({ start: cursor.start, end: cursor.end, isKey: cursor.isKey });
  }
  return spans;
}

/** Whether the quote at `q` follows an odd run of backslashes that starts at or after `floor`. */
function escapedAt(text: string, q: number, floor: number): boolean {
  let k = q - 1;
  while (k >= floor && text.charCodeAt(k) === 0x5c) k--;
  return (q - 1 - k) % 2 === 1;
}

/** True when `offset` is inside a ``` fence or an `inline code` span of the string starting at `from`. */
function inCode(text: string, from: number, offset: number): boolean {
  let fence = false;
  let inline = false;
  for (let i = text.indexOf('`', from); i >= 0 && i < offset; i = text.indexOf('`', i + 1)) {
    if (text.startsWith('```', i)) {
      if (!inline) fence = !fence;
      i += 2;
    } else if (!fence) inline = !inline;
  }
  return fence || inline;
}

/** The character before `offset`, with a JSON escape such as \n or \t read as the space it stands for. */
function charBefore(text: string, offset: number, floor: number): string {
  if (offset <= floor) return ' ';
  const c = text[offset - 1] as string;
  if (/[ntr]/.test(c) && offset - 2 >= floor && text[offset - 2] === '\\') {
    let backslashes = 0;
    for (let i = offset - 2; i >= floor && text[i] === '\\'; i--) backslashes++;
    if (backslashes % 2 === 1) return ' ';
  }
  return c;
}

/** ABOUT_TEMPLATES outside the candidates themselves ("[PLACEHOLDER]" does not excuse itself). */
function talksAboutTemplates(text: string, candidates: readonly PlaceholderMatch[]): boolean {
  let rest = '';
  let from = 0;
  for (const m of candidates) {
    if (m.start < from) continue;
    rest += text.slice(from, m.start) + ' ';
    from = m.end;
  }
  return ABOUT_TEMPLATES.test(rest + text.slice(from));
}

function collect(re: RegExp, kind: PlaceholderKind, text: string, out: PlaceholderMatch[]): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ kind, start: m.index, end: m.index + m[0].length, text: m[0] });
  }
}

/** True when some `opener` in `text` is followed by a character `next` accepts (an indexOf loop: fast). */
function openerBefore(text: string, opener: string, next: (c: number) => boolean): boolean {
  for (let i = text.indexOf(opener); i >= 0; i = text.indexOf(opener, i + 1)) {
    if (next(text.charCodeAt(i + 1))) return true;
  }
  return false;
}

const isLetter = (c: number) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
// First letters of the bracket keywords (insert, fill, enter, placeholder, todo, tbd, your), either case.
const BRACKET_FIRST = new Set([...'ifeptyIFEPTY'].map((c) => c.charCodeAt(0)));
const ANGLE_FIRST = new Set([...'NABM'].map((c) => c.charCodeAt(0)));

/** Placeholders in one record's raw JSON text, in column order. */
export function findPlaceholders(text: string): PlaceholderMatch[] {
  const candidates = openerCandidates(text);
  if (openerBefore(text, '{', isLetter)) collectBraces(text, candidates);
  return choose(text, candidates, () => everyCandidate(text));
}

/**
 * findPlaceholders from every match of the four spellings' regexes, braces included: the rule as
 * written, which tests hold findPlaceholders to.
 */
export function findPlaceholdersFromEveryMatch(text: string): PlaceholderMatch[] {
  const all = everyCandidate(text);
  return choose(text, all, () => all);
}

/** The candidates of the three spellings other than single braces. */
function openerCandidates(text: string): PlaceholderMatch[] {
  const candidates: PlaceholderMatch[] = [];
  if (text.indexOf('{{') >= 0) collect(MUSTACHE, 'mustache', text, candidates);
  if (openerBefore(text, '[', (c) => BRACKET_FIRST.has(c))) collect(BRACKET, 'bracket', text, candidates);
  if (openerBefore(text, '<', (c) => ANGLE_FIRST.has(c))) collect(ANGLE, 'angle', text, candidates);
  return candidates;
}

function everyCandidate(text: string): PlaceholderMatch[] {
  const candidates = openerCandidates(text);
  if (openerBefore(text, '{', isLetter)) collect(BRACE, 'brace', text, candidates);
  return candidates;
}

const BRACE_AT = new RegExp(BRACE.source, 'y');

/**
 * BRACE's matches whose character before allows a slot, tried only at such a brace: code is full of
 * `x_{i}`, `${v}` and `config_{name}`, and a match object for each, refused right after by
 * neighboursAllow, cost more than the rest of the check (10 MB of chat records with `config_{name}`
 * in each, findPlaceholders alone: 23.4 -> 17.4 ms). The matches left out are refused whatever their
 * string; only the test for a record that talks about templates reads them, and it finds them again
 * (everyCandidate).
 */
function collectBraces(text: string, out: PlaceholderMatch[]): void {
  for (let i = text.indexOf('{'); i >= 0; i = text.indexOf('{', i + 1)) {
    if (!isLetter(text.charCodeAt(i + 1)) || NOT_BEFORE_BRACE.test(charBefore(text, i, 0))) continue;
    BRACE_AT.lastIndex = i;
    const m = BRACE_AT.exec(text);
    if (!m) continue;
    out.push({ kind: 'brace', start: i, end: i + m[0].length, text: m[0] });
    i += m[0].length - 1;
  }
}

/** The placeholders among `candidates`; `all` gives every candidate, for the test of a record that talks about templates. */
function choose(
  text: string,
  candidates: PlaceholderMatch[],
  all: () => readonly PlaceholderMatch[],
): PlaceholderMatch[] {
  if (candidates.length === 0) return candidates;
  candidates.sort((a, b) => a.start - b.start);
  // The characters around a candidate are checked first, without the string spans: most braces in code
  // fail there (`x_{i}`, `${v}`, `f(x){`), and the spans and the template test are then not needed.
  // 10 MB of chat records with `config_{name}` and f"{user_id}" in each: 124 -> 85 ms to validate.
  if (!candidates.some((m) => neighboursAllow(m, text, 0, text.length))) return [];
  // The literal that holds each candidate, found going forward with the candidates (in column order).
  const span = new StringCursor(text);
  const found: PlaceholderMatch[] = [];
  let lastEnd = -1;
  for (const m of candidates) {
    if (m.start < lastEnd) continue;
    if (!span.holds(m.start) || span.isKey || m.end > span.end) continue;
    if (!accept(m, text, span)) continue;
    found.push(m);
    lastEnd = m.end;
    if (found.length >= MAX_PER_LINE) break;
  }
  // A record that talks about templates keeps its slots: none is reported.
  if (found.length === 0) return found;
  const every = [...all()].sort((a, b) => a.start - b.start);
  return talksAboutTemplates(text, every) ? [] : found;
}

/**
 * The checks of the characters just before and after a candidate inside the string that spans
 * [floor, end) (a JSON escape such as \n read as the space it stands for). With the whole line as the
 * span it refuses no more than with the string's own: a string's quotes count as the spaces its ends do.
 */
function neighboursAllow(m: PlaceholderMatch, text: string, floor: number, end: number): boolean {
  const before = charBefore(text, m.start, floor);
  const after = m.end < end ? (text[m.end] as string) : ' ';
  switch (m.kind) {
    case 'mustache':
      // ${{ matrix.os }} (GitHub Actions) and {{{raw}}} are template source.
      return before !== '$' && before !== '{' && after !== '}';
    case 'bracket': {
      const inner = m.text.slice(1, -1);
      // "[Your Name]" in a drafted letter is deliberate; "[YOUR NAME]" is a slot.
      if (/^your/i.test(inner) && inner !== inner.toUpperCase()) return false;
      return !/\w/.test(before);
    }
    case 'angle':
      return true;
    case 'brace':
      return m.text.length >= 4 && !NOT_BEFORE_BRACE.test(before) && !/[\w{([]/.test(after);
  }
}

function accept(m: PlaceholderMatch, text: string, span: StringSpan): boolean {
  if (!neighboursAllow(m, text, span.start, span.end)) return false;
  const value = text.slice(span.start, span.end);
  if (m.kind === 'mustache' && TEMPLATE_SOURCE.test(value)) return false;
  if (m.kind === 'brace' && (CODE_OR_MATH.test(value) || TEMPLATE_SOURCE.test(value) || value.indexOf('{{') >= 0))
    return false;
  return !inCode(text, span.start, m.start);
}

export function placeholderMessage(m: PlaceholderMatch): string {
  const what =
    m.kind === 'brace'
      ? `${m.text} looks like a template variable that was never filled in`
      : `The placeholder ${m.text} was never filled in`;
  return `${what}: the model would learn to write it literally. Fill in the real value, or substitute every placeholder before training.`;
}

/** Reports content/placeholder for every placeholder in `text` (one record's raw JSON). */
export function checkPlaceholders(text: string, out: LineFindings): void {
  for (const m of findPlaceholders(text)) {
    out.add('content/placeholder', m.start, m.end, placeholderMessage(m), { placeholder: m.text });
  }
}
