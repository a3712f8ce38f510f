// Exact token counts of many records on worker threads: the editor's statistics of a large document
// (DatasetValidator.exactTokenStats) hand their uncounted lines here. Each worker runs the per-record
// analysis with a counter that counts every record exactly (the same code as `modelfactory stats`); the
// lines of a batch are split between the workers.
import type { DatasetValidatorOptions } from '../core/dataset/context';
import { ExampleTokenCounter, NO_TOKENS, type ExampleCount } from '../core/dataset/exampleTokens';
import { RECORD_FORMATS } from '../core/dataset/formats';
import type { BlockAnalysis } from '../core/dataset/stream';
import { DatasetWorkerPool } from './pool';

/** Lines a batch gives the pool at once (split between its workers). */
export const WORKER_BATCH_LINES = 4096;

/** The counts of a block's lines, in the shape exactTokenStats takes. */
export function countsOfBlock(analysis: BlockAnalysis): (ExampleCount | null)[] {
  const out: (ExampleCount | null)[] = [];
  const templateErrors = new Map<number, string>();
  for (const f of analysis.findings) {
    if (f.rule === 'format/chat-template') templateErrors.set(f.range.start.line, f.message);
  }
  let at = 0;
  for (let line = 0; line < analysis.lineCount; line++) {
    const code = analysis.lineCodes[line] ?? 255;
    if (code >= RECORD_FORMATS.length) {
      out.push(null);
      continue;
    }
    const tokens = analysis.tokens[at++] ?? NO_TOKENS;
    const error = templateErrors.get(line);
    if (tokens !== NO_TOKENS) out.push({ tokens, exact: true });
    else out.push(error !== undefined ? { tokens: NO_TOKENS, exact: true, error } : null);
  }
  return out;
}

/**
 * A batch counter on `jobs` workers, or undefined when the options cannot travel to a worker (see
 * DatasetWorkerPool.start). Close it when done.
 */
export async function workerLineCounter(
  options: DatasetValidatorOptions,
  jobs: number,
): Promise<{ countBatch: (texts: string[]) => Promise<(ExampleCount | null)[]>; close(): Promise<void> } | undefined> {
  const counter = options.tokenCounter;
  if (!(counter instanceof ExampleTokenCounter) || !counter.exact) return undefined;
  const pool = await DatasetWorkerPool.start({ ...options, tokenCounter: counter.counting(true) }, jobs);
  if (!pool) return undefined;
  const encoder = new TextEncoder();
  return {
    async countBatch(texts) {
      if (texts.length === 0) return [];
      const size = Math.ceil(texts.length / pool.size);
      const parts: Promise<(ExampleCount | null)[]>[] = [];
      for (let i = 0; i < texts.length; i += size) {
        const bytes = encoder.encode(texts.slice(i, i + size).join('\n'));
        parts.push(pool.analyze(bytes, false).then(countsOfBlock));
      }
      const counts = (await Promise.all(parts)).flat();
      if (counts.length !== texts.length) throw new Error(`counted ${counts.length} lines of ${texts.length}`);
      return counts;
    },
    close: () => pool.close(),
  };
}
