// length/too-long and length/too-short, and the token count shown in hovers and statistics.
import { estimateTokens, tokenUpperBound } from '../tokenizer';
import type { TokenCounter } from '../tokenizer';
import type { LineFindings } from './context';
import { TURN_OVERHEAD_TOKENS } from './recordText';
import type { RecordText } from './recordText';

export interface TokenInfo {
  tokens: number;
  /** False when `tokens` is an estimate (no tokenizer, or a bound proved the exact count unneeded). */
  exact: boolean;
}

/**
 * Counts tokens the cheapest way that still decides length/too-long: with an exact counter, a
 * record whose byte-level upper bound is within the limit is not tokenized (its count is estimated).
 * `fullIsAscii`: the caller knows `text.full` has no character above U+007F.
 */
export function countTokens(
  text: RecordText,
  counter: TokenCounter,
  maxTokens: number,
  fullIsAscii = false,
): TokenInfo {
  const overhead = TURN_OVERHEAD_TOKENS * text.turns;
  // Known-ASCII text needs no scan (nor the joined text copied flat): estimateTokens is then
  // ceil(length / 4), and the UTF-8 bound tokenUpperBound is length + 2.
  const estimate = fullIsAscii ? Math.ceil(text.full.length / 4) : estimateTokens(text.full);
  if (!counter.exact) return { tokens: estimate + overhead, exact: false };
  const bound = fullIsAscii ? text.full.length + 2 : tokenUpperBound(text.full);
  if (bound + overhead <= maxTokens) return { tokens: estimate + overhead, exact: false };
  return { tokens: counter.count(text.full) + overhead, exact: true };
}

export function checkLength(
  text: RecordText,
  tokens: TokenInfo,
  lineLength: number,
  limits: { maxTokens: number; minChars: number },
  out: LineFindings,
): void {
  const { maxTokens, minChars } = limits;
  let reportedEmpty = false;
  for (const f of out.items)
    if (f.rule === 'content/empty' || f.rule === 'messages/empty-content') reportedEmpty = true;
  // With an exact counter, an estimated count is never above the limit (estimate <= bound <= limit).
  if (tokens.tokens > maxTokens) {
    out.add(
      'length/too-long',
      0,
      lineLength,
      `About ${tokens.tokens} tokens${tokens.exact ? '' : ' (estimated)'}, more than max_tokens ${maxTokens}: training would truncate it. Shorten or split the record, or raise the limit.`,
      { tokens: tokens.tokens, exact: tokens.exact },
    );
  }
  const chars = text.content.trim().length;
  // An empty record is already reported by content/empty or messages/empty-content.
  if (chars < minChars && !(chars === 0 && reportedEmpty)) {
    out.add(
      'length/too-short',
      0,
      lineLength,
      `Only ${chars} characters of content, fewer than min_chars ${minChars}: add substance or delete the record.`,
      { chars },
    );
  }
}
