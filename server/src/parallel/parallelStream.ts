// The parallel DatasetStream: the byte stream is cut into batches of whole lines, workers run the
// per-record half (BlockAnalyzer) and this thread applies their analyses strictly in file order
// through the same CrossRecordChecker as the single-threaded stream, so findings and statistics are
// identical whatever the batch size and worker count. At most `maxInFlight` batches are out at once:
// push() waits when they are, which holds back the reader.
import type { BlockAnalysis, DatasetChunkSink, DatasetStreamOptions } from '../core/dataset/stream';
import { CrossRecordChecker } from '../core/dataset/stream';
import type { DatasetStats } from '../core/dataset/stats';
import type { Finding } from '../core/types';
import { LineBatcher } from './lineBatcher';
import type { DatasetWorkerPool } from './pool';

export const DEFAULT_BATCH_BYTES = 4 * 1024 * 1024;

export interface ParallelStreamOptions {
  /** Smallest batch sent to a worker (default 4 MiB; a batch ends at the last line end that has arrived by then). */
  batchBytes?: number;
  /** Batches sent and not yet applied (default two per worker, plus one). */
  maxInFlight?: number;
}

interface InFlight {
  done: Promise<void>;
  analysis?: BlockAnalysis;
}

export class ParallelDatasetStream implements DatasetChunkSink {
  private readonly batcher: LineBatcher;
  private readonly checker: CrossRecordChecker;
  private readonly maxInFlight: number;
  private readonly inFlight: InFlight[] = [];
  private atFileStart = true;
  private ended = false;

  constructor(
    private readonly pool: DatasetWorkerPool,
    opts: DatasetStreamOptions,
    onFinding: (finding: Finding) => void,
    options: ParallelStreamOptions = {},
  ) {
    this.batcher = new LineBatcher(options.batchBytes ?? DEFAULT_BATCH_BYTES);
    this.checker = new CrossRecordChecker(opts, onFinding);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 2 * pool.size + 1);
  }

  /** Feeds the next chunk; resolves when there is room for more. */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.ended) throw new Error('ParallelDatasetStream: push after end');
    for (const batch of this.batcher.push(chunk)) await this.dispatch(batch);
    this.applyFinished();
  }

  /** Flushes the last line, applies every batch, and reports what needs the whole file. */
  async end(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    const rest = this.batcher.finish();
    if (rest) await this.dispatch(rest);
    while (this.inFlight.length > 0) await this.applyOldest();
    this.checker.finish();
  }

  stats(): DatasetStats {
    return this.checker.stats();
  }

  /** Bytes held by the cross-record indices (for memory reports). */
  indexBytes(): number {
    return this.checker.indexBytes();
  }

  private async dispatch(batch: Uint8Array): Promise<void> {
    this.applyFinished();
    while (this.inFlight.length >= this.maxInFlight) await this.applyOldest();
    const entry: InFlight = { done: Promise.resolve() };
    // A LineBatcher batch owns its buffer: it is transferred, not copied.
    entry.done = this.pool.analyze(batch, this.atFileStart, true).then((analysis) => {
      entry.analysis = analysis;
    });
    // A failure is raised where the batch's turn comes (applyOldest), not as an unhandled rejection.
    entry.done.catch(() => undefined);
    this.atFileStart = false;
    this.inFlight.push(entry);
  }

  private async applyOldest(): Promise<void> {
    const oldest = this.inFlight[0];
    if (!oldest) return;
    await oldest.done;
    this.inFlight.shift();
    if (oldest.analysis) this.checker.apply(oldest.analysis);
  }

  /** Applies, in order, the oldest batches whose analyses have arrived. */
  private applyFinished(): void {
    for (let oldest = this.inFlight[0]; oldest?.analysis; oldest = this.inFlight[0]) {
      this.inFlight.shift();
      this.checker.apply(oldest.analysis);
    }
  }
}
