// modelfactory/validateFile on a file above the parallel threshold, through the real server
// process (its bundle finds dist/server/datasetWorker.js beside itself): the planted findings at
// their lines and the full record count, the same as the single-threaded stream gives.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DatasetStream } from '../../server/src/core/dataset/stream';
import { effectiveSeverity } from '../../server/src/core/rules';
import { DEFAULT_SETTINGS } from '../../server/src/core/settings';
import { estimateTokenCounter } from '../../server/src/core/tokenizer';
import type { Finding } from '../../server/src/core/types';
import { PARALLEL_MIN_BYTES } from '../../server/src/parallel/lintFile';
import { startServer } from '../lsp/harness';
import { ValidateFileRequest } from '../../server/src/protocol';

const VOCAB = 'river model data token layer batch memory answer city light water plant number time build test'.split(
  ' ',
);

/** Twelve words that differ from one record to the next, so that few records are near duplicates. */
function words(seed: number): string {
  const out: string[] = [];
  for (let k = 0, x = seed + 1; k < 12; k++, x = (x * 1103515245 + 12345) % 2147483648) out.push(VOCAB[x % 16]!);
  return out.join(' ');
}

describe('modelfactory/validateFile on a large file', () => {
  it('answers with the findings and statistics of the single-threaded stream', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-lsp-large-'));
    const path = join(dir, 'large.jsonl');
    const lines: string[] = [];
    for (let size = 0, i = 0; size < PARALLEL_MIN_BYTES + 512 * 1024; i++) {
      const line =
        i % 4001 === 17
          ? '{"text": oops}'
          : JSON.stringify({
              text: `Record ${i}: ${words(i)} ${words(i * 31 + 7)} ${words(i * 97 + 3)}.`,
            });
      lines.push(line);
      size += line.length + 1;
    }
    writeFileSync(path, lines.join('\n') + '\n');

    const expected: Finding[] = [];
    const reference = new DatasetStream(
      {
        severityOf: (rule) => effectiveSeverity(rule),
        maxTokens: DEFAULT_SETTINGS.maxTokens,
        minChars: 1,
        nearThreshold: DEFAULT_SETTINGS.nearDuplicateThreshold,
        tokenCounter: estimateTokenCounter(),
      },
      (f) => expected.push(f),
    );
    reference.push(readFileSync(path));
    reference.end();

    const server = await startServer();
    try {
      const result = (await server.connection.sendRequest(ValidateFileRequest, {
        path,
        maxFindings: 100_000,
      })) as {
        findings: { rule: string; line: number; character: number; message: string }[];
        summary: { records: number; invalid: number };
      };
      assert.ok(expected.some((f) => f.rule === 'jsonl/invalid-json'));
      assert.deepEqual(
        result.findings,
        expected.map((f) => ({
          rule: f.rule,
          severity: f.severity,
          line: f.range.start.line,
          character: f.range.start.character,
          message: f.message,
        })),
      );
      assert.deepEqual(result.summary, { ...reference.stats() });
    } finally {
      await server.stop();
    }
  });
});
