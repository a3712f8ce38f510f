// content/empty: the part a model learns to produce is empty. content/placeholder: a template slot
// left unfilled in the record's text (placeholder.ts).
import type { LineFindings } from './context';
import { ALL_HINTS, HINT_OPENER } from './dedupExact';
import type { RecordFormat } from './formats';
import type { LineLocator } from './locate';
import { checkPlaceholders } from './placeholder';
import { isBlankText } from './whitespace';

function blank(v: unknown): boolean {
  return typeof v === 'string' && isBlankText(v);
}

function reportEmpty(field: string, what: string, out: LineFindings, loc: LineLocator): void {
  const [s, e] = loc.value([field]);
  out.add(
    'content/empty',
    s,
    e,
    `The ${what} '${field}' is empty: there is nothing to learn. Write it, or delete the record.`,
  );
}

/** `hints`: what the exact hash's pass over the line found (dedupExact.ts HINT_*), when it ran. */
export function checkContent(
  record: Record<string, unknown>,
  format: RecordFormat,
  out: LineFindings,
  loc: LineLocator,
  hints = ALL_HINTS,
): void {
  if (out.isOn('content/placeholder') && (hints & HINT_OPENER) !== 0) checkPlaceholders(loc.text, out);
  if (!out.isOn('content/empty')) return;
  switch (format) {
    case 'alpaca':
      if (blank(record.output)) reportEmpty('output', 'answer', out, loc);
      if (blank(record.instruction)) reportEmpty('instruction', 'instruction', out, loc);
      break;
    case 'text':
      if (blank(record.text)) reportEmpty('text', 'text', out, loc);
      break;
    case 'preference':
      if (blank(record.chosen)) reportEmpty('chosen', 'preferred answer', out, loc);
      if (blank(record.rejected)) reportEmpty('rejected', 'rejected answer', out, loc);
      break;
    case 'prompt_completion':
      if (blank(record.completion)) reportEmpty('completion', 'completion', out, loc);
      break;
    default:
      break;
  }
}
