// The record schemas are compiled with their references inlined (schema.ts withRefsInlined): one
// function per format, no call and no allocation per message. The inlined schemas must judge every
// record as the schemas as written do: the same verdict and the same errors, at the same places.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Ajv from 'ajv';
import fc from 'fast-check';
import { RECORD_SCHEMAS, formatValidator, withRefsInlined } from '../../server/src/core/dataset/schema';
import type { RecordFormat } from '../../server/src/core/dataset/formats';

// Every property name the record schemas define, and one they do not.
const KEYS = [
  ...new Set(
    JSON.stringify(Object.values(RECORD_SCHEMAS))
      .match(/"properties":\{[^]*?\}\}/g)
      ?.join('')
      .match(/"(\w+)":\{/g)
      ?.map((k) => k.slice(1, -3)) ?? [],
  ),
  'source',
];

// Keys whose values the schemas describe further (lists of messages or turns, calls, functions), drawn more often.
const NESTING = ['messages', 'conversations', 'chosen', 'rejected', 'prompt', 'completion', 'preferred_output'];
NESTING.push('input', 'tool_calls', 'function', 'function_call', 'content', 'history', 'role', 'from', 'value');

const leaf = fc.oneof(
  fc.constantFrom('', 'user', 'assistant', 'gpt', 'human', 'text', '{"a": 1}'),
  fc.constantFrom(0, 1, 2, -1, 0.5),
  fc.boolean(),
  fc.constant(null),
);
// Lists of records of those keys, a few levels deep: messages, their tool calls, their functions.
const { record } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'medium', maxDepth: 5 }, leaf, tie('list'), tie('record')),
  list: fc.array(tie('record'), { maxLength: 3 }),
  record: fc.dictionary(
    fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...NESTING) }, fc.constantFrom(...KEYS)),
    tie('value'),
    {
      maxKeys: 4,
    },
  ),
}));

/** An error as the linter reads it (schema.ts reportError): where, which keyword, its parameters. */
function errorsOf(validate: (v: unknown) => boolean, value: unknown): unknown[] {
  if (validate(value)) return [];
  const errors = (validate as unknown as { errors: { instancePath: string; keyword: string; params: object }[] })
    .errors;
  return errors.map((e) => ({ instancePath: e.instancePath, keyword: e.keyword, params: e.params }));
}

describe('record schemas with references inlined', () => {
  it('have no reference left', () => {
    for (const schema of Object.values(RECORD_SCHEMAS)) {
      const inlined = { ...(withRefsInlined(schema) as Record<string, unknown>) };
      delete inlined.definitions; // kept as written: Ajv compiles only what the schema reaches
      assert.doesNotMatch(JSON.stringify(inlined), /\$ref/);
    }
  });

  const written = new Ajv({ allErrors: true, unicode: false, strict: false, validateSchema: false, logger: false });
  for (const schema of Object.values(RECORD_SCHEMAS)) written.addSchema(schema);
  const formats = Object.keys(RECORD_SCHEMAS) as RecordFormat[];

  it('judge the conformance corpus as the schemas as written do, under every format', () => {
    const corpus = readFileSync(join(__dirname, '..', 'conformance', 'records.jsonl'), 'utf8');
    const records = corpus
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => (JSON.parse(line) as { record: unknown }).record);
    let valid = 0;
    for (const value of records) {
      for (const format of formats) {
        const asWritten = written.getSchema((RECORD_SCHEMAS[format] as { $id: string }).$id)!;
        const expected = errorsOf(asWritten, value);
        assert.deepEqual(errorsOf(formatValidator(format), value), expected, `${format}: ${JSON.stringify(value)}`);
        if (expected.length === 0) valid++;
      }
    }
    assert.ok(records.length >= 40 && valid >= 30, `${records.length} records, ${valid} valid pairs`);
  });

  it('give random records the verdict and errors of the schemas as written', () => {
    let invalid = 0;
    let deep = 0;
    fc.assert(
      fc.property(record, fc.constantFrom(...formats), (value, format) => {
        const asWritten = written.getSchema((RECORD_SCHEMAS[format] as { $id: string }).$id)!;
        const expected = errorsOf(asWritten, value);
        assert.deepEqual(errorsOf(formatValidator(format), value), expected, `${format}: ${JSON.stringify(value)}`);
        if (expected.length > 0) invalid++;
        if (expected.some((e) => /\/\d/.test((e as { instancePath: string }).instancePath))) deep++;
      }),
      { numRuns: 10000 },
    );
    // The records reach into the referenced definitions (list items: messages, turns, tool calls).
    assert.ok(invalid > 1000 && deep > 400, `${invalid} invalid, ${deep} with an error inside a list item`);
  });

  it('refuses a recursive reference', () => {
    const recursive = {
      $id: 'loop.json',
      definitions: { a: { items: { $ref: '#/definitions/a' } } },
      items: { $ref: '#/definitions/a' },
    };
    assert.throws(() => withRefsInlined(recursive), /recursive reference/);
  });
});
