// Fixture files: a clean file of each format yields no finding through the editor validator, the
// stream and checkEncoding; the defective files yield exactly the findings they were written with.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareFindings } from '../../server/src/core/dataset/context';
import { checkEncoding } from '../../server/src/core/dataset/encoding';
import { validateJsonArrayDataset } from '../../server/src/core/dataset/jsonArray';
import { DatasetStream } from '../../server/src/core/dataset/stream';
import { DatasetValidator } from '../../server/src/core/dataset/validator';
import type { DatasetValidatorOptions } from '../../server/src/core/dataset/validator';
import type { Finding } from '../../server/src/core/types';
import { validatorOptions } from './options';

const DIR = join(__dirname, '..', 'fixtures', 'datasets');
const opts: DatasetValidatorOptions = validatorOptions();

function validateFile(name: string): { editor: Finding[]; stream: Finding[]; validator: DatasetValidator } {
  const bytes = new Uint8Array(readFileSync(join(DIR, name)));
  const validator = new DatasetValidator(opts);
  validator.update(0, 0, new TextDecoder().decode(bytes).split('\n'));
  const stream: Finding[] = [];
  const s = new DatasetStream(opts, (f) => stream.push(f));
  s.push(bytes);
  s.end();
  return { editor: validator.findings(), stream: stream.sort(compareFindings), validator };
}

const summary = (f: Finding[]): string[] => f.map((x) => `${x.range.start.line} ${x.rule}`).sort();

describe('clean fixtures', () => {
  for (const [name, format] of [
    ['clean-alpaca.jsonl', 'alpaca'],
    ['clean-sharegpt.jsonl', 'sharegpt'],
    ['clean-messages.jsonl', 'messages'],
    ['clean-text.jsonl', 'text'],
    ['clean-preference.jsonl', 'preference'],
  ] as const) {
    it(`${name} has no findings and is all ${format}`, () => {
      const { editor, stream, validator } = validateFile(name);
      assert.deepEqual(editor, []);
      assert.deepEqual(stream, []);
      assert.deepEqual(checkEncoding(new Uint8Array(readFileSync(join(DIR, name)))), []);
      const stats = validator.stats();
      assert.equal(stats.formats[format], stats.records);
      assert.equal(stats.acceptance, 1);
      assert.equal(stats.majorityFormat, format);
    });
  }

  it('clean-alpaca.json has no findings', () => {
    const result = validateJsonArrayDataset(readFileSync(join(DIR, 'clean-alpaca.json'), 'utf8'), opts);
    assert.deepEqual(result.findings, []);
    assert.equal(result.stats.records, 2);
    assert.equal(result.stats.acceptance, 1);
  });
});

describe('defective fixtures', () => {
  it('defective.jsonl reports what it was written with, the same in the editor and the stream', () => {
    const { editor, stream, validator } = validateFile('defective.jsonl');
    assert.deepEqual(summary(editor), [
      '0 messages/unknown-role',
      '0 messages/unknown-role',
      '1 jsonl/invalid-json',
      '2 jsonl/blank-line',
      '3 pii/email',
      '3 pii/phone',
      '4 messages/empty-content',
      '4 secret/api-key',
      '5 dedup/exact',
      '5 pii/email',
      '5 pii/phone',
      '6 format/mixed',
      '6 schema/extra-field',
      '7 messages/no-assistant',
    ]);
    assert.deepEqual(summary(stream), summary(editor));
    const stats = validator.stats();
    assert.equal(stats.records, 7);
    assert.equal(stats.blank, 1);
    assert.equal(stats.invalid, 1);
    assert.equal(stats.exactDuplicates, 1);
    // Lines 0, 1, 4, 6 and 7 carry an error; 3 and 5 only warnings.
    assert.equal(stats.acceptance, 2 / 7);
    assert.equal(stats.findingsByRule['pii/email'], 2);
  });

  it('defective.json maps element findings to file positions', () => {
    const result = validateJsonArrayDataset(readFileSync(join(DIR, 'defective.json'), 'utf8'), opts);
    assert.deepEqual(result.findings.map((f) => `${f.range.start.line}:${f.range.start.character} ${f.rule}`).sort(), [
      '2:2 dedup/exact',
      '3:11 content/empty',
      '3:2 format/mixed',
    ]);
    const dup = result.findings.find((f) => f.rule === 'dedup/exact');
    assert.equal(dup?.data?.duplicateOf, 1);
    assert.equal(result.stats.exactDuplicates, 1);
  });

  it('reports broken JSON in a .json dataset at its position', () => {
    const result = validateJsonArrayDataset('[\n  {"text": "a"},\n  {"text" "b"}\n]', opts);
    assert.deepEqual(
      result.findings.map((f) => `${f.range.start.line}:${f.range.start.character} ${f.rule}`),
      ['2:10 jsonl/invalid-json'],
    );
    assert.equal(validateJsonArrayDataset('{"text": "a"}', opts).findings[0]?.rule, 'jsonl/invalid-json');
  });
});
