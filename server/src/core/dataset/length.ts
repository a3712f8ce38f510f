// length/too-long and length/too-short, format/chat-template, and the token count shown in hovers and
// statistics.
import { estimateOfCounts, tokenUpperBound } from '../tokenizer';
import type { TokenCounter } from '../tokenizer';
import type { LineFindings } from './context';
import { ExampleTokenCounter, NO_TOKENS } from './exampleTokens';
import { TURN_OVERHEAD_TOKENS, trimmedJoinLength } from './recordText';
import type { RecordText } from './recordText';

export interface TokenInfo {
  tokens: number;
  /** False when `tokens` is an estimate (no tokenizer, or a bound proved the exact count unneeded). */
  exact: boolean;
  /** The chat template failed on the record (`tokens` is NO_TOKENS): its message. */
  error?: string;
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
  // A record the contract turned into an Example is counted in the model's terms: its chat template
  // and tokenizer (exampleTokens.ts).
  if (counter instanceof ExampleTokenCounter) {
    if (counter.exact && text.example) return counter.lengthCount(text.example, text, maxTokens, fullIsAscii);
    // Statistics count what the trainer trains on: a record the contract refuses has no count.
    if (counter.exact && counter.exactAll) return { tokens: NO_TOKENS, exact: true };
    counter = counter.tokenizer;
  }
  const overhead = TURN_OVERHEAD_TOKENS * text.turns;
  // Known-ASCII text needs no scan (nor the joined text copied flat): estimateTokens is then
  // ceil(length / 4), and the UTF-8 bound tokenUpperBound is length + 2. Other text is counted a
  // part at a time, still without joining it (the join cost as much as the count).
  const estimate = fullIsAscii ? Math.ceil(text.fullLength / 4) : estimateOfCounts(text.fullLength, text.fullNonAscii);
  if (!counter.exact) return { tokens: estimate + overhead, exact: false };
  const bound = fullIsAscii ? text.fullLength + 2 : tokenUpperBound(text.full);
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
  if (tokens.error !== undefined && tokens.tokens === NO_TOKENS) {
    out.add(
      'format/chat-template',
      0,
      lineLength,
      `The chat template fails on this record: ${tokens.error}. The trainer could not render it: fix the record (or choose another chat_template).`,
    );
  }
  let reportedEmpty = false;
  for (const f of out.items)
    if (f.rule === 'content/empty' || f.rule === 'messages/empty-content') reportedEmpty = true;
  // With an exact counter, an estimated count is never above the limit (estimate <= bound <= limit).
  if (tokens.tokens > maxTokens && tokens.tokens !== NO_TOKENS) {
    out.add(
      'length/too-long',
      0,
      lineLength,
      `${tokens.exact ? '' : 'About '}${tokens.tokens} tokens${tokens.exact ? '' : ' (estimated)'}, more than the limit of ${maxTokens}: training would truncate it. Shorten or split the record, or raise the limit.`,
      { tokens: tokens.tokens, exact: tokens.exact },
    );
  }
  const chars = trimmedJoinLength(text.contentParts);
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
