import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv';
import {
  closestMatch,
  editDistance,
  filterSuppressed,
  LineIndex,
  parseYaml,
  pathAtOffset,
  rangeOfPath,
  syntaxFindings,
  validateYaml,
} from '../../server/src/core/yaml';
import type { Finding } from '../../server/src/core/types';
import { covered } from './helpers';

test('line index: UTF-16 columns after an emoji, CRLF and lone CR line breaks', () => {
  const text = 'a: "😀x"\r\nb: 1\rc: 2\n';
  const lines = new LineIndex(text);
  assert.equal(lines.lineCount, 4);
  const x = text.indexOf('x');
  // The emoji is two UTF-16 code units: x sits at column 6, not 5.
  assert.deepEqual(lines.positionAt(x), { line: 0, character: 6 });
  assert.deepEqual(lines.positionAt(text.indexOf('b')), { line: 1, character: 0 });
  assert.deepEqual(lines.positionAt(text.indexOf('c')), { line: 2, character: 0 });
  assert.equal(lines.offsetAt({ line: 2, character: 0 }), text.indexOf('c'));
  assert.equal(lines.lineText(0), 'a: "😀x"');
  // A column past the end of a line stops before its line break.
  assert.equal(lines.offsetAt({ line: 0, character: 99 }), text.indexOf('\r'));
  for (let offset = 0; offset <= text.length; offset++) {
    if (text[offset - 1] === '\r' && text[offset] === '\n') continue; // inside CRLF: no position of its own
    assert.equal(lines.offsetAt(lines.positionAt(offset)), offset);
  }
});

test('rangeOfPath: keys, values, sequence items, and fallbacks, with an emoji and CRLF', () => {
  const text = '# 😀 comment\r\nroot:\r\n  name: "😀 x"\r\n  list: [a, bb]\r\n  empty:\r\n';
  const parsed = parseYaml(text);
  const at = (path: (string | number)[], which: 'key' | 'value') =>
    covered(text, { range: rangeOfPath(parsed.doc, parsed.lines, path, which) });
  assert.equal(at(['root', 'name'], 'key'), 'name');
  assert.equal(at(['root', 'name'], 'value'), '"😀 x"');
  const nameValue = rangeOfPath(parsed.doc, parsed.lines, ['root', 'name'], 'value');
  assert.deepEqual(nameValue, { start: { line: 2, character: 8 }, end: { line: 2, character: 14 } });
  assert.equal(at(['root', 'list', 1], 'value'), 'bb');
  assert.equal(at(['root', 'empty'], 'value'), 'empty', 'an empty value falls back to its key');
  assert.equal(at(['root', 'missing', 'deeper'], 'key'), 'root', 'a missing path falls back to the deepest key');
  const location = pathAtOffset(parsed.doc, text.indexOf('bb'));
  assert.deepEqual(location?.path, ['root', 'list', 1]);
  assert.equal(pathAtOffset(parsed.doc, text.indexOf('name'))?.on, 'key');
});

test('syntax errors become findings under the caller rule id', () => {
  const text = 'a: [1, 2\nb: c: d\n';
  const findings = syntaxFindings(parseYaml(text), 'x/syntax', 'error');
  assert.ok(findings.length > 0);
  assert.ok(findings.every((f) => f.rule === 'x/syntax' && f.message.startsWith('YAML syntax error')));
  assert.deepEqual(syntaxFindings(parseYaml('a: 1\n'), 'x/syntax', 'error'), []);
});

test('validateYaml: unknown key at the key with did-you-mean, missing key at the parent, wrong value at the value', () => {
  const schema = {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string' },
      options: {
        type: 'object',
        additionalProperties: false,
        required: ['level'],
        properties: { level: { enum: ['low', 'high'] }, verbose: { type: 'boolean' } },
      },
    },
  };
  const validate = new Ajv({ allErrors: true, verbose: true }).compile(schema);
  const text = 'options:\n  verbsoe: true\n  colour: red\n';
  const parsed = parseYaml(text);
  const findings = validateYaml(parsed, validate, {
    ruleFor: (e) =>
      e.keyword === 'additionalProperties' ? 't/unknown' : e.keyword === 'required' ? 't/missing' : 't/value',
    severityOf: () => 'error',
  });
  const unknown = findings.filter((f) => f.rule === 't/unknown');
  assert.deepEqual(unknown.map((f) => covered(text, f)).sort(), ['colour', 'verbsoe']);
  const typo = unknown.find((f) => covered(text, f) === 'verbsoe')!;
  assert.match(typo.message, /Did you mean "verbose"\?/);
  assert.deepEqual(
    { key: typo.data?.['key'], suggestion: typo.data?.['suggestion'] },
    { key: 'verbsoe', suggestion: 'verbose' },
  );
  const colour = unknown.find((f) => covered(text, f) === 'colour')!;
  assert.equal(colour.data?.['suggestion'], undefined);
  assert.match(colour.message, /Allowed keys/);
  const missing = findings.filter((f) => f.rule === 't/missing');
  const missingAt = Object.fromEntries(missing.map((f) => [String(f.data?.['key']), covered(text, f)]));
  assert.deepEqual(
    missingAt,
    { name: 'options:', level: 'options' },
    'name at the first line, level at its parent key',
  );

  const wrong = validateYaml(parseYaml('name: x\noptions:\n  level: medium\n'), validate, {
    ruleFor: () => 't/value',
    severityOf: () => 'warning',
  });
  assert.equal(wrong.length, 1);
  assert.equal(covered('name: x\noptions:\n  level: medium\n', wrong[0]!), 'medium');
  assert.match(wrong[0]!.message, /"low", "high"/);
  const off = validateYaml(parseYaml('name: 1\n'), validate, { ruleFor: () => 't/value', severityOf: () => undefined });
  assert.deepEqual(off, []);
});

test('Damerau-Levenshtein: a transposition costs one edit; suggestions only when close', () => {
  assert.equal(editDistance('verbose', 'verbsoe'), 1);
  assert.equal(editDistance('abc', 'abc'), 0);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(closestMatch('learning_rte', ['learning_rate', 'warmup_ratio']), 'learning_rate');
  assert.equal(closestMatch('Epochs', ['epochs', 'seed']), 'epochs');
  assert.equal(closestMatch('xyz', ['learning_rate', 'seed']), undefined);
});

test('suppression comments: next line, same line, file-wide, by rule or all', () => {
  const text = [
    '# modelfactory-disable a/file',
    'k1: v # modelfactory-disable-line a/one',
    '# modelfactory-disable-next-line',
    'k2: v',
    'k3: v # modelfactory-disable-line a/other, a/two',
    'k4: v',
    '# modelfactory-disable a/late',
    'k5: v',
  ].join('\n');
  const lines = new LineIndex(text);
  const finding = (rule: string, line: number): Finding => ({
    rule,
    severity: 'error',
    range: { start: { line, character: 0 }, end: { line, character: 2 } },
    message: '',
  });
  const kept = filterSuppressed(
    [
      finding('a/file', 5),
      finding('a/one', 1),
      finding('a/one', 5),
      finding('a/any', 3),
      finding('a/two', 4),
      finding('a/one', 4),
      finding('a/late', 7),
    ],
    lines,
  );
  assert.deepEqual(
    kept.map((f) => `${f.rule}@${f.range.start.line}`),
    ['a/one@5', 'a/one@4', 'a/late@7'],
    'a file-wide directive after content does not count',
  );
});

test('the config and YAML cores import no fs, no Node built-ins, no VS Code and no LSP', () => {
  const root = join(__dirname, '..', '..', 'server', 'src', 'core');
  for (const folder of ['config', 'yaml']) {
    for (const file of readdirSync(join(root, folder))) {
      const source = readFileSync(join(root, folder, file), 'utf8');
      const imports = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
      for (const name of imports) {
        assert.doesNotMatch(name, /^(node:|fs$|fs\/|path$|os$|vscode)/, `${folder}/${file} imports ${name}`);
      }
    }
  }
});
