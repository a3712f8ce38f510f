// The editor validator after any sequence of edits equals a fresh validator over the final text,
// and no input makes it throw.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DatasetValidator } from '../../server/src/core/dataset/validator';
import type { DatasetValidatorOptions } from '../../server/src/core/dataset/validator';
import { validateJsonArrayDataset } from '../../server/src/core/dataset/jsonArray';
import { MinHasher } from '../../server/src/core/dataset/dedupNear';
import { seededRandom } from '../fuzz/seeded';
import { validatorOptions } from './options';

const opts: DatasetValidatorOptions = validatorOptions({ maxTokens: 60, minChars: 3, nearThreshold: 0.7 });

const story =
  'the quick brown fox jumps over the lazy dog while the farmer watches from the old wooden barn near the river';
const chat = (u: string, a: string): string =>
  JSON.stringify({
    messages: [
      { role: 'user', content: u },
      { role: 'assistant', content: a },
    ],
  });

// Lines chosen to collide: exact duplicates in different formatting, near duplicates, other formats.
const POOL = [
  chat(story, 'A fox and a dog.'),
  chat(story, 'A fox and a dog.').replace(/,/g, ', '),
  chat(story.replace('lazy', 'sleepy'), 'A fox and a dog.'),
  chat(story.replace('old wooden', 'big red'), 'A fox and a dog.'),
  chat('what is two plus two', 'four'),
  chat('what is two plus two', 'four'),
  '{"text": "' + story + '"}',
  '{"text": "' + story.replace('river', 'stream') + '"}',
  '{"instruction": "Summarise", "input": "' + story + '", "output": "fox"}',
  '{"instruction": "x", "input": "", "output": ""}',
  '{"conversations": [{"from": "human", "value": "hi"}, {"from": "bot", "value": "hey"}]}',
  '{"text": "mail me: ann@acme-corp.org"}',
  '{"text": "' + 'long words here '.repeat(30) + '"}',
  '{"text": broken',
  '',
  '  ',
  '{"foo": 1}',
];

const lineArb = fc.oneof(fc.constantFrom(...POOL), fc.string({ maxLength: 30 }));

interface Edit {
  start: number;
  deleteCount: number;
  lines: string[];
}

const editArb = fc.record({
  start: fc.nat({ max: 40 }),
  deleteCount: fc.nat({ max: 5 }),
  lines: fc.array(lineArb, { maxLength: 4 }),
});

function apply(doc: string[], e: Edit): void {
  const start = Math.min(e.start, doc.length);
  doc.splice(start, Math.min(e.deleteCount, doc.length - start), ...e.lines);
}

describe('DatasetValidator incremental updates', () => {
  it('equal a fresh validation after random edits', () => {
    fc.assert(
      fc.property(fc.array(lineArb, { maxLength: 25 }), fc.array(editArb, { maxLength: 12 }), (initial, edits) => {
        const doc = [...initial];
        const incremental = new DatasetValidator(opts);
        incremental.update(0, 0, [...doc]);
        for (const e of edits) {
          const start = Math.min(e.start, doc.length);
          incremental.update(start, Math.min(e.deleteCount, doc.length - start), e.lines);
          apply(doc, e);
          // Findings are read between edits too: the lazily re-based caches must stay right.
          incremental.findings();
        }
        const fresh = new DatasetValidator(opts);
        fresh.update(0, 0, doc);
        assert.equal(incremental.lineCount(), doc.length);
        assert.deepEqual(incremental.findings(), fresh.findings());
        assert.deepEqual(incremental.stats(), fresh.stats());
        for (let i = 0; i < doc.length; i++) {
          assert.equal(incremental.lineText(i), doc[i]);
          assert.deepEqual(incremental.recordInfo(i), fresh.recordInfo(i));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('finds a near duplicate an edit brings in whose only holder of a band key sits next to the removed line', () => {
    // One line holds each band key of `kept` (so no bucket has them); the edit removes the line before
    // it in the slab and adds a near copy of it: the new line must find `kept` through the slabs.
    const answer = 'A fox and a dog.';
    const kept = chat(story, answer);
    const copy = chat(story.replace('lazy', 'sleepy'), answer);
    const v = new DatasetValidator(opts);
    v.update(0, 0, [chat('what is two plus two', 'four'), kept, chat('name three rivers', 'Nile, Amazon, Danube.')]);
    v.update(0, 1, [copy]);
    const fresh = new DatasetValidator(opts);
    fresh.update(0, 0, [copy, kept, chat('name three rivers', 'Nile, Amazon, Danube.')]);
    const near = (x: DatasetValidator) =>
      x
        .findings()
        .filter((f) => f.rule === 'dedup/near')
        .map((f) => [f.range.start.line, f.data?.duplicateOf]);
    assert.deepEqual(near(fresh), [[1, 0]]);
    assert.deepEqual(near(v), near(fresh));
  });

  it('re-checks only what an edit touches: deleting a first occurrence moves the near-duplicate finding', () => {
    const v = new DatasetValidator(opts);
    const answer = 'A fox and a dog.';
    v.update(0, 0, [chat(story, answer), chat(story + ' today', answer), chat(story + ' today again', answer)]);
    const before = v.findings().filter((f) => f.rule === 'dedup/near');
    assert.deepEqual(
      before.map((f) => [f.range.start.line, f.data?.duplicateOf]),
      [
        [1, 0],
        [2, 0],
      ],
    );
    v.update(0, 1, []);
    const after = v.findings().filter((f) => f.rule === 'dedup/near');
    assert.deepEqual(
      after.map((f) => [f.range.start.line, f.data?.duplicateOf]),
      [[1, 0]],
    );
  });

  it('index a whole document as line-by-line appends do, past the near-duplicate window', () => {
    // A record that drifts a word at a time: neighbours are near duplicates, distant ones share some
    // band keys without being similar, so buckets outgrow NEAR_WINDOW and hold dissimilar lines first.
    const words = (story + ' ' + story.split(' ').reverse().join(' ')).split(' ');
    const doc = Array.from({ length: 60 }, (_, i) => {
      const w = words.map((word, j) => (j < i ? `${word}${j % 5}` : word));
      return chat(w.join(' '), 'A fox and a dog.');
    });
    const whole = new DatasetValidator(opts);
    whole.update(0, 0, doc);
    const appended = new DatasetValidator(opts);
    doc.forEach((line, i) => appended.update(i, 0, [line]));
    const near = whole.findings().filter((f) => f.rule === 'dedup/near');
    assert.ok(near.length > 15, `expected most variants to be near duplicates, got ${near.length}`);
    assert.deepEqual(appended.findings(), whole.findings());
    for (let i = 0; i < doc.length; i++) assert.deepEqual(appended.recordInfo(i), whole.recordInfo(i));
  });

  it('index a whole document as appends do when near pairs share a single band key', () => {
    // Variants of a few records at every distance: some pairs share one band key of ten, some
    // several. The whole-document pass puts only the keys that may be shared in buckets, so a line
    // with a single such key must still be indexed and compared.
    const rand = seededRandom(7);
    const words = (story + ' ' + story.split(' ').reverse().join(' ')).split(' ');
    const doc: string[] = [];
    for (let i = 0; i < 400; i++) {
      const base = i % 5;
      const rate = 0.02 + 0.5 * rand();
      const w = words.map((word) => (rand() < rate ? `w${Math.floor(rand() * 1000)}` : `${word}${base}`));
      doc.push(chat(w.join(' '), 'A fox and a dog.'));
    }
    const hasher = new MinHasher();
    const keysOf = doc.map((line) => {
      const content = (JSON.parse(line) as { messages: { content: string }[] }).messages.map((m) => m.content);
      hasher.computeParts(content);
      return new Set(hasher.bandKeys);
    });
    const whole = new DatasetValidator(opts);
    whole.update(0, 0, doc);
    const near = whole.findings().filter((f) => f.rule === 'dedup/near');
    const singleBand = near.filter((f) => {
      const line = f.range.start.line;
      const of = f.data?.duplicateOf as number;
      let shared = 0;
      for (const key of keysOf[line] ?? []) if (keysOf[of]?.has(key)) shared++;
      return shared === 1;
    });
    assert.ok(singleBand.length > 0, 'some near pair shares exactly one band key');
    assert.ok(near.length > singleBand.length, 'other near pairs share several band keys');
    assert.ok(near.length < doc.length / 2, 'most lines are not near duplicates');
    const appended = new DatasetValidator(opts);
    doc.forEach((line, i) => appended.update(i, 0, [line]));
    assert.deepEqual(appended.findings(), whole.findings());
  });

  it('keep their indices right while they grow and shrink past their first size', () => {
    // 40 distinct records, then variants of each: a variant's near duplicate is one of the first 40
    // lines, indexed long before the tables (sized for an empty document) grow; most lines are then
    // removed (their slots stay until the next growth) and others added.
    const words = (story + ' ' + story.split(' ').reverse().join(' ')).split(' ');
    const doc = Array.from({ length: 240 }, (_, i) => {
      const k = i % 40;
      const variant = Math.floor(i / 40);
      return chat(words.map((w, j) => (j === variant ? 'changed' : `${w}${k}`)).join(' '), 'An answer.');
    });
    const v = new DatasetValidator(opts);
    v.update(0, 0, []);
    doc.forEach((line, i) => v.update(i, 0, [line]));
    const check = (lines: string[]) => {
      const fresh = new DatasetValidator(opts);
      fresh.update(0, 0, lines);
      assert.deepEqual(v.findings(), fresh.findings());
    };
    check(doc);
    assert.ok(v.findings().filter((f) => f.rule === 'dedup/near').length >= 150);
    v.update(20, 180, []);
    const kept = [...doc.slice(0, 20), ...doc.slice(200)];
    check(kept);
    v.update(10, 0, doc.slice(50, 170));
    check([...kept.slice(0, 10), ...doc.slice(50, 170), ...kept.slice(10)]);
  });

  it('let go of the key slabs whose lines are all gone, over many edits', () => {
    // Every edit takes a new slot. Line 0 is never edited and keeps its first slab; the others are
    // rewritten over twice a slab's worth of one-line edits, so the slab between holds no line. A last
    // edit makes a near duplicate of line 0, whose keys only line 0 held: found in the first slab.
    const first = 'the farmer sold apples and pears at the market every sunday morning before the long walk home';
    const doc = [chat(first, 'Fruit.'), ...Array.from({ length: 19 }, (_, i) => chat(`${story} ${i}`, 'A fox.'))];
    const v = new DatasetValidator(opts);
    v.update(0, 0, [...doc]);
    for (let k = 0; k < 9000; k++) {
      const at = 1 + (k % 19);
      doc[at] = chat(`${story} ${k % 7}`, k % 2 === 0 ? 'A fox and a dog.' : 'A dog and a fox.');
      v.update(at, 1, [doc[at] as string]);
    }
    assert.ok(v.slabCount <= 2, `${v.slabCount} slabs kept for ${doc.length} lines`);
    doc[5] = chat(first.replace('home', 'again'), 'Fruit.');
    v.update(5, 1, [doc[5]]);
    const fresh = new DatasetValidator(opts);
    fresh.update(0, 0, doc);
    assert.deepEqual(v.findings(), fresh.findings());
    const near = v.findings().find((f) => f.rule === 'dedup/near' && f.range.start.line === 5);
    assert.equal(near?.data?.duplicateOf, 0);
  });

  it('keeps the signature of the first line of a new key slab', () => {
    // 4,096 lines with signatures fill the first slab; line 4,096 opens the second (its signature is
    // copied there, not written in place). It nearly repeats line 0.
    const rand = seededRandom(29);
    const vocab = Array.from({ length: 800 }, (_, i) => `w${i.toString(36)}`);
    const first = 'the farmer sold apples and pears at the market every sunday morning before the long walk home';
    const doc = [
      chat(first, 'Fruit.'),
      ...Array.from({ length: 4095 }, () =>
        chat(Array.from({ length: 30 }, () => vocab[Math.floor(rand() * vocab.length)]).join(' '), 'Noted.'),
      ),
      chat(first.replace('home', 'again'), 'Fruit.'),
    ];
    const v = new DatasetValidator(opts);
    v.update(0, 0, doc);
    assert.equal(v.slabCount, 2);
    const near = v.findings().filter((f) => f.rule === 'dedup/near');
    assert.deepEqual(
      near.map((f) => [f.range.start.line, f.data?.duplicateOf]),
      [[4096, 0]],
    );
  });

  it('never throws on random or truncated input', () => {
    const full = POOL.join('\n');
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.nat({ max: full.length }), (noise, cut) => {
        const v = new DatasetValidator(opts);
        v.update(0, 0, (full.slice(0, cut) + noise).split('\n'));
        v.findings();
        v.stats();
        validateJsonArrayDataset('[' + POOL.slice(0, 9).join(',').slice(0, cut) + noise, opts);
      }),
      { numRuns: 200 },
    );
  });
});
