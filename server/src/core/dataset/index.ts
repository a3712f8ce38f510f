// The dataset-validation part of the language-service core.
export { checkEncoding } from './encoding';
export type { DatasetValidatorOptions } from './context';
export { RECORD_FORMATS, detectRecordFormat } from './formats';
export type { RecordFormat } from './formats';
export { validateJsonArrayDataset } from './jsonArray';
export type { JsonArrayResult } from './jsonArray';
export { RECORD_SCHEMAS } from './schema';
export type { DatasetStats, TokenPercentiles } from './stats';
export { DatasetStream } from './stream';
export type { DatasetStreamOptions } from './stream';
export { DatasetValidator } from './validator';
export type { RecordInfo } from './validator';
