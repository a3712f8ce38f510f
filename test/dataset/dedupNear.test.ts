// The near-duplicate sketch and index on their own: the estimate against exact Jaccard similarity of
// the same word 3-shingles, and which earlier record the streaming index reports.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jaccard as exactJaccard, shingleSet } from '../../bench/exactJaccard';
import {
  BANDS,
  BINS,
  MinHasher,
  NearDuplicateIndex,
  signatureSimilarity,
} from '../../server/src/core/dataset/dedupNear';
import { seededRandom as prng } from '../fuzz/seeded';

const VOCAB = Array.from({ length: 400 }, (_, i) => `w${i.toString(36)}`);

function words(rand: () => number, n: number): string[] {
  return Array.from({ length: n }, () => VOCAB[Math.floor(rand() * VOCAB.length)] as string);
}

/** Exact Jaccard of two texts' shingles, the reference the signature estimates. */
function jaccard(a: string, b: string): number {
  return exactJaccard(shingleSet(a), shingleSet(b));
}

function similarity(a: string, b: string): number {
  const ha = new MinHasher();
  const hb = new MinHasher();
  assert.ok(ha.compute(a) && hb.compute(b));
  return signatureSimilarity(ha.signature, 0, hb.signature, 0);
}

/** `base` with `edits` words replaced at random positions. */
function edited(rand: () => number, base: string[], edits: number): string {
  const w = [...base];
  for (let e = 0; e < edits; e++) w[Math.floor(rand() * w.length)] = VOCAB[Math.floor(rand() * VOCAB.length)] as string;
  return w.join(' ');
}

describe('MinHasher', () => {
  it('estimates the Jaccard similarity of short and long records without bias', () => {
    const rand = prng(7);
    for (const length of [12, 35, 80, 400]) {
      let error = 0;
      let squared = 0;
      let pairs = 0;
      for (let p = 0; p < 300; p++) {
        const base = words(rand, length);
        const other = edited(rand, base, 1 + Math.floor(rand() * Math.max(1, length / 8)));
        const exact = jaccard(base.join(' '), other);
        const estimate = similarity(base.join(' '), other);
        error += estimate - exact;
        squared += (estimate - exact) ** 2;
        pairs++;
      }
      const bias = error / pairs;
      const rmse = Math.sqrt(squared / pairs);
      assert.ok(Math.abs(bias) < 0.02, `${length} words: mean error ${bias.toFixed(4)}`);
      // MinHash with 128 bins: at most about sqrt(J(1 - J) / 128) <= 0.044 for long records; short ones do better.
      assert.ok(rmse < 0.05, `${length} words: rmse ${rmse.toFixed(4)}`);
    }
  });

  it('rates identical records 1, unrelated ones near 0, and case and punctuation do not matter', () => {
    const rand = prng(3);
    const a = words(rand, 40).join(' ');
    assert.equal(similarity(a, a), 1);
    assert.equal(similarity(a, `${a.toUpperCase().replace(/ /g, ', ')}!`), 1);
    assert.ok(similarity(a, words(rand, 40).join(' ')) < 0.05);
  });

  it('sketches records of one or two words and rejects records without words', () => {
    const h = new MinHasher();
    assert.equal(h.compute(' ,.;!? '), false);
    assert.equal(h.compute('hello'), true);
    assert.equal(similarity('hello world', 'Hello, world.'), 1);
    assert.ok(similarity('hello world', 'hello there') < 0.05);
    assert.equal(h.signature.length, BINS);
    assert.equal(h.bandKeys.length, BANDS);
  });

  it('computes the same signature with a reused hasher as with a fresh one', () => {
    const rand = prng(5);
    const texts = Array.from({ length: 20 }, (_, i) => words(rand, 3 + i * 7).join(' '));
    const reused = new MinHasher();
    for (const t of texts) {
      const fresh = new MinHasher();
      fresh.compute(t);
      reused.compute(t);
      assert.deepEqual(reused.signature, fresh.signature);
      assert.deepEqual(reused.bandKeys, fresh.bandKeys);
    }
  });
});

describe('NearDuplicateIndex', () => {
  it('reports the earliest similar record, not unrelated ones, across table growth', () => {
    const rand = prng(11);
    // Enough records for the table to grow from its first size (room for about 19,600 records' keys).
    const n = 25_000;
    const texts: string[] = [];
    const plantedOf: number[] = [];
    for (let i = 0; i < n; i++) {
      if (i > 10 && i % 97 === 0) {
        const j = Math.floor(rand() * i);
        const w = (texts[j] as string).split(' ');
        w[Math.floor(rand() * w.length)] = 'changed';
        texts.push(w.join(' '));
        plantedOf.push(j);
      } else {
        texts.push(words(rand, 60).join(' '));
        plantedOf.push(-1);
      }
    }
    const hasher = new MinHasher();
    const index = new NearDuplicateIndex(n);
    const firstSlots = index.slots;
    let recalled = 0;
    let positives = 0;
    for (let i = 0; i < n; i++) {
      assert.ok(hasher.compute(texts[i] as string));
      const hit = index.checkAndAdd(hasher, i, 0.8);
      const j = plantedOf[i] as number;
      if (j >= 0 && jaccard(texts[i] as string, texts[j] as string) >= 0.8) {
        positives++;
        // A copy of a copy may name the earlier copy's original: any reported record must be that similar.
        if (hit) recalled++;
      }
      if (hit) {
        assert.ok(hit.line < i);
        assert.ok(hit.similarity >= 0.8);
        assert.ok(jaccard(texts[i] as string, texts[hit.line] as string) >= 0.7, `line ${i} -> ${hit.line}`);
      } else {
        assert.ok(j < 0 || jaccard(texts[i] as string, texts[j] as string) < 0.85, `line ${i} missed ${j}`);
      }
    }
    assert.ok(positives > 150);
    assert.ok(recalled / positives >= 0.95, `recall ${recalled}/${positives}`);
    assert.equal(index.admittedCount, n);
    assert.ok(index.slots > firstSlots, `the table never grew from ${firstSlots} slots`);
  });

  it('names the earliest of several copies, and compares later records with admitted ones past capacity', () => {
    const rand = prng(13);
    const base = words(rand, 50);
    const index = new NearDuplicateIndex(3);
    const hasher = new MinHasher();
    const add = (text: string, line: number): number | undefined => {
      hasher.compute(text);
      return index.checkAndAdd(hasher, line, 0.8)?.line;
    };
    assert.equal(add(words(rand, 50).join(' '), 0), undefined);
    assert.equal(add(base.join(' '), 1), undefined);
    assert.equal(add(edited(rand, base, 1), 2), 1);
    // Past capacity: not admitted, still compared.
    assert.equal(add(edited(rand, base, 1), 3), 1);
    const late = words(rand, 50);
    assert.equal(add(late.join(' '), 4), undefined);
    assert.equal(add(late.join(' '), 5), undefined);
    assert.equal(index.admittedCount, 3);
  });
});
