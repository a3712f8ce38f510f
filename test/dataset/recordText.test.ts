// The content of a record is kept as its turns' pieces, read without joining them: the length check's
// trimmed length and the near-duplicate sketch must equal what the joined text would give.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MinHasher } from '../../server/src/core/dataset/dedupNear';
import { trimmedJoinLength } from '../../server/src/core/dataset/recordText';

// Pieces made of words and every kind of whitespace trim() removes, so that whole pieces can be blank.
const pieceArb = fc.string({
  unit: fc.constantFrom('a', 'b', 'word', ' ', '\n', '\t', '\u00a0', '\u2028', '\ufeff', '\u3000', 'é', '中'),
  maxLength: 8,
});

describe('record content pieces', () => {
  it('trimmedJoinLength is the trimmed length of the joined pieces', () => {
    fc.assert(
      fc.property(fc.array(pieceArb, { maxLength: 6 }), (parts) => {
        assert.equal(trimmedJoinLength(parts), parts.join('\n').trim().length, JSON.stringify(parts));
      }),
      { numRuns: 3000 },
    );
  });

  it('the sketch of the pieces is the sketch of the joined text', () => {
    const a = new MinHasher();
    const b = new MinHasher();
    fc.assert(
      fc.property(fc.array(pieceArb, { maxLength: 6 }), (parts) => {
        const joined = parts.join('\n');
        assert.equal(a.computeParts(parts), b.compute(joined), JSON.stringify(parts));
        if (b.compute(joined)) {
          assert.deepEqual(a.signature, b.signature);
          assert.deepEqual(a.bandKeys, b.bandKeys);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
