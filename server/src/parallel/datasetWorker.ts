// A dataset worker thread: rebuilds the validator options from its workerData, then analyses the
// blocks of whole lines it is sent (the per-record half of DatasetStream) and posts each analysis
// back with its typed arrays transferred.
import { parentPort, workerData } from 'node:worker_threads';
import { BlockAnalyzer, blockAnalysisBuffers } from '../core/dataset/stream';
import { fromWorkerOptions } from './workerProtocol';
import type { BlockRequest, WorkerOptions, WorkerReply } from './workerProtocol';

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('datasetWorker runs as a worker thread');
  const post = (reply: WorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(reply, transfer);
  let analyzer: BlockAnalyzer;
  try {
    analyzer = new BlockAnalyzer(await fromWorkerOptions(workerData as WorkerOptions));
  } catch (err) {
    post({ type: 'failed', message: (err as Error)?.message ?? String(err) });
    return;
  }
  port.on('message', (request: BlockRequest) => {
    try {
      const analysis = analyzer.analyze(request.bytes, request.atFileStart);
      post({ type: 'block', seq: request.seq, analysis }, blockAnalysisBuffers(analysis));
    } catch (err) {
      post({ type: 'error', seq: request.seq, message: (err as Error)?.stack ?? String(err) });
    }
  });
  post({ type: 'ready' });
}

void main();
