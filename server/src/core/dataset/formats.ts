// Record formats of supervised fine-tuning data, and detection from one parsed record.

export type RecordFormat = 'alpaca' | 'sharegpt' | 'messages' | 'text' | 'preference';

export const RECORD_FORMATS: readonly RecordFormat[] = ['alpaca', 'sharegpt', 'messages', 'text', 'preference'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The format a record is written in, judged by its distinguishing keys; undefined when it has
 * none of them. Detection is lenient about types: a record with `messages` that is not an array is
 * still a messages record, one that breaks the schema.
 */
export function detectRecordFormat(record: unknown): RecordFormat | undefined {
  if (!isObject(record)) return undefined;
  if ('messages' in record) return 'messages';
  if ('conversations' in record) return 'sharegpt';
  if ('chosen' in record && 'rejected' in record) return 'preference';
  if ('instruction' in record && ('output' in record || 'input' in record)) return 'alpaca';
  if ('text' in record) return 'text';
  return undefined;
}
