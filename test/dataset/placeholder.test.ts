// content/placeholder: template slots left unfilled, positive and negative, through the editor
// validator, the CLI's stream and `.json` arrays, on LLaMA-Factory's identity data and on look-alikes
// that must not fire (code, math, JSON in text, stage directions, templates asked for).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { validateJsonArrayDataset } from '../../server/src/core/dataset/jsonArray';
import { DatasetStream } from '../../server/src/core/dataset/stream';
import { DatasetValidator } from '../../server/src/core/dataset/validator';
import type { DatasetValidatorOptions } from '../../server/src/core/dataset/validator';
import { HINT_OPENER, hashJsonText } from '../../server/src/core/dataset/dedupExact';
import {
  findPlaceholders,
  findPlaceholdersFromEveryMatch,
  stringSpans,
} from '../../server/src/core/dataset/placeholder';
import { effectiveSeverity, RULES_BY_ID } from '../../server/src/core/rules';
import type { Finding } from '../../server/src/core/types';
import { validatorOptions } from './options';

const FIXTURES = join(__dirname, '..', 'fixtures', 'datasets');

const opts: DatasetValidatorOptions = validatorOptions();

function editor(lines: string[], o: DatasetValidatorOptions = opts): Finding[] {
  const v = new DatasetValidator(o);
  v.update(0, 0, lines);
  return v.findings().filter((f) => f.rule === 'content/placeholder');
}

function streamed(lines: string[]): Finding[] {
  const out: Finding[] = [];
  const s = new DatasetStream(opts, (f) => out.push(f));
  s.push(new TextEncoder().encode(lines.join('\n')));
  s.end();
  return out.filter((f) => f.rule === 'content/placeholder');
}

const alpaca = (output: string, instruction = 'Who are you?') => JSON.stringify({ instruction, input: '', output });
const chat = (user: string, assistant: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
  });

/** The placeholders found in one record whose answer is `text`, as the text each range covers. */
function found(text: string, instruction?: string): string[] {
  const line = alpaca(text, instruction);
  return editor([line]).map((f) => line.slice(f.range.start.character, f.range.end.character));
}

describe('content/placeholder', () => {
  it('is registered as a dataset warning', () => {
    const info = RULES_BY_ID.get('content/placeholder');
    assert.equal(info?.defaultSeverity, 'warning');
    assert.equal(info?.category, 'dataset');
  });

  it("finds LLaMA-Factory's {{name}} and {{author}} at their exact columns, with a message that says how to fix it", () => {
    const line = alpaca('Hello! I am {{name}}, an AI assistant developed by {{author}}. How can I assist you today?');
    const f = editor([line]);
    assert.deepEqual(
      f.map((x) => line.slice(x.range.start.character, x.range.end.character)),
      ['{{name}}', '{{author}}'],
    );
    assert.equal(f[0]!.severity, 'warning');
    assert.match(f[0]!.message, /\{\{name\}\} was never filled in/);
    assert.match(f[0]!.message, /Fill in the real value, or substitute every placeholder before training/);
    assert.deepEqual(f[0]!.data, { placeholder: '{{name}}' });
  });

  it('finds each spelling it is meant for', () => {
    assert.deepEqual(found('Hi {{ author }}, meet {{user.name}}.'), ['{{ author }}', '{{user.name}}']);
    assert.deepEqual(found('Sincerely,\n[INSERT NAME]'), ['[INSERT NAME]']);
    assert.deepEqual(found('Read these:\n1. [Insert Blog Post 1]\n2. [TODO]'), ['[Insert Blog Post 1]', '[TODO]']);
    assert.deepEqual(found('Type [Enter your name] here, signed [YOUR NAME]'), ['[Enter your name]', '[YOUR NAME]']);
    assert.deepEqual(found('我是 <NAME>，一个由 <AUTHOR> 开发的 AI 助手'), ['<NAME>', '<AUTHOR>']);
    assert.deepEqual(found('Dear {name}, your order {order_id} has shipped.'), ['{name}', '{order_id}']);
    assert.deepEqual(found('Dear\n{customer_name},'), ['{customer_name}']);
    assert.deepEqual(found('Send it to [PLACEHOLDER] today.'), ['[PLACEHOLDER]']);
  });

  it('stays quiet on code, math, JSON in text and deliberate conventions', () => {
    const quiet = [
      'Use {"json": 1} in the request body, or {"a": {"b": 2}}.',
      'function f() { return x; } and if (a) {b = 1;}',
      'The derivative is \\frac{a}{b} with \\text{speed} in m/s, x_{i} and the set {x}.',
      'print(f"Hello {name}")',
      'Write "Hello {name}".format(name=user) to fill it.',
      'Put `{{name}}` in the prompt, or `{name}`.',
      '```jinja\n{{ messages[0].content }}\nHello {{ name }}\n```',
      '{% for m in messages %}{{ m.content }}{% endfor %}',
      'runs-on: ${{ matrix.os }}',
      'GET /users/{id} returns one user.',
      'Best regards,\n[Your Name]',
      'Press [Enter] to continue; see [insert link](https://example.com) and items[insert_at].',
      '[Enter CASSIUS]\nCASSIUS: Will you go see the order of the course?',
      'ssh <USERNAME>@<IP_ADDRESS> df -h, then fill the <MASK> token; <image> and <s> are special.',
      'The set {apple, banana} and {{ }} and {x}.',
      'Handlebars: {{#each items}}{{this}}{{/each}}',
    ];
    for (const text of quiet) assert.deepEqual(found(text), [], text);
  });

  it('finds every string literal of a line, keys told apart, whatever its quotes and backslashes', () => {
    // The plain way: a character at a time, a backslash taking the character after it along.
    const plainSpans = (text: string) => {
      const spans: { start: number; end: number; isKey: boolean }[] = [];
      for (let i = 0; i < text.length; i++) {
        if (text[i] !== '"') continue;
        let j = i + 1;
        while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
        const rest = text.slice(j + 1).trimStart();
        spans.push({ start: i + 1, end: j, isKey: rest.startsWith(':') });
        i = j;
      }
      return spans;
    };
    const unit = fc.constantFrom('a', '"', '\\', '{', '}', ':', ' ', 'n', 'é', '中');
    const value = fc.letrec((tie) => ({
      value: fc.oneof(
        fc.string({ unit, maxLength: 8 }),
        fc.integer(),
        fc.array(tie('value'), { maxLength: 3 }),
        fc.dictionary(fc.string({ unit, maxLength: 4 }), tie('value'), { maxKeys: 3 }),
      ),
    })).value;
    fc.assert(
      fc.property(value, fc.boolean(), (v, spaced) => {
        // Spaced: indented, and a space before each colon (legal JSON, rare in files, and harder to read).
        const text = spaced ? JSON.stringify(v, null, 1).replace(/":/g, '" :') : JSON.stringify(v);
        assert.deepEqual(stringSpans(text, text.length), plainSpans(text), text);
      }),
      { numRuns: 2000 },
    );
  });

  it('is skipped only on lines whose hash pass saw no opener, where it would find nothing', () => {
    // The exact hash's pass over the line sets HINT_OPENER for '{', '[' or '<' before a letter, or '{{';
    // the check runs only when it is set. Lines built from pieces of slots and near misses.
    const piece = fc.constantFrom(
      '{{name}}',
      '[insert',
      '[Your Name]',
      '<NAME>',
      '{user_id}',
      '{ x }',
      '[1]',
      '<3',
      'text ',
      '{',
      '[',
      '<',
      'a',
      'T',
    );
    let found = 0;
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), (pieces) => {
        const line = JSON.stringify({ messages: [{ role: 'user', content: pieces.join('') }] });
        const { hints } = hashJsonText(line, JSON.parse(line));
        const slots = findPlaceholders(line);
        if (slots.length > 0) found++;
        if ((hints & HINT_OPENER) === 0) assert.deepEqual(slots, [], line);
      }),
      { numRuns: 3000 },
    );
    assert.ok(found > 300, `only ${found} lines had a placeholder`);
  });

  it('finds what the rule as written finds, trying braces only where the character before allows a slot', () => {
    // Lines of slots, code around braces (x_{i}, ${v}, config_{name}), escapes, quotes and words that
    // make a record talk about templates, also inside refused braces ({template} after an underscore).
    const piece = fc.constantFrom(
      '{name}',
      '{user_id}',
      '_{name}',
      '${v}',
      'x_{template}',
      '{{name}}',
      '{{{raw}}}',
      '[INSERT NAME]',
      '<NAME>',
      '\\n{city}',
      '\\\\{city}',
      '\\"{quoted}',
      '`{code}`',
      ' template ',
      'a{b}',
      '/{id}',
      '{ x }',
      '{ab}{cd}',
      ' ',
      'text',
      '=',
    );
    let found = 0;
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.boolean(), (pieces, asKey) => {
        const text = pieces.join('');
        const line = asKey ? `{"${text}": "${text}", "text": "${text}"}` : JSON.stringify({ text: pieces.join('') });
        const slots = findPlaceholders(line);
        if (slots.length > 0) found++;
        assert.deepEqual(slots, findPlaceholdersFromEveryMatch(line), line);
      }),
      { numRuns: 5000 },
    );
    assert.ok(found > 500, `only ${found} lines had a placeholder`);
  });

  it('lets a record that asks for a template keep its slots', () => {
    // LLaMA-Factory's alpaca_en_demo.json: the answer to this instruction is a template.
    assert.deepEqual(
      found(
        'Customer Service Interaction Template:\n\nDate: [insert date]\nCustomer Name: [insert name]',
        'Generate an appropriate template to describe a customer service interaction',
      ),
      [],
    );
    assert.deepEqual(found('Fill in the blanks: Dear {{name}}, ...', 'Write a form letter'), []);
  });

  it('ignores object keys and looks in every text field (system prompts, conversations)', () => {
    assert.deepEqual(editor(['{"text": "plain", "{{name}}": 1}']), []);
    const line = JSON.stringify({
      messages: [
        { role: 'system', content: 'You are {{name}}.' },
        { role: 'user', content: 'Who are you?' },
        { role: 'assistant', content: 'I am <NAME>.' },
      ],
    });
    assert.deepEqual(
      editor([line]).map((f) => line.slice(f.range.start.character, f.range.end.character)),
      ['{{name}}', '<NAME>'],
    );
  });

  it('is the same through the CLI stream, and can be turned off', () => {
    const lines = [chat('Who made you?', 'I was made by {{author}}.'), chat('Hi', 'Hello there.')];
    const a = editor(lines);
    const b = streamed(lines);
    assert.deepEqual(
      b.map((f) => [f.range.start.line, f.range.start.character, f.range.end.character]),
      a.map((f) => [f.range.start.line, f.range.start.character, f.range.end.character]),
    );
    assert.equal(a.length, 1);
    const off = { ...opts, severityOf: (rule: string) => effectiveSeverity(rule, { 'content/placeholder': 'off' }) };
    assert.deepEqual(editor(lines, off), []);
  });

  it('reports the identity fixture (a .json array) on the placeholder itself, and nothing on its clean record', () => {
    const text = readFileSync(join(FIXTURES, 'identity-placeholders.json'), 'utf8');
    const result = validateJsonArrayDataset(text, opts);
    const f = result.findings.filter((x) => x.rule === 'content/placeholder');
    const lines = text.split('\n');
    const covered = f.map((x) => lines[x.range.start.line]!.slice(x.range.start.character, x.range.end.character));
    assert.deepEqual(covered, ['{{name}}', '{{author}}', '{{name}}', '{{name}}', '{{author}}']);
    // The fourth record (no placeholder) has none of them.
    const lastRecordLine = lines.findIndex((l) => l.includes('保护用户隐私'));
    assert.ok(f.every((x) => x.range.start.line < lastRecordLine));
    assert.deepEqual(
      result.findings.filter((x) => x.rule !== 'content/placeholder'),
      [],
    );
  });
});
