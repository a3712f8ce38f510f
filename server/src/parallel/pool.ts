// A pool of dataset worker threads, all built with the same validator options. Blocks go to the
// worker with the fewest outstanding; each answer resolves the promise of its block. A worker that
// dies breaks the pool: every outstanding and later block is rejected, so a lint fails loudly
// rather than silently missing lines.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DatasetValidatorOptions } from '../core/dataset/context';
import type { BlockAnalysis } from '../core/dataset/stream';
import { toWorkerOptions } from './workerProtocol';
import type { BlockRequest, WorkerOptions, WorkerReply } from './workerProtocol';

interface PoolWorker {
  worker: Worker;
  outstanding: number;
}

interface Pending {
  resolve(analysis: BlockAnalysis): void;
  reject(err: Error): void;
  owner: PoolWorker;
}

/**
 * Where the worker entry is: next to the bundle that runs this code (dist/server/datasetWorker.js,
 * also found from dist/cli/), or, when running from TypeScript sources under tsx, the .ts entry
 * beside this file, then the built one.
 */
export function datasetWorkerCandidates(): string[] {
  if (__filename.endsWith('.ts')) {
    const fromSource = process.execArgv.some((arg) => arg.includes('tsx')) ? [join(__dirname, 'datasetWorker.ts')] : [];
    return [...fromSource, join(__dirname, '..', '..', '..', 'dist', 'server', 'datasetWorker.js')].filter(existsSync);
  }
  return [join(__dirname, 'datasetWorker.js'), join(__dirname, '..', 'server', 'datasetWorker.js')].filter(existsSync);
}

function startWorker(script: string, data: WorkerOptions): Promise<Worker> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: data });
    const cleanUp = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const onMessage = (reply: WorkerReply) => {
      cleanUp();
      if (reply.type === 'ready') resolve(worker);
      else {
        void worker.terminate();
        reject(new Error(reply.type === 'failed' ? reply.message : `unexpected ${reply.type} from a starting worker`));
      }
    };
    const onError = (err: Error) => {
      cleanUp();
      void worker.terminate();
      reject(err);
    };
    const onExit = (code: number) => {
      cleanUp();
      reject(new Error(`dataset worker exited with code ${code} while starting`));
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
}

export class DatasetWorkerPool {
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 0;
  private broken: Error | undefined;
  private closing = false;

  private constructor(private readonly workers: PoolWorker[]) {
    for (const w of workers) {
      w.worker.on('message', (reply: WorkerReply) => this.onReply(reply));
      w.worker.on('error', (err: Error) => this.fail(err));
      w.worker.on('exit', (code: number) => {
        if (!this.closing) this.fail(new Error(`a dataset worker exited with code ${code}`));
      });
    }
  }

  /**
   * Starts `count` workers with `opts`; undefined when the options cannot be rebuilt in a worker
   * (a token counter that is not a tokenizer.json on disk) or no worker entry starts.
   */
  static async start(
    opts: DatasetValidatorOptions,
    count: number,
    scripts: readonly string[] = datasetWorkerCandidates(),
  ): Promise<DatasetWorkerPool | undefined> {
    const data = toWorkerOptions(opts);
    if (!data || count < 1) return undefined;
    for (const script of scripts) {
      const started = await Promise.allSettled(Array.from({ length: count }, () => startWorker(script, data)));
      const workers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      if (workers.length === count) return new DatasetWorkerPool(workers.map((worker) => ({ worker, outstanding: 0 })));
      await Promise.all(workers.map((w) => w.terminate()));
    }
    return undefined;
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Analyses a block of whole lines on the least busy worker. `bytes` is handed over (detached).
   * `ownsBuffer`: nothing else uses the rest of `bytes.buffer` (a LineBatcher batch), so the buffer
   * is transferred as it is, where another view is copied first (a Node Buffer may share a pool).
   */
  analyze(bytes: Uint8Array, atFileStart: boolean, ownsBuffer = false): Promise<BlockAnalysis> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closing) return Promise.reject(new Error('the dataset worker pool is closed'));
    let owner = this.workers[0] as PoolWorker;
    for (const w of this.workers) if (w.outstanding < owner.outstanding) owner = w;
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    const own = whole || (ownsBuffer && bytes.buffer instanceof ArrayBuffer) ? bytes : bytes.slice();
    const seq = this.nextSeq++;
    const request: BlockRequest = { seq, bytes: own, atFileStart };
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject, owner });
      owner.outstanding++;
      owner.worker.postMessage(request, [own.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.fail(new Error('the dataset worker pool is closed'));
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private onReply(reply: WorkerReply): void {
    if (reply.type !== 'block' && reply.type !== 'error') return;
    const p = this.pending.get(reply.seq);
    if (!p) return;
    this.pending.delete(reply.seq);
    p.owner.outstanding--;
    if (reply.type === 'block') p.resolve(reply.analysis);
    else p.reject(new Error(`dataset worker: ${reply.message}`));
  }

  private fail(err: Error): void {
    this.broken ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
