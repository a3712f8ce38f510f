// The reference the near-duplicate figures are checked against: exact Jaccard similarity over the same
// word 3-shingles the MinHash signature samples (lower-cased ASCII words; a record of one or two words is
// one shingle). Shared by the bench's recall and precision and by test/dataset/dedupNear.test.ts.

/** The record's set of word 3-shingles. */
export function shingleSet(text: string): Set<string> {
  const words = text
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
  const set = new Set<string>();
  for (let i = 2; i < words.length; i++) set.add(`${words[i - 2]} ${words[i - 1]} ${words[i]}`);
  if (words.length > 0 && words.length < 3) set.add(words.join(' '));
  return set;
}

/** |a ∩ b| / |a ∪ b|. */
export function jaccard(a: Set<string>, b: Set<string>): number {
  let inter = 0;
  for (const x of a) if (b.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}
