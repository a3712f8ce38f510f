// Custom messages between the extension (client) and the language server, declared once with their
// params and result types. Both sides (and the LSP tests) import these objects: no call site spells a
// method name. Each says who sends it to whom. Types of the core come in as `import type` only, so
// the client bundle pulls in no server code.
import { NotificationType, RequestType } from 'vscode-languageserver-protocol';
import type { ConfigMemoryEstimate } from './core/config/estimate';
import type { ImportResult } from './core/config/importConfig';
import type { HubLedgerEntry } from './core/datanet/governance';
import type { HardestRecordsResult } from './core/dataset/hardestRecords';
import type { DatasetStats } from './core/dataset/stats';

/** client -> server request: statistics of an open dataset document (null when it is not one). */
export interface DatasetStatsParams {
  uri: string;
}
export interface DatasetStatsResult extends DatasetStats {
  uri: string;
  /** What counted the tokens: a tokenizer's name, or the estimate. */
  tokenizer?: string;
  /** The token limit of `length/too-long`, when the tokens were counted exactly. */
  limit?: number;
  /** Records over `limit` (exact counts only). */
  overLimit?: number;
  /** Records the chat template failed on (exact counts only). */
  templateErrors?: number;
}
export const DatasetStatsRequest = new RequestType<DatasetStatsParams, DatasetStatsResult | null, void>(
  'modelfactory/datasetStats',
);

/**
 * client -> server request: validate a dataset file from disk by path, streamed (for files VS Code
 * will not open, over 50 MB). Progress is reported through the `workDoneToken`.
 */
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
  /** Statistics of the whole file (every finding counted, also those past `maxFindings`). */
  summary: DatasetStats;
  truncated: boolean;
}
export const ValidateFileRequest = new RequestType<ValidateFileParams, ValidateFileResult, void>(
  'modelfactory/validateFile',
);

/** client -> server request: the GPU memory estimate of an open fine-tune config (null: none). */
export interface MemoryEstimateParams {
  uri: string;
  /** The document version the client holds: the answer is for that text or a newer one. */
  version?: number;
}
export type MemoryEstimateResult = ConfigMemoryEstimate;
export const MemoryEstimateRequest = new RequestType<MemoryEstimateParams, MemoryEstimateResult | null, void>(
  'modelfactory/memoryEstimate',
);

/**
 * client -> server request: a LLaMA-Factory or axolotl training YAML converted to a ModelFactory
 * fine-tune config (what `modelfactory import` writes). Paths: where the source lives, the folder the
 * other tool would run in, and the folder the new config is meant for (its paths are relative to it).
 */
export interface ImportConfigParams {
  text: string;
  sourcePath?: string;
  cwd?: string;
  outputDir?: string;
}
export type ImportConfigResult = ImportResult;
export const ImportConfigRequest = new RequestType<ImportConfigParams, ImportConfigResult, void>(
  'modelfactory/importConfig',
);

/**
 * client -> server notification: today's use of the daily caps of hub-linked Datanets (manifests with
 * `hub:`), from the hubs' ledgers. Replaces what was sent before; the server checks open files again.
 */
export interface HubLedgerParams {
  entries: HubLedgerEntry[];
}
export const HubLedgerNotification = new NotificationType<HubLedgerParams>('modelfactory/hubLedger');

/** The notification's entries when every field has its shape (at most 1000 entries), else null. */
export function parseHubLedger(raw: unknown): HubLedgerEntry[] | null {
  const entries = (raw as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries) || entries.length > 1000) return null;
  const out: HubLedgerEntry[] = [];
  for (const e of entries as Record<string, unknown>[]) {
    if (typeof e !== 'object' || e === null) return null;
    const { url, datanet, day, bytes, files, fileNames } = e;
    if (
      typeof url !== 'string' ||
      url.length > 2000 ||
      typeof datanet !== 'string' ||
      datanet.length > 128 ||
      typeof day !== 'string' ||
      !/^\d{4}-\d{2}-\d{2}$/.test(day) ||
      typeof bytes !== 'number' ||
      !Number.isFinite(bytes) ||
      bytes < 0 ||
      typeof files !== 'number' ||
      !Number.isInteger(files) ||
      files < 0 ||
      !Array.isArray(fileNames) ||
      fileNames.length > 1000 ||
      !fileNames.every((n) => typeof n === 'string' && n.length <= 256)
    ) {
      return null;
    }
    out.push({ url, datanet, day, bytes, files, fileNames: fileNames as string[] });
  }
  return out;
}

/**
 * client -> server request: the records the workspace's runs scored (record-loss.jsonl), newest run per
 * dataset, whose lines are unchanged since; sorted by loss or by loss − base_loss (the "Hardest Records" view).
 */
export interface HardestRecordsParams {
  /** The workspace folders (absolute paths) to search. */
  roots: string[];
  sort?: 'loss' | 'delta';
  limit?: number;
}
export type { HardestRecord, HardestRecordsResult } from './core/dataset/hardestRecords';
export const HardestRecordsRequest = new RequestType<HardestRecordsParams, HardestRecordsResult | null, void>(
  'modelfactory/hardestRecords',
);
