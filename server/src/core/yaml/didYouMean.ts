// "Did you mean" suggestions for misspelt keys: Damerau-Levenshtein distance (optimal string
// alignment, so one transposition costs 1), case-insensitive.

export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[(i - 2) * cols + j - 2]! + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1]!;
}

/** The candidate nearest to `word` (case-insensitive) and its distance; ties go to the first candidate. */
export function nearestMatch(
  word: string,
  candidates: Iterable<string>,
): { match: string; distance: number } | undefined {
  const needle = word.toLowerCase();
  let best: { match: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(needle, candidate.toLowerCase());
    if (!best || distance < best.distance) best = { match: candidate, distance };
  }
  return best;
}

/**
 * The candidate closest to `word`, when close enough to be a plausible typo: at most a third of
 * the word's length in edits (at least 1, at most 3). Ties go to the first candidate.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  const nearest = nearestMatch(word, candidates);
  return nearest && nearest.distance <= limit ? nearest.match : undefined;
}
