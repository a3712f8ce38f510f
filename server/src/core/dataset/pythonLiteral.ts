// Python literal syntax on a JSONL line: `str(record)` or `print(record)` instead of `json.dumps`
// writes `{'role': 'user', 'content': 'hi', 'done': True}`. This reader accepts exactly the Python
// literals that have one JSON meaning (dicts with string keys, lists, tuples, strings with every
// escape Python defines, ints, floats, True/False/None) and rewrites them token by token, keeping the
// line's spacing. Anything else (bytes, sets, f-strings, nan, names, calls, `\N{...}` escapes, a
// parenthesised value that is not a tuple) makes it refuse: no conversion is offered that is not the
// value Python would read.

/** What marked the text as Python rather than JSON, in the order the message lists them. */
export type PythonCause = 'single quotes' | 'True/False/None' | 'tuples' | 'u-prefixed strings' | 'trailing commas';

export type PythonConversion =
  | { ok: true; json: string; container: 'dict' | 'list'; causes: PythonCause[] }
  | {
      ok: false;
      /** Why the text cannot be converted with certainty, for the message. */
      reason: string;
      offset: number;
      /** Python-only syntax seen before the failure (the line is probably Python, not broken JSON). */
      causes: PythonCause[];
      container: 'dict' | 'list' | undefined;
    };

class Refused extends Error {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {
    super(reason);
  }
}

const CAUSE_ORDER: readonly PythonCause[] = [
  'single quotes',
  'True/False/None',
  'tuples',
  'u-prefixed strings',
  'trailing commas',
];

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

const NAMES: Readonly<Record<string, string>> = { True: 'true', False: 'false', None: 'null' };

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isHex = (c: string | undefined) => c !== undefined && /^[0-9A-Fa-f]$/.test(c);
const isNameChar = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9_]$/.test(c);

type ValueKind = 'dict' | 'list' | 'string' | 'number' | 'literal';
type Separated = 'comma' | 'closed' | 'trailing';

/** Python's string prefixes; u and r have a JSON meaning, b and f do not. */
const STRING_PREFIX = /^(?:[uUrR]|[bBfF]|[bB][rR]|[rR][bB]|[fF][rR]|[rR][fF])$/;

class Converter {
  private pos = 0;
  private out = '';
  readonly causes = new Set<PythonCause>();

  constructor(private readonly text: string) {}

  convert(): { json: string; container: 'dict' | 'list' } {
    this.space();
    const c = this.text[this.pos];
    if (c !== '{' && c !== '[' && c !== '(') throw new Refused('the line is not a dict or a list', this.pos);
    const kind = this.value();
    this.space();
    if (this.pos < this.text.length) throw new Refused('text after the end of the value', this.pos);
    return { json: this.out, container: kind === 'dict' ? 'dict' : 'list' };
  }

  /** Copies spaces and tabs (a JSONL line has no line breaks). */
  private space(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c !== ' ' && c !== '\t') break;
      this.out += c;
      this.pos++;
    }
  }

  private value(): ValueKind {
    const c = this.text[this.pos];
    if (c === undefined) throw new Refused('the line ends where a value is expected', this.pos);
    if (c === '{') return this.dict();
    if (c === '[' || c === '(') return this.sequence(c === '[' ? ']' : ')');
    if (c === "'" || c === '"') return this.string('');
    if (c === '-' || isDigit(c)) return this.number();
    if (/[A-Za-z_]/.test(c)) {
      let end = this.pos;
      while (isNameChar(this.text[end])) end++;
      const name = this.text.slice(this.pos, end);
      const next = this.text[end];
      if ((next === "'" || next === '"') && STRING_PREFIX.test(name)) return this.string(name);
      const literal = NAMES[name];
      if (literal === undefined) throw new Refused(`'${name}' has no JSON equivalent`, this.pos);
      this.causes.add('True/False/None');
      this.out += literal;
      this.pos = end;
      return 'literal';
    }
    throw new Refused(`unexpected '${c}'`, this.pos);
  }

  private dict(): ValueKind {
    this.out += '{';
    this.pos++;
    this.space();
    if (this.text[this.pos] === '}') {
      this.out += '}';
      this.pos++;
      return 'dict';
    }
    for (;;) {
      const keyAt = this.pos;
      if (this.value() !== 'string')
        throw new Refused('a dict key that is not a string (JSON keys are strings)', keyAt);
      this.space();
      const c = this.text[this.pos];
      // `{'a', 'b'}` is a set, which JSON cannot hold.
      if (c === ',' || c === '}') throw new Refused('a set, which JSON cannot hold', keyAt);
      if (c !== ':') throw new Refused(c === undefined ? 'the line ends inside a dict' : `unexpected '${c}'`, this.pos);
      this.out += ':';
      this.pos++;
      this.space();
      this.value();
      const sep = this.separator('}');
      if (sep === 'trailing') this.causes.add('trailing commas');
      if (sep !== 'comma') return 'dict';
    }
  }

  /** A list or a tuple (both JSON arrays); a parenthesised value without a comma is not a tuple. */
  private sequence(close: ']' | ')'): ValueKind {
    const open = this.pos;
    if (close === ')') this.causes.add('tuples');
    this.out += '[';
    this.pos++;
    this.space();
    if (this.text[this.pos] === close) {
      this.out += ']';
      this.pos++;
      return 'list';
    }
    for (let items = 1; ; items++) {
      this.value();
      const sep = this.separator(close);
      if (sep === 'comma') continue;
      if (close === ')' && items === 1 && sep === 'closed') {
        throw new Refused('a value in parentheses, which is not a tuple', open);
      }
      // `(1,)` is how Python writes a tuple of one; `[1, 2,]` is a trailing comma.
      if (sep === 'trailing' && !(close === ')' && items === 1)) this.causes.add('trailing commas');
      return 'list';
    }
  }

  /** After an item: a comma before the next item, the closer, or a trailing comma and the closer (dropped). */
  private separator(close: '}' | ']' | ')'): Separated {
    const jsonClose = close === ')' ? ']' : close;
    this.space();
    const c = this.text[this.pos];
    if (c === close) {
      this.out += jsonClose;
      this.pos++;
      return 'closed';
    }
    if (c !== ',') {
      throw new Refused(c === undefined ? 'the line ends inside a container' : `unexpected '${c}'`, this.pos);
    }
    let next = this.pos + 1;
    while (this.text[next] === ' ' || this.text[next] === '\t') next++;
    if (this.text[next] === close) {
      this.out += this.text.slice(this.pos + 1, next) + jsonClose;
      this.pos = next + 1;
      return 'trailing';
    }
    this.out += ',';
    this.pos++;
    this.space();
    return 'comma';
  }

  private number(): ValueKind {
    const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(this.text.slice(this.pos, this.pos + 400));
    const after = m ? this.text[this.pos + m[0].length] : undefined;
    // 1_000, 0x1f, 1j, 10L, 1., .5, - 1: Python (or Python 2) numbers that JSON does not write so.
    if (!m || (after !== undefined && /[A-Za-z0-9_.]/.test(after))) {
      throw new Refused('a number JSON does not write that way', this.pos);
    }
    this.out += m[0];
    this.pos += m[0].length;
    return 'number';
  }

  private string(prefix: string): ValueKind {
    const start = this.pos;
    const p = prefix.toLowerCase();
    if (p.includes('b')) throw new Refused("a bytes literal (b'...'), which JSON cannot hold", start);
    if (p.includes('f')) throw new Refused('an f-string, whose value is not in the text', start);
    if (p === 'u') this.causes.add('u-prefixed strings');
    const raw = p === 'r';
    this.pos += prefix.length;
    const quote = this.text[this.pos] as "'" | '"';
    if (quote === "'") this.causes.add('single quotes');
    const delimiter = this.text.startsWith(quote.repeat(3), this.pos) ? quote.repeat(3) : quote;
    this.pos += delimiter.length;
    let value = '';
    for (;;) {
      if (this.pos >= this.text.length) throw new Refused('an unterminated string', start);
      if (this.text.startsWith(delimiter, this.pos)) {
        this.pos += delimiter.length;
        break;
      }
      const c = this.text[this.pos] as string;
      if (c !== '\\') {
        value += c;
        this.pos++;
        continue;
      }
      const e = this.text[this.pos + 1];
      if (e === undefined) throw new Refused('an unterminated string', start);
      if (raw) {
        // A raw string keeps its backslashes; one only stops the next quote from ending the string.
        value += c + e;
        this.pos += 2;
        continue;
      }
      value += this.escape(e);
    }
    this.out += JSON.stringify(value);
    return 'string';
  }

  /** Decodes the escape at `pos` (a backslash followed by `e`) and moves past it. */
  private escape(e: string): string {
    const at = this.pos;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      this.pos += 2;
      return simple;
    }
    if (e >= '0' && e <= '7') {
      let end = this.pos + 2;
      while (end < this.pos + 4 && /[0-7]/.test(this.text[end] ?? '')) end++;
      const code = parseInt(this.text.slice(this.pos + 1, end), 8);
      this.pos = end;
      return String.fromCharCode(code);
    }
    const hexLength = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLength > 0) {
      const digits = this.text.slice(this.pos + 2, this.pos + 2 + hexLength);
      if (digits.length !== hexLength || ![...digits].every(isHex)) {
        throw new Refused(`a malformed \\${e} escape`, at);
      }
      const code = parseInt(digits, 16);
      if (code > 0x10ffff) throw new Refused(`a \\${e} escape beyond Unicode`, at);
      this.pos += 2 + hexLength;
      return String.fromCodePoint(code);
    }
    if (e === 'N') throw new Refused('a \\N{...} escape (a character by its Unicode name)', at);
    // Python keeps an unknown escape as it is: the backslash and the character.
    this.pos += 2;
    return '\\' + e;
  }
}

/**
 * Converts one line of Python literal syntax to JSON. Succeeds only when the line is a dict or a
 * list whose every part has exactly one JSON spelling, and the result parses as JSON.
 */
export function pythonLiteralToJson(text: string): PythonConversion {
  const converter = new Converter(text);
  const causesOf = () => CAUSE_ORDER.filter((c) => converter.causes.has(c));
  const first = /\S/.exec(text)?.[0];
  const container = first === '{' ? 'dict' : first === '[' || first === '(' ? 'list' : undefined;
  try {
    const result = converter.convert();
    JSON.parse(result.json);
    return { ok: true, json: result.json, container: result.container, causes: causesOf() };
  } catch (err) {
    if (err instanceof Refused)
      return { ok: false, reason: err.reason, offset: err.offset, causes: causesOf(), container };
    return { ok: false, reason: 'the converted text is not JSON', offset: 0, causes: causesOf(), container };
  }
}

/** Cheap test before trying a conversion: a line that JSON.parse refused and that could be Python. */
export function mightBePythonLiteral(text: string): boolean {
  const m = /^[ \t]*[{[(]/.exec(text);
  if (!m) return false;
  return text.indexOf("'") >= 0 || /\b(?:True|False|None)\b/.test(text) || text.indexOf('(') >= 0;
}
