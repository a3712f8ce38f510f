// The Node side of `lintDatasetFile`, used by the CLI and the server's modelfactory/validateFile:
// files of a few MB and more are validated by a pool of worker threads (one per core unless told
// otherwise); smaller files, `jobs: 1`, and options a worker cannot rebuild use the single-threaded
// DatasetStream. The results are the same either way.
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { readRangeBounded } from '../boundedRead';
import { sniffJsonDatasetHead } from '../core/dataset/jsonArray';
import { JsonArrayStream } from '../core/dataset/jsonArrayStream';
import { checkMediaRefs, MediaFileChecker, type LineMediaRef } from '../core/dataset/mediaFiles';
import { DatasetStream } from '../core/dataset/stream';
import type { DatasetChunkSink, DatasetStreamOptions } from '../core/dataset/stream';
import type { DatasetStats } from '../core/dataset/stats';
import type { ModelFactoryService } from '../core/service';
import type { Finding } from '../core/types';
import { ParallelDatasetStream } from './parallelStream';
import type { ParallelStreamOptions } from './parallelStream';
import { DatasetWorkerPool } from './pool';

/** Below this size, starting workers costs more than it saves. */
export const PARALLEL_MIN_BYTES = 8 * 1024 * 1024;

/**
 * Past about four workers the in-order cross-record pass on the main thread is the limit, and each
 * worker costs 40-100 MB: more would only add memory (the 1 GB budget of a large lint).
 */
const MAX_DEFAULT_JOBS = 4;

export function defaultJobs(): number {
  return Math.max(1, Math.min(MAX_DEFAULT_JOBS, availableParallelism()));
}

export interface NodeLintOptions extends ParallelStreamOptions {
  /** Worker threads (default: one per core, at most four); 1 keeps the single-threaded path. */
  jobs?: number;
  /** Smallest file validated in parallel (default PARALLEL_MIN_BYTES). */
  minParallelBytes?: number;
  /** Changes the file's options before it is read (see ModelFactoryService.lintDatasetFile). */
  adjust?: (options: DatasetStreamOptions) => DatasetStreamOptions;
}

export async function lintDatasetFileOnNode(
  service: ModelFactoryService,
  path: string,
  sizeBytes: number,
  chunks: AsyncIterable<Uint8Array>,
  onFinding: (finding: Finding) => void,
  onProgress?: (doneBytes: number, totalBytes: number) => void,
  options: NodeLintOptions = {},
): Promise<DatasetStats> {
  const jobs = Math.max(1, Math.floor(options.jobs ?? defaultJobs()));
  if (jobs === 1 || sizeBytes < (options.minParallelBytes ?? PARALLEL_MIN_BYTES)) {
    return service.lintDatasetFile(path, sizeBytes, chunks, onFinding, onProgress, undefined, options.adjust);
  }
  let pool: DatasetWorkerPool | undefined;
  const openStream = async (opts: DatasetStreamOptions, emit: (f: Finding) => void): Promise<DatasetChunkSink> => {
    pool = await DatasetWorkerPool.start(opts, jobs);
    return pool ? new ParallelDatasetStream(pool, opts, emit, options) : new DatasetStream(opts, emit);
  };
  try {
    return await service.lintDatasetFile(path, sizeBytes, chunks, onFinding, onProgress, openStream, options.adjust);
  } finally {
    await pool?.close();
  }
}

/**
 * A `.json` array dataset streamed from disk (the CLI's path for one over the in-memory cap): its
 * elements are found by a byte scanner and checked one by one, so memory is bounded by the largest
 * element (`maxElementBytes`, over which an element is reported and skipped), not by the file.
 * Findings come element by element, format/mixed and media/missing-file at the end.
 */
export async function lintJsonArrayFileOnNode(
  service: ModelFactoryService,
  path: string,
  sizeBytes: number,
  chunks: AsyncIterable<Uint8Array>,
  maxElementBytes: number,
  onFinding: (finding: Finding) => void,
  onProgress?: (doneBytes: number, totalBytes: number) => void,
): Promise<DatasetStats> {
  const policy = await service.datasetPolicy(path);
  if (policy.datanet) {
    for (const f of await service.datanets.capFindings(path, sizeBytes, policy.datanet, policy.severityOf))
      onFinding(f);
  }
  const mediaSeverity = policy.options.severityOf('media/missing-file');
  const media: LineMediaRef[] = [];
  const errorLines = new Set<number>();
  const sink = (f: Finding) => {
    if (mediaSeverity && f.severity === 'error') errorLines.add(f.range.start.line);
    onFinding(f);
  };
  const stream = new JsonArrayStream(
    mediaSeverity ? { ...policy.options, onMediaRefs: (refs) => media.push(...refs) } : policy.options,
    maxElementBytes,
    sink,
  );
  let done = 0;
  for await (const chunk of chunks) {
    stream.push(chunk);
    done += chunk.length;
    onProgress?.(done, sizeBytes);
  }
  stream.end();
  const stats = stream.stats();
  if (!mediaSeverity || media.length === 0) return stats;
  const found = await checkMediaRefs(media, dirname(path), new MediaFileChecker(service.env), mediaSeverity);
  if (found.length === 0) return stats;
  const findingsByRule = { ...stats.findingsByRule };
  const rejected = new Set<number>();
  for (const f of found) {
    onFinding(f);
    findingsByRule[f.rule] = (findingsByRule[f.rule] ?? 0) + 1;
    if (f.severity === 'error' && !errorLines.has(f.range.start.line)) rejected.add(f.range.start.line);
  }
  const accepted = Math.max(0, Math.round(stats.acceptance * stats.records) - rejected.size);
  return { ...stats, findingsByRule, acceptance: stats.records === 0 ? 1 : accepted / stats.records };
}

/** Bytes of a large `.json` file read to tell a dataset from other JSON. */
const SNIFF_HEAD_BYTES = 1 << 20;

/**
 * Whether a `.json` file too large to hold is a dataset, by its first MiB (see sniffJsonDatasetHead);
 * undefined when it is.
 */
export async function largeJsonSkipReason(path: string): Promise<string | undefined> {
  const head = await readRangeBounded(path, 0, SNIFF_HEAD_BYTES);
  if (!head) return 'unreadable';
  const verdict = sniffJsonDatasetHead(new TextDecoder().decode(head));
  return verdict.dataset ? undefined : verdict.reason;
}
