// The parallel lint path: the line batcher, and the worker pool + in-order application giving
// exactly the single-threaded DatasetStream's findings (same order, rule ids, lines, columns,
// messages) and statistics, whatever the batch size, chunk size and worker count.
import assert from 'node:assert/strict';
import { createReadStream, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { DatasetValidatorOptions } from '../../server/src/core/dataset/context';
import type { DatasetStats } from '../../server/src/core/dataset/stats';
import { DatasetStream } from '../../server/src/core/dataset/stream';
import { effectiveSeverity } from '../../server/src/core/rules';
import { ModelFactoryService } from '../../server/src/core/service';
import { DEFAULT_SETTINGS } from '../../server/src/core/settings';
import type { Finding } from '../../server/src/core/types';
import { nodeEnvironment } from '../../server/src/nodeFs';
import { LineBatcher } from '../../server/src/parallel/lineBatcher';
import { lintDatasetFileOnNode } from '../../server/src/parallel/lintFile';
import { ParallelDatasetStream } from '../../server/src/parallel/parallelStream';
import { DatasetWorkerPool } from '../../server/src/parallel/pool';
import { validatorOptions } from '../dataset/options';

const ROOT = resolve(__dirname, '..', '..');

const defaultOptions: DatasetValidatorOptions = validatorOptions({ maxTokens: 512, minChars: 8, nearThreshold: 0.8 });

/** Other severities (some off, dedup as errors, invalid UTF-8 as a warning), a demanded format and an extra schema. */
const strictOptions: DatasetValidatorOptions = {
  ...defaultOptions,
  severityOf: (rule) =>
    effectiveSeverity(rule, {
      'pii/*': 'off',
      'encoding/bom': 'off',
      'dedup/exact': 'error',
      'dedup/near': 'error',
      'encoding/invalid-utf8': 'warning',
      'encoding/mixed-eol': 'error',
    }),
  format: 'messages',
  recordSchema: { type: 'object', required: ['messages'] },
};

const enc = new TextEncoder();
const bytesOf = (...parts: (string | number[])[]): Uint8Array => {
  const out: number[] = [];
  for (const p of parts) out.push(...(typeof p === 'string' ? enc.encode(p) : p));
  return new Uint8Array(out);
};
const chat = (user: string, assistant: string, extra: object = {}) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ],
    ...extra,
  });
const story = (i: number) =>
  `Record ${i} explains how the river carries sediment to the sea and builds a delta over many years of floods.`;

/** One line of every kind of defect, each line ending chosen by the caller. */
function defectLines(): (string | number[])[][] {
  const longAnswer = 'The adapter learns quickly when the learning rate is small. '.repeat(400);
  return [
    [chat('What is a Datanet?', 'A curated dataset with rules. 😀 and \u2028 inside.')],
    ['{"messages": [}'], // jsonl/invalid-json
    [''], // jsonl/blank-line
    ['{"foo": 1}'], // format/unknown
    ['{"instruction": "Say hi to everyone here", "input": "", "output": "Hi, everyone in the room."}'], // format/mixed
    ['{"messages": "not a list"}'], // schema/wrong-type
    [chat('Unknown field here?', 'Yes, there is one.', { extra: 1, system: 'Be brief.' })], // schema/extra-field, schema/unknown-field
    ['{"conversations": [{"from": "human"}, {"from": "gpt", "value": "An answer without a question."}]}'], // schema/missing-field
    [JSON.stringify({ messages: [{ role: 'bot', content: 'Hi there friend' }] })], // messages/unknown-role
    [JSON.stringify({ messages: [{ role: 'user', content: 'Nobody answers this one' }] })], // messages/no-assistant
    [chat('Is the answer empty?', '')], // messages/empty-content
    [
      JSON.stringify({
        messages: [
          { role: 'assistant', content: 'I speak first here' },
          { role: 'user', content: 'Then I answer late' },
        ],
      }),
    ], // messages/role-order
    ['{"text": ""}'], // content/empty
    [chat('What is a Datanet?', 'A curated dataset with rules. 😀 and \u2028 inside.')], // dedup/exact of the first
    [chat('Tell me about rivers', `${story(1)} ${story(2)} ${story(3)}`)],
    [chat('Tell me about rivers', `${story(1)} ${story(2)} ${story(3)}`.replace('many', 'several'))], // dedup/near
    [chat('Who do I write to?', 'Write to help.desk@acme-corp.com today.')], // pii/email
    [chat('Who do I call?', 'Call +1-202-555-2368 for help.')], // pii/phone
    [chat('Which key?', 'Use AKIA2JQWERTY7KLMN3PQ in the config.')], // secret/api-key
    [chat('Show a key', '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----')], // secret/private-key
    [chat('Write a long answer please', longAnswer)], // length/too-long, and longer than most batches
    ['{"text": "tiny"}'], // length/too-short
    ['{"text": "bad byte ', [0xff], ' and a cut sequence ', [0xe2, 0x82], '"}'], // encoding/invalid-utf8
    ['{"text": "', Array.from({ length: 120 }, () => 0xc0), '"}'], // past the file's cap of invalid UTF-8 findings
    ['{"text": "one more bad byte past the cap ', [0xfe], '"}'],
    [[0xef, 0xbb, 0xbf], '{"text": "a byte order mark is only dropped at the start of the file"}'],
  ];
}

/** A file with a BOM and an invalid byte on its first line, mostly LF endings, some CRLF and CR, no final newline. */
function defectFile(): Uint8Array {
  const parts: (string | number[])[] = [[0xef, 0xbb, 0xbf], '{"text": "starts after a BOM ', [0xff], ' here"}\n'];
  let i = 0;
  for (let round = 0; round < 3; round++) {
    for (const line of defectLines()) {
      parts.push(...line);
      parts.push(i % 11 === 5 ? '\r\n' : i % 13 === 7 ? '\r' : '\n');
      i++;
    }
    for (let k = 0; k < 20; k++)
      parts.push(chat(`Question ${round}-${k} about training`, story(100 * round + k)), '\n');
  }
  parts.push(chat('The last line', 'It has no line ending at all.'));
  return bytesOf(...parts);
}

/** CRLF throughout, many short lines (so CRLFs fall on batch and chunk boundaries), ending in a lone CR. */
function crlfFile(): Uint8Array {
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) lines.push(i % 9 === 4 ? '' : `{"text": "${story(i % 17)}"}`);
  return bytesOf(lines.join('\r\n') + '\r');
}

const INPUTS: Record<string, Uint8Array> = {
  defects: defectFile(),
  crlf: crlfFile(),
  empty: new Uint8Array(0),
  'only a BOM': bytesOf([0xef, 0xbb, 0xbf]),
  'blank lines': bytesOf('\n\n\r\n\r'),
  'one line, no newline': bytesOf('{"text": "just one record without a newline"}'),
};

interface Outcome {
  findings: Finding[];
  stats: DatasetStats;
}

function singleThreaded(bytes: Uint8Array, opts: DatasetValidatorOptions): Outcome {
  const findings: Finding[] = [];
  const s = new DatasetStream(opts, (f) => findings.push(f));
  s.push(bytes);
  s.end();
  return { findings, stats: s.stats() };
}

async function parallel(
  pool: DatasetWorkerPool,
  bytes: Uint8Array,
  opts: DatasetValidatorOptions,
  batchBytes: number,
  chunkBytes: number,
): Promise<Outcome> {
  const findings: Finding[] = [];
  const s = new ParallelDatasetStream(pool, opts, (f) => findings.push(f), { batchBytes, maxInFlight: 3 });
  // Fresh copies: the pool takes over the buffers it is handed.
  for (let i = 0; i < bytes.length; i += chunkBytes) await s.push(bytes.slice(i, i + chunkBytes));
  await s.end();
  return { findings, stats: s.stats() };
}

describe('LineBatcher', () => {
  it('keeps a CRLF whole across chunks and waits for the byte after a final CR', () => {
    const b = new LineBatcher(1);
    assert.deepEqual(b.push(bytesOf('a\r')), []);
    assert.deepEqual(b.push(bytesOf('\nb\rc')), [bytesOf('a\r\nb\r')]);
    assert.deepEqual(b.finish(), bytesOf('c'));
    assert.equal(b.finish(), undefined);
  });

  it('cuts at the last line ending once the batch size is reached, and loses or adds no byte', () => {
    const byte = fc.constantFrom(0x61, 0x0a, 0x0d, 0xc3, 0xa9);
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }).map((a) => a.map((x) => [0x61, 0x0a, 0x0d, 0xc3][x % 4]!)),
        fc.array(byte, { maxLength: 5 }),
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: 1, max: 50 }),
        (body, tail, batchBytes, chunkBytes) => {
          const input = new Uint8Array([...body, ...tail]);
          const batcher = new LineBatcher(batchBytes);
          const batches: Uint8Array[] = [];
          let cutAt = 0;
          for (let i = 0; i < input.length; i += chunkBytes) {
            const got = batcher.push(input.slice(i, i + chunkBytes));
            batches.push(...got);
            for (const batch of got) cutAt += batch.length;
            if (got.length > 0) {
              // The cut is the last line ending that has arrived: what waits holds none but a final CR.
              const waiting = input.subarray(cutAt, Math.min(input.length, i + chunkBytes));
              assert.ok(!waiting.subarray(0, waiting.length - 1).some((x) => x === 0x0a || x === 0x0d));
              assert.ok(waiting[waiting.length - 1] !== 0x0a);
            }
          }
          const full = batches.length;
          const rest = batcher.finish();
          if (rest) batches.push(rest);
          assert.deepEqual(new Uint8Array(batches.flatMap((x) => [...x])), input);
          for (let k = 0; k < full; k++) {
            const batch = batches[k]!;
            const last = batch[batch.length - 1];
            assert.ok(batch.length >= Math.max(1, batchBytes), 'a batch is at least the batch size');
            assert.ok(last === 0x0a || last === 0x0d, 'a batch ends at a line ending');
            assert.ok(!(last === 0x0d && batches[k + 1]?.[0] === 0x0a), 'a CRLF is never split');
            assert.ok(batch.byteOffset === 0, 'a batch starts its own buffer, so it can be handed over whole');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('ParallelDatasetStream', () => {
  const pools = new Map<number, DatasetWorkerPool>();
  before(async () => {
    for (const workers of [1, 2, 3]) {
      const pool = await DatasetWorkerPool.start(defaultOptions, workers);
      assert.ok(pool, `a pool of ${workers} workers starts`);
      pools.set(workers, pool);
    }
  });
  after(async () => {
    for (const pool of pools.values()) await pool.close();
  });

  it('plants every dataset defect the stream can report in the test file', () => {
    const rules = new Set(singleThreaded(INPUTS.defects!, defaultOptions).findings.map((f) => f.rule));
    for (const rule of [
      'jsonl/invalid-json',
      'jsonl/blank-line',
      'encoding/bom',
      'encoding/invalid-utf8',
      'encoding/mixed-eol',
      'format/unknown',
      'format/mixed',
      'schema/missing-field',
      'schema/wrong-type',
      'schema/unknown-field',
      'schema/extra-field',
      'messages/unknown-role',
      'messages/no-assistant',
      'messages/empty-content',
      'messages/role-order',
      'content/empty',
      'dedup/exact',
      'dedup/near',
      'pii/email',
      'pii/phone',
      'secret/api-key',
      'secret/private-key',
      'length/too-long',
      'length/too-short',
    ]) {
      assert.ok(rules.has(rule), `the defect file yields ${rule}`);
    }
    const invalid = singleThreaded(INPUTS.defects!, defaultOptions).findings.filter(
      (f) => f.rule === 'encoding/invalid-utf8',
    );
    assert.equal(invalid.length, 100, 'the file passes the cap on invalid UTF-8 findings');
    assert.equal(invalid[0]!.range.start.character, 29, 'columns on the first line do not count the BOM');
  });

  for (const [name, bytes] of Object.entries(INPUTS)) {
    it(`equals the single-threaded stream on "${name}" for 1, 2 and 3 workers, any batch and chunk size`, async () => {
      const expected = singleThreaded(bytes, defaultOptions);
      const chunkSizes = bytes.length < 4096 ? [1, 7, 1 << 20] : [7, 4093, 1 << 20];
      for (const [workers, pool] of pools) {
        for (const batchBytes of [1, 64, 5000, 1 << 20]) {
          for (const chunkBytes of chunkSizes) {
            const got = await parallel(pool, bytes, defaultOptions, batchBytes, chunkBytes);
            const label = `${workers} workers, batches of ${batchBytes}, chunks of ${chunkBytes}`;
            assert.deepEqual(got.findings, expected.findings, label);
            assert.deepEqual(got.stats, expected.stats, label);
          }
        }
      }
    });
  }

  it('equals the single-threaded stream under other severities, a demanded format and a record schema', async () => {
    const pool = await DatasetWorkerPool.start(strictOptions, 2);
    assert.ok(pool);
    try {
      for (const bytes of [INPUTS.defects!, INPUTS.crlf!]) {
        const expected = singleThreaded(bytes, strictOptions);
        assert.ok(expected.findings.some((f) => f.rule === 'format/mixed' && f.severity === 'error'));
        assert.ok(!expected.findings.some((f) => f.rule.startsWith('pii/')));
        for (const batchBytes of [1, 300, 1 << 20]) {
          const got = await parallel(pool, bytes, strictOptions, batchBytes, 4093);
          assert.deepEqual(got.findings, expected.findings);
          assert.deepEqual(got.stats, expected.stats);
        }
      }
    } finally {
      await pool.close();
    }
  });

  it('the built worker bundle gives the same results (npm run build first)', async () => {
    const built = join(ROOT, 'dist', 'server', 'datasetWorker.js');
    assert.ok(existsSync(built), `${built} is built`);
    const pool = await DatasetWorkerPool.start(defaultOptions, 2, [built]);
    assert.ok(pool, 'the bundled worker starts');
    try {
      const expected = singleThreaded(INPUTS.defects!, defaultOptions);
      const got = await parallel(pool, INPUTS.defects!, defaultOptions, 2000, 4093);
      assert.deepEqual(got.findings, expected.findings);
      assert.deepEqual(got.stats, expected.stats);
    } finally {
      await pool.close();
    }
  });

  it('declines options a worker cannot rebuild, and rejects work after close', async () => {
    const custom = { ...defaultOptions, tokenCounter: { exact: true, name: 'in-memory', count: () => 1 } };
    assert.equal(await DatasetWorkerPool.start(custom, 2), undefined);
    const pool = await DatasetWorkerPool.start(defaultOptions, 1);
    assert.ok(pool);
    await pool.close();
    await assert.rejects(pool.analyze(bytesOf('{"text": "late"}\n'), true), /closed/);
  });
});

describe('lintDatasetFileOnNode', () => {
  it('gives the same findings and statistics with workers as with --jobs 1, from a file on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-parallel-'));
    const path = join(dir, 'data.jsonl');
    writeFileSync(path, INPUTS.defects!);
    const service = new ModelFactoryService(nodeEnvironment(), DEFAULT_SETTINGS);
    const lint = async (jobs: number) => {
      const findings: Finding[] = [];
      const chunks = createReadStream(path, { highWaterMark: 1000 });
      const stats = await lintDatasetFileOnNode(
        service,
        path,
        INPUTS.defects!.length,
        chunks,
        (f) => findings.push(f),
        undefined,
        { jobs, minParallelBytes: 0, batchBytes: 3000 },
      );
      return { findings, stats };
    };
    const one = await lint(1);
    assert.ok(one.findings.length > 50);
    assert.deepEqual(await lint(3), one);
  });
});
