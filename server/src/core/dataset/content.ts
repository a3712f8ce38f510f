// content/empty: the part a model learns to produce is empty.
import type { LineFindings } from './context';
import type { RecordFormat } from './formats';
import type { LineLocator } from './locate';

function blank(v: unknown): boolean {
  return typeof v === 'string' && v.trim().length === 0;
}

export function checkContent(
  record: Record<string, unknown>,
  format: RecordFormat,
  out: LineFindings,
  loc: LineLocator,
): void {
  if (!out.isOn('content/empty')) return;
  const report = (field: string, what: string): void => {
    const [s, e] = loc.value([field]);
    out.add(
      'content/empty',
      s,
      e,
      `The ${what} '${field}' is empty: there is nothing to learn. Write it, or delete the record.`,
    );
  };
  switch (format) {
    case 'alpaca':
      if (blank(record.output)) report('output', 'answer');
      if (blank(record.instruction)) report('instruction', 'instruction');
      break;
    case 'text':
      if (blank(record.text)) report('text', 'text');
      break;
    case 'preference':
      if (blank(record.chosen)) report('chosen', 'preferred answer');
      if (blank(record.rejected)) report('rejected', 'rejected answer');
      break;
    default:
      break;
  }
}
