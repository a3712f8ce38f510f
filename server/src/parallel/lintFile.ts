// The Node side of `lintDatasetFile`, used by the CLI and the server's modelfactory/validateFile:
// files of a few MB and more are validated by a pool of worker threads (one per core unless told
// otherwise); smaller files, `jobs: 1`, and options a worker cannot rebuild use the single-threaded
// DatasetStream. The results are the same either way.
import { availableParallelism } from 'node:os';
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
