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

/**
 * The reports of an index over `records` (signature and keys with their line), each as [line, first,
 * similarity]; `passRecords`: how many are compared in the pass at the end (the rest as they come).
 * `skew`: each signature is handed over at that offset in a larger array (the index copies aligned
 * signatures a word at a time, others byte by byte).
 */
function reportsOf(
  records: readonly { signature: Uint8Array; keys: Uint32Array; line: number }[],
  capacity: number,
  passRecords?: number,
  threshold = 0.8,
  skew = 0,
): [number, number, number][] {
  const found: [number, number, number][] = [];
  const index = new NearDuplicateIndex(
    threshold,
    (line, first, sim) => found.push([line, first, sim]),
    capacity,
    passRecords,
  );
  for (const r of records) {
    if (skew === 0) index.add(r.signature, 0, r.keys, 0, r.line);
    else {
      const held = new Uint8Array(skew + BINS);
      held.set(r.signature, skew);
      index.add(held, skew, r.keys, 0, r.line);
    }
  }
  index.finish();
  return found;
}

/**
 * The rule the index implements, written plainly: each record, as it comes, is compared with the first
 * MAX_PER_KEY (4) holders of each of its band keys and names the earliest at least `threshold` similar;
 * it then holds its keys too, while fewer than `capacity` records were.
 */
function referenceReports(
  records: readonly { signature: Uint8Array; keys: Uint32Array; line: number }[],
  capacity: number,
  threshold = 0.8,
): [number, number, number][] {
  const holders = new Map<number, number[]>();
  const found: [number, number, number][] = [];
  records.forEach((r, id) => {
    let best = -1;
    let bestSim = 0;
    for (let b = 0; b < BANDS; b++) {
      const key = (r.keys[b] as number) | 0;
      const list = holders.get(key) ?? [];
      for (const other of list) {
        if (other === id || (best >= 0 && other >= best)) continue;
        const sim = signatureSimilarity(r.signature, 0, (records[other] as { signature: Uint8Array }).signature, 0);
        if (sim >= threshold) {
          best = other;
          bestSim = sim;
        }
      }
      if (id < capacity && list.length < 4) holders.set(key, [...list, id]);
    }
    if (best >= 0) found.push([r.line, (records[best] as { line: number }).line, bestSim]);
  });
  return found;
}

describe('NearDuplicateIndex', () => {
  it('reports the earliest similar record, not unrelated ones, over chunks of kept records', () => {
    const rand = prng(11);
    // More records than one chunk of kept signatures (4,096).
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
    const hits = new Map<number, { line: number; similarity: number }>();
    let lastLine = -1;
    const index = new NearDuplicateIndex(0.8, (line, first, similarity) => {
      assert.ok(line > lastLine, 'reports come in line order');
      lastLine = line;
      hits.set(line, { line: first, similarity });
    });
    for (let i = 0; i < n; i++) {
      assert.ok(hasher.compute(texts[i] as string));
      index.addHashed(hasher, i);
    }
    assert.equal(hits.size, 0, 'kept records are compared when the input ends');
    index.finish();
    let recalled = 0;
    let positives = 0;
    for (let i = 0; i < n; i++) {
      const hit = hits.get(i);
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
    assert.equal(index.keptCount, n);
  });

  it('names the earliest of several copies, and compares later records with kept ones past capacity', () => {
    const rand = prng(13);
    const base = words(rand, 50);
    const late = words(rand, 50);
    const texts = [
      words(rand, 50).join(' '),
      base.join(' '),
      edited(rand, base, 1),
      // Past capacity: not kept, still compared.
      edited(rand, base, 1),
      late.join(' '),
      late.join(' '),
    ];
    const hasher = new MinHasher();
    const records = texts.map((text, line) => {
      assert.ok(hasher.compute(text));
      return { signature: hasher.signature.slice(), keys: hasher.bandKeys.slice(), line: line * 2 };
    });
    assert.deepEqual(
      reportsOf(records, 3).map(([line, first]) => [line, first]),
      [
        [4, 2],
        [6, 2],
      ],
    );
  });

  it('reports what comparing each record as it comes would, with keys shared by many, twice in a record, past the pass and capacity', () => {
    const rand = prng(17);
    for (let round = 0; round < 40; round++) {
      // Signatures from a few families (a family's members differ in a few bins, so some pairs are
      // above the threshold and some below); band keys from a small pool, so that keys are shared by
      // more than four records and repeat within a record, with the top bits set on some.
      const families = Array.from({ length: 1 + Math.floor(rand() * 6) }, () =>
        Uint8Array.from({ length: BINS }, () => Math.floor(rand() * 256)),
      );
      const pool = Array.from({ length: 2 + Math.floor(rand() * 30) }, () => Math.floor(rand() * 2 ** 32) >>> 0);
      const n = 1 + Math.floor(rand() * 300);
      const records = Array.from({ length: n }, (_, i) => {
        const signature = (families[Math.floor(rand() * families.length)] as Uint8Array).slice();
        const changes = Math.floor(rand() * 40);
        for (let k = 0; k < changes; k++) signature[Math.floor(rand() * BINS)] = Math.floor(rand() * 256);
        const keys = Uint32Array.from({ length: BANDS }, () =>
          rand() < 0.6
            ? (pool[Math.floor(rand() * pool.length)] as number)
            : // A key that differs from a pool key in its top two bits only.
              rand() < 0.5
              ? ((pool[0] as number) ^ 0xc0000000) >>> 0
              : Math.floor(rand() * 2 ** 32) >>> 0,
        );
        return { signature, keys, line: 3 * i + 1 };
      });
      for (const capacity of [n, Math.floor(n / 2), 0]) {
        const expected = referenceReports(records, capacity);
        for (const pass of [undefined, Math.floor(n / 3), 0]) {
          assert.deepEqual(
            reportsOf(records, capacity, pass),
            expected,
            `round ${round}, capacity ${capacity}, pass ${pass}`,
          );
        }
        for (const skew of [1, 4]) {
          assert.deepEqual(reportsOf(records, capacity, undefined, 0.8, skew), expected, `skew ${skew}`);
        }
      }
    }
  });

  it('grows its table of keys past the pass no larger than every kept key needs', () => {
    const rand = prng(19);
    const signature = new Uint8Array(BINS);
    const keys = new Uint32Array(BANDS);
    // 1,000 records kept, the pass over 10: the table starts with room for 20 records' keys and grows
    // fourfold, which would overshoot the 16,384 slots that 10,000 keys need at 3/4 load.
    const index = new NearDuplicateIndex(0.8, () => undefined, 1000, 10);
    for (let i = 0; i < 1500; i++) {
      for (let b = 0; b < BANDS; b++) keys[b] = Math.floor(rand() * 2 ** 32);
      index.add(signature, 0, keys, 0, i);
    }
    index.finish();
    assert.equal(index.keptCount, 1000);
    assert.equal(index.slots, 16_384);
  });
});
