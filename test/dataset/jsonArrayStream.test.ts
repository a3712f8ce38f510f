// One cross-record validator: the editor's incremental validator, the JSONL stream, a `.json` array in
// memory and a `.json` array streamed in chunks of any size give the same findings and statistics on
// the same records; the streamed array holds no element over its cap and survives any truncation.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareFindings } from '../../server/src/core/dataset/context';
import { validateJsonArrayDataset } from '../../server/src/core/dataset/jsonArray';
import { JsonArrayScanner, JsonArrayStream } from '../../server/src/core/dataset/jsonArrayStream';
import type { DatasetStats } from '../../server/src/core/dataset/stats';
import { DatasetStream } from '../../server/src/core/dataset/stream';
import { DatasetValidator } from '../../server/src/core/dataset/validator';
import type { Finding } from '../../server/src/core/types';
import { validatorOptions } from './options';
import type { JsonArrayCheckerOptions } from '../../server/src/core/dataset/jsonArrayRecords';
import { effectiveSeverity } from '../../server/src/core/rules';

const opts = validatorOptions({ maxTokens: 60, minChars: 3, nearThreshold: 0.7 });

const story =
  'the quick brown fox jumps over the lazy dog while the farmer watches from the old wooden barn near the river';
const chat = (u: string, a: string): string =>
  JSON.stringify({
    messages: [
      { role: 'user', content: u },
      { role: 'assistant', content: a },
    ],
  });

// Records chosen to collide: exact duplicates in other formatting, near duplicates, other formats, defects.
const POOL = [
  chat(story, 'A fox and a dog.'),
  chat(story, 'A fox and a dog.').replace(/,/g, ', '),
  chat(story.replace('lazy', 'sleepy'), 'A fox and a dog.'),
  chat(story.replace('old wooden', 'big red'), 'A fox and a dog.'),
  chat('what is two plus two', 'four'),
  chat('what is two plus two', 'four'),
  chat('café naïve 漢字 straße', 'ünïcödé answer'),
  '{"text": "' + story + '"}',
  '{"text": "' + story.replace('river', 'stream') + '"}',
  '{"instruction": "Summarise", "input": "' + story + '", "output": "fox"}',
  '{"instruction": "x", "input": "", "output": ""}',
  '{"conversations": [{"from": "human", "value": "hi"}, {"from": "bot", "value": "hey"}]}',
  '{"text": "mail me: ann@acme-corp.org"}',
  '{"text": "' + 'long words here '.repeat(30) + '"}',
  '{"foo": 1}',
  '{"text": 2}',
];

const recordArb = fc.oneof(
  fc.constantFrom(...POOL),
  fc.string({ maxLength: 40 }).map((s) => JSON.stringify({ text: s })),
);

/** Findings of records as JSONL in the editor. */
function editorFindings(records: string[]): { findings: Finding[]; stats: DatasetStats } {
  const v = new DatasetValidator(opts);
  v.update(0, 0, records);
  return { findings: v.findings().sort(compareFindings), stats: v.stats() };
}

/** Findings of records as JSONL bytes through the stream, in chunks of `chunk` bytes. */
function streamFindings(records: string[], chunk: number): { findings: Finding[]; stats: DatasetStats } {
  const out: Finding[] = [];
  const s = new DatasetStream(opts, (f) => out.push(f));
  const bytes = new TextEncoder().encode(records.join('\n'));
  for (let i = 0; i < bytes.length; i += chunk) s.push(bytes.subarray(i, i + chunk));
  s.end();
  return { findings: out.sort(compareFindings), stats: s.stats() };
}

/** The same records as a pretty `.json` array, one element a line (element i on line i + 1). */
const asArray = (records: string[]): string => '[\n' + records.join(',\n') + '\n]\n';

function streamArray(text: string, chunk: number, cap = 1 << 20): { findings: Finding[]; stats: DatasetStats } {
  const out: Finding[] = [];
  const s = new JsonArrayStream(opts, cap, (f) => out.push(f));
  const bytes = new TextEncoder().encode(text);
  for (let i = 0; i < bytes.length; i += chunk) s.push(bytes.subarray(i, i + chunk));
  s.end();
  return { findings: out.sort(compareFindings), stats: s.stats() };
}

/** A `.json` finding in JSONL terms: one line up, and the dedup wording of a line. */
function asJsonl(f: Finding): Finding {
  const up = (p: { line: number; character: number }) => ({ line: p.line - 1, character: p.character });
  const g: Finding = { ...f, range: { start: up(f.range.start), end: up(f.range.end) } };
  if (f.rule === 'dedup/exact' || f.rule === 'dedup/near') {
    const first = (f.data?.['duplicateOf'] as number) - 1;
    const data: Record<string, unknown> = { ...f.data, duplicateOf: first };
    // Element i sits on line i + 1: the first occurrence's element is its JSONL line.
    assert.equal(data['element'], first);
    delete data['element'];
    g.data = data;
    g.related = [
      {
        range: { start: { line: first, character: 0 }, end: { line: first, character: 0 } },
        message: 'First occurrence',
      },
    ];
    g.message = f.message
      .replace(/of line \d+/, `of line ${first + 1}`)
      .replace('Delete this record.', 'Delete this line.');
  }
  return g;
}

/** What every path agrees on (`lines` differs: a `.json` file has no blank lines). */
const core = (s: DatasetStats) => ({ ...s, lines: 0 });

describe('one cross-record validator', () => {
  it('counts a near duplicate that is an error against acceptance, found at the end or as it comes', () => {
    const nearError = validatorOptions({
      maxTokens: 60,
      minChars: 3,
      nearThreshold: 0.7,
      severityOf: (rule) => (rule === 'dedup/near' ? 'error' : effectiveSeverity(rule)),
    });
    const records = [
      chat(story, 'A fox and a dog.'),
      chat('what is two plus two', 'four'),
      chat(story.replace('lazy', 'sleepy'), 'A fox and a dog.'),
    ];
    const editor = new DatasetValidator(nearError);
    editor.update(0, 0, records);
    assert.equal(editor.stats().acceptance, 2 / 3);
    // Capacity 1: the first record is kept, and the others are compared with it as they come.
    for (const nearIndexCapacity of [undefined, 1]) {
      const withCapacity: JsonArrayCheckerOptions = {
        ...nearError,
        ...(nearIndexCapacity ? { nearIndexCapacity } : {}),
      };
      const found: Finding[] = [];
      const stream = new DatasetStream(withCapacity, (f) => found.push(f));
      stream.push(new TextEncoder().encode(records.join('\n')));
      stream.end();
      const near = found.filter((f) => f.rule === 'dedup/near');
      assert.deepEqual(
        near.map((f) => [f.range.start.line, f.data?.['duplicateOf'], f.severity]),
        [[2, 0, 'error']],
      );
      assert.equal(stream.stats().acceptance, 2 / 3, `stream, capacity ${nearIndexCapacity}`);
      const array = validateJsonArrayDataset(asArray(records), withCapacity);
      assert.equal(array.stats.acceptance, 2 / 3, `.json array, capacity ${nearIndexCapacity}`);
      assert.deepEqual(
        array.records.map((r) => [r.hasError ?? false, r.nearDuplicateOf?.index]),
        [
          [false, undefined],
          [false, undefined],
          [true, 0],
        ],
      );
    }
  });

  it('the editor, the stream, a .json array and a streamed .json array agree on the same records', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 97 }),
        (records, chunk) => {
          const editor = editorFindings(records);
          const stream = streamFindings(records, chunk);
          const text = asArray(records);
          const inMemory = validateJsonArrayDataset(text, opts);
          const streamed = streamArray(text, chunk);
          assert.deepEqual(stream.findings, editor.findings);
          assert.deepEqual([...inMemory.findings].sort(compareFindings).map(asJsonl), editor.findings);
          assert.deepEqual(streamed.findings.map(asJsonl), editor.findings);
          assert.deepEqual(core(stream.stats), core(editor.stats));
          assert.deepEqual(core(inMemory.stats), core(editor.stats));
          assert.deepEqual(core(streamed.stats), core(editor.stats));
        },
      ),
      { numRuns: 120 },
    );
  });

  it('a .json duplicate reads as in the editor, naming the record to delete and its element', () => {
    const text = asArray([POOL[4] as string, POOL[5] as string]);
    const [dup] = validateJsonArrayDataset(text, opts).findings.filter((f) => f.rule === 'dedup/exact');
    assert.equal(
      dup?.message,
      'Exact duplicate of line 2: duplicates skew training toward one example. Delete this record.',
    );
    assert.deepEqual(dup?.data, { duplicateOf: 1, element: 0 });
  });
});

describe('streamed .json arrays', () => {
  it('place findings of pretty-printed, multi-line elements as the in-memory path does, at any chunk size', () => {
    const files = [
      readFileSync(join(__dirname, '..', 'fixtures', 'datasets', 'defective.json'), 'utf8'),
      '\ufeff[\r\n  {\r\n    "text": ""\r\n  },\r\n  {"messages": [\r\n    {"role": "robot", "content": "hi"}]},\r  {"text": "x"}, {"text": "x"}\n]',
    ];
    for (const text of files) {
      // A reader decodes a BOM away before the in-memory path sees the text; the stream skips it itself.
      const expected = [...validateJsonArrayDataset(text.replace(/^\ufeff/, ''), opts).findings].sort(compareFindings);
      assert.ok(expected.length >= 2, 'the fixture has findings to compare');
      for (const chunk of [1, 2, 3, 7, 64, 1 << 16]) assert.deepEqual(streamArray(text, chunk).findings, expected);
    }
  });

  it('report an element over the cap at its position without holding it, and check the elements after it', () => {
    const big = JSON.stringify({ text: 'y'.repeat(5000) });
    const text = asArray([POOL[4] as string, big, POOL[5] as string, '{"text": 2}']);
    const held: number[] = [];
    const scanner = new JsonArrayScanner(
      1000,
      (e) => held.push(e.bytes?.length ?? -e.byteLength),
      () => undefined,
    );
    const bytes = new TextEncoder().encode(text);
    for (let i = 0; i < bytes.length; i += 300) scanner.push(bytes.subarray(i, i + 300));
    scanner.end();
    assert.deepEqual(held, [POOL[4]!.length, -big.length, POOL[5]!.length, 11]);
    const { findings, stats } = streamArray(text, 300, 1000);
    assert.deepEqual(
      findings
        .filter((f) => f.rule !== 'length/too-short')
        .map((f) => `${f.range.start.line}:${f.range.start.character} ${f.rule}`),
      ['2:0 jsonl/line-too-long', '3:0 dedup/exact', '4:0 format/mixed', '4:9 schema/wrong-type'],
    );
    assert.match(
      findings.find((f) => f.rule === 'jsonl/line-too-long')!.message,
      /5011 bytes long, over the 1000 bytes/,
    );
    assert.equal(stats.records, 4);
  });

  it('never throw on truncated or noisy arrays, and say when the array is not closed', () => {
    const full = asArray(POOL);
    fc.assert(
      fc.property(
        fc.nat({ max: full.length }),
        fc.string({ maxLength: 20 }),
        fc.integer({ min: 1, max: 50 }),
        (cut, noise, chunk) => {
          const text = full.slice(0, cut) + noise;
          const { findings, stats } = streamArray(text, chunk, 400);
          assert.ok(stats.records <= POOL.length + noise.length);
          if (cut > 0 && cut < full.length - 3 && !noise.includes(']'))
            assert.ok(
              findings.some((f) => f.rule === 'jsonl/invalid-json'),
              `no syntax finding for a cut at ${cut}`,
            );
        },
      ),
      { numRuns: 300 },
    );
    const notArray = streamArray('{"text": "a"}', 4).findings;
    assert.deepEqual(
      notArray.map((f) => f.rule),
      ['jsonl/invalid-json'],
    );
    assert.match(notArray[0]!.message, /must be an array of records/);
  });
});
