// Custom messages between the extension (client) and the language server. Both sides import these
// types; each method says who sends it to whom.

/** client -> server request: statistics of an open dataset document. */
export const DatasetStatsRequest = 'modelfactory/datasetStats';
export interface DatasetStatsParams {
  uri: string;
}

/**
 * client -> server request: validate a dataset file from disk by path, streamed (for files VS Code
 * will not open, over 50 MB). Progress is reported through the `workDoneToken`.
 */
export const ValidateFileRequest = 'modelfactory/validateFile';
export interface ValidateFileParams {
  path: string;
  workDoneToken?: string | number;
  /** At most this many findings are returned (the summary counts all). Default 1000. */
  maxFindings?: number;
}
export interface ValidateFileResult {
  path: string;
  bytes: number;
  findings: { rule: string; severity: string; line: number; character: number; message: string }[];
  summary: Record<string, unknown>;
  truncated: boolean;
}

/** client -> server request: the GPU memory estimate of an open fine-tune config. */
export const MemoryEstimateRequest = 'modelfactory/memoryEstimate';
export interface MemoryEstimateParams {
  uri: string;
  /** The document version the client holds: the answer is for that text or a newer one. */
  version?: number;
}

/**
 * client -> server request: a LLaMA-Factory or axolotl training YAML converted to a ModelFactory
 * fine-tune config (what `modelfactory import` writes). Paths: where the source lives, the folder the
 * other tool would run in, and the folder the new config is meant for (its paths are relative to it).
 */
export const ImportConfigRequest = 'modelfactory/importConfig';
export interface ImportConfigParams {
  text: string;
  sourcePath?: string;
  cwd?: string;
  outputDir?: string;
}
export type { ImportResult as ImportConfigResult } from './core/config/importConfig';

/**
 * client -> server request: the records the workspace's runs scored (record-loss.jsonl), newest run per
 * dataset, whose lines are unchanged since; sorted by loss or by loss − base_loss (the "Hardest Records" view).
 */
export const HardestRecordsRequest = 'modelfactory/hardestRecords';
export interface HardestRecordsParams {
  /** The workspace folders (absolute paths) to search. */
  roots: string[];
  sort?: 'loss' | 'delta';
  limit?: number;
}
export type { HardestRecord, HardestRecordsResult } from './core/dataset/hardestRecords';
