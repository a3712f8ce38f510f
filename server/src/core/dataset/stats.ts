// Dataset statistics shared by the editor validator, the streaming validator and JSON-array files.
import { RECORD_FORMATS } from './formats';
import type { RecordFormat } from './formats';

export interface TokenPercentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** True when every count came from the model's tokenizer. */
  exact: boolean;
}

export interface DatasetStats {
  /** Lines (JSONL) or array elements (JSON). */
  lines: number;
  /** Non-blank lines: records, including invalid ones. */
  records: number;
  blank: number;
  invalid: number;
  formats: Record<RecordFormat, number>;
  /** Valid JSON of no known format. */
  unknownFormat: number;
  /** The format most records have (ties: the first in RECORD_FORMATS order). */
  majorityFormat?: RecordFormat;
  exactDuplicates: number;
  nearDuplicates: number;
  tokens: TokenPercentiles;
  findingsByRule: Record<string, number>;
  /** Share of records with no error-severity finding (1 for an empty file). */
  acceptance: number;
}

export function emptyFormatCounts(): Record<RecordFormat, number> {
  return { alpaca: 0, sharegpt: 0, messages: 0, text: 0, preference: 0, kto: 0, prompt_completion: 0 };
}

export function majorityFormat(counts: Readonly<Record<RecordFormat, number>>): RecordFormat | undefined {
  let best: RecordFormat | undefined;
  for (const f of RECORD_FORMATS) if (counts[f] > 0 && (best === undefined || counts[f] > counts[best])) best = f;
  return best;
}

/** Nearest-rank percentiles of `counts` (sorted in place). */
export function tokenPercentiles(counts: Uint32Array | number[], exact: boolean): TokenPercentiles {
  const sorted = counts instanceof Uint32Array ? counts.sort() : counts.sort((a, b) => a - b);
  const n = sorted.length;
  const at = (q: number): number => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.ceil(q * n) - 1)] ?? 0));
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: n === 0 ? 0 : (sorted[n - 1] ?? 0), exact: n > 0 && exact };
}
