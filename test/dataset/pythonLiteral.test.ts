// A JSONL line written by Python's str()/print() instead of json.dumps(): the converter (every escape
// and literal Python defines, refusing what has no single JSON meaning), the jsonl/invalid-json message
// that names the cause, and the quick fix that rewrites the line.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { datasetCodeActions } from '../../server/src/core/dataset/codeActions';
import { pythonLiteralToJson } from '../../server/src/core/dataset/pythonLiteral';
import { DatasetStream } from '../../server/src/core/dataset/stream';
import { DatasetValidator } from '../../server/src/core/dataset/validator';
import type { DatasetValidatorOptions } from '../../server/src/core/dataset/validator';
import type { Finding } from '../../server/src/core/types';
import { validatorOptions } from './options';

const FIXTURES = join(__dirname, '..', 'fixtures', 'datasets');

const opts: DatasetValidatorOptions = validatorOptions();

/** The JSON value a Python literal converts to, or the reason it is refused. */
function convert(text: string): unknown {
  const r = pythonLiteralToJson(text);
  return r.ok ? JSON.parse(r.json) : { refused: r.reason };
}

function validate(lines: string[]): { validator: DatasetValidator; findings: Finding[] } {
  const validator = new DatasetValidator(opts);
  validator.update(0, 0, lines);
  return { validator, findings: validator.findings() };
}

describe('Python literal to JSON', () => {
  it('converts a dict repr, keeping its spacing', () => {
    const r = pythonLiteralToJson("{'role': 'user', 'content': 'hi'}");
    assert.ok(r.ok);
    assert.equal(r.json, '{"role": "user", "content": "hi"}');
    assert.deepEqual(r.causes, ['single quotes']);
  });

  it('reads strings the way Python does: quotes, escapes, unicode', () => {
    // Python picks double quotes for a string with an apostrophe and no double quote.
    assert.deepEqual(convert(`{'a': "It's fine"}`), { a: "It's fine" });
    assert.deepEqual(convert(`{'a': 'Don\\'t say "no"'}`), { a: 'Don\'t say "no"' });
    assert.deepEqual(convert(`{'a': "say \\"hi\\" to Bob's cat"}`), { a: 'say "hi" to Bob\'s cat' });
    assert.deepEqual(convert(`{'a': 'tab\\tnl\\ncr\\rbs\\\\ bell\\a bs\\b ff\\f vt\\v'}`), {
      a: 'tab\tnl\ncr\rbs\\ bell\x07 bs\b ff\f vt\v',
    });
    assert.deepEqual(convert(`{'a': '\\x00\\x7f\\xe9 \\u00e9\\u2028 \\U0001F600 \\101\\0\\12'}`), {
      a: '\x00\x7f\xe9 \u00e9\u2028 😀 A\x00\n',
    });
    assert.deepEqual(convert(`{'a': '您好，我是 {{name}} 😀'}`), { a: '您好，我是 {{name}} 😀' });
    // A lone surrogate, as Python's repr writes it, stays one UTF-16 unit.
    assert.deepEqual(convert(`{'a': '\\ud83d'}`), { a: '\ud83d' });
    // An unknown escape keeps its backslash, as in Python.
    assert.deepEqual(convert(`{'a': '\\d+\\.'}`), { a: '\\d+\\.' });
    // Raw strings keep every backslash; u'' strings are ordinary strings (Python 2 reprs).
    assert.deepEqual(convert(`{u'a': r'\\d+\\'', u"b": u'caf\\xe9'}`), { a: "\\d+\\'", b: 'café' });
    assert.deepEqual(convert(`{'a': '''it's "quoted"'''}`), { a: `it's "quoted"` });
  });

  it('maps True/False/None, tuples, numbers, nesting and trailing commas', () => {
    assert.deepEqual(
      convert(
        "{'ok': True, 'bad': False, 'none': None, 't': (1, 2.5e-05, -3), 'one': (1,), 'empty': (), 'n': [{'x': [[]]}], 'big': 12345678901234567,}",
      ),
      {
        ok: true,
        bad: false,
        none: null,
        t: [1, 2.5e-5, -3],
        one: [1],
        empty: [],
        n: [{ x: [[]] }],
        big: 12345678901234567,
      },
    );
    const r = pythonLiteralToJson("[{'a': (1,)}, {'b': None},]");
    assert.ok(r.ok);
    assert.equal(r.container, 'list');
    assert.deepEqual(r.causes, ['single quotes', 'True/False/None', 'tuples', 'trailing commas']);
  });

  it('refuses what has no single JSON meaning', () => {
    const refused: [string, RegExp][] = [
      ["{'a': b'bytes'}", /bytes literal/],
      ["{'a': f'{x}'}", /f-string/],
      ["{'a', 'b'}", /a set/],
      ["{1: 'one'}", /not a string/],
      ["{None: 'x'}", /not a string/],
      ["{'a': (1)}", /not a tuple/],
      ["{'a': nan}", /'nan' has no JSON equivalent/],
      ["{'a': inf}", /'inf'/],
      ["{'a': datetime.date(2024, 1, 1)}", /'datetime'/],
      ["{'a': {1, 2}}", /not a string/],
      ["{'a': 1_000}", /number/],
      ["{'a': 0x1f}", /number/],
      ["{'a': 1j}", /number/],
      ["{'a': .5}", /unexpected/],
      ["{'a': '\\N{BULLET}'}", /Unicode name/],
      ["{'a': '\\x4'}", /malformed/],
      ["{'a': 'x' 'y'}", /unexpected/],
      ["{'a': 'unterminated}", /unterminated/],
      ["{'a': 1} trailing", /after the end/],
      ["{'a': true}", /'true' has no JSON equivalent/],
      ["'just a string'", /not a dict or a list/],
    ];
    for (const [text, reason] of refused) {
      const r = pythonLiteralToJson(text);
      assert.equal(r.ok, false, text);
      if (!r.ok) assert.match(r.reason, reason, text);
    }
  });

  it('converts LLaMA-Factory records printed with str() to exactly what json.dumps writes', () => {
    const reprs = readFileSync(join(FIXTURES, 'python-repr.jsonl'), 'utf8').split('\n').filter(Boolean);
    const expected = readFileSync(join(FIXTURES, 'python-repr.expected.jsonl'), 'utf8').split('\n').filter(Boolean);
    assert.equal(reprs.length, 6);
    reprs.forEach((line, i) => {
      const r = pythonLiteralToJson(line);
      assert.ok(r.ok, line);
      assert.deepEqual(JSON.parse(r.json), JSON.parse(expected[i]!));
      // Spacing is kept: the converted line is what json.dumps(record, ensure_ascii=False) writes.
      assert.equal(r.json, expected[i]);
    });
  });
});

describe('jsonl/invalid-json on Python literals', () => {
  it('names the cause and offers a fix that writes the JSON line', () => {
    const lines = [
      JSON.stringify({ text: 'a JSON record' }),
      "{'messages': [{'role': 'user', 'content': 'hi'}, {'role': 'assistant', 'content': \"I'm here\", 'done': True}]}",
    ];
    const { validator, findings } = validate(lines);
    const f = findings.filter((x) => x.rule === 'jsonl/invalid-json');
    assert.equal(f.length, 1);
    assert.equal(f[0]!.range.start.line, 1);
    assert.deepEqual([f[0]!.range.start.character, f[0]!.range.end.character], [0, lines[1]!.length]);
    assert.match(
      f[0]!.message,
      /^This line is a Python dict repr \(single quotes, True\/False\/None\), not JSON: write records with json\.dumps\(record\)/,
    );
    const actions = datasetCodeActions(validator, f);
    assert.equal(actions.length, 1);
    assert.equal(actions[0]!.title, 'Convert this Python literal to JSON');
    const edit = actions[0]!.edits[0]!;
    assert.deepEqual(edit.range, { start: { line: 1, character: 0 }, end: { line: 1, character: lines[1]!.length } });
    assert.deepEqual(JSON.parse(edit.newText), {
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: "I'm here", done: true },
      ],
    });
    // Applying the fix leaves a line that the validator accepts.
    validator.update(1, 1, [edit.newText]);
    assert.deepEqual(
      validator.findings().filter((x) => x.rule === 'jsonl/invalid-json'),
      [],
    );
  });

  it('says when a Python line cannot be converted with certainty, and offers no fix', () => {
    const line = "{'text': 'raw bytes', 'blob': b'\\x00\\x01'}";
    const { validator, findings } = validate([line]);
    const f = findings.filter((x) => x.rule === 'jsonl/invalid-json');
    assert.equal(f.length, 1);
    assert.match(f[0]!.message, /looks like a Python dict repr \(single quotes\), not JSON, but cannot be converted/);
    assert.match(f[0]!.message, /bytes literal/);
    assert.equal(f[0]!.range.start.character, line.indexOf(" b'") + 1);
    assert.deepEqual(datasetCodeActions(validator, f), []);
  });

  it('keeps the plain JSON message for broken JSON that is not Python', () => {
    for (const line of ['{"text": "ok" "more": 1}', '{"text": "it\'s" oops}', '{"messages": [}']) {
      const f = validate([line]).findings.filter((x) => x.rule === 'jsonl/invalid-json');
      assert.equal(f.length, 1, line);
      assert.match(f[0]!.message, /^Invalid JSON: /, line);
      assert.equal(f[0]!.data, undefined, line);
    }
  });

  it('gives the CLI stream the same finding', () => {
    const line = "{'text': 'hello', 'ok': None}";
    const out: Finding[] = [];
    const s = new DatasetStream(opts, (f) => out.push(f));
    s.push(new TextEncoder().encode(line + '\n'));
    s.end();
    const f = out.filter((x) => x.rule === 'jsonl/invalid-json');
    assert.equal(f.length, 1);
    assert.match(f[0]!.message, /Python dict repr/);
    assert.equal(f[0]!.data?.['replacement'], '{"text": "hello", "ok": null}');
  });
});
