// Record formats of fine-tuning data, and detection from one parsed record (the contract's table).
import { detectFormat } from './contract';

export type RecordFormat = 'alpaca' | 'sharegpt' | 'messages' | 'text' | 'preference' | 'kto' | 'prompt_completion';

/** In this order for good: a format's index is its code in the indices and statistics (new ones go last). */
export const RECORD_FORMATS: readonly RecordFormat[] = [
  'alpaca',
  'sharegpt',
  'messages',
  'text',
  'preference',
  'kto',
  'prompt_completion',
];

/**
 * The format a record is written in, judged by its distinguishing keys in the order of
 * schemas/records/contract.json; undefined when it has none of them. Detection is lenient about types:
 * a record with `messages` that is not an array is still a messages record, one that breaks the schema.
 */
export function detectRecordFormat(record: unknown): RecordFormat | undefined {
  return detectFormat(record);
}
