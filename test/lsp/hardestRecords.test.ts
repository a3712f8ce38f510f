// The real language server answering modelfactory/hardestRecords: the workspace's record-loss.jsonl files
// found under its folders, the newest run per dataset, only lines whose text still matches the run's sha256
// (on disk, or in the open editor when the dataset is open), sorted by loss or by loss − base_loss.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HardestRecordsRequest, type HardestRecordsParams, type HardestRecordsResult } from '../../server/src/protocol';
import { open, startServer, type ServerHandle } from './harness';

const sha = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const record = (i: number) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `Q${i}` },
      { role: 'assistant', content: `A${i}` },
    ],
  });

describe('language server: the Hardest Records request', () => {
  let server: ServerHandle;
  let ws: string;
  let train: string;
  let extra: string;
  const lines = Array.from({ length: 6 }, (_, i) => record(i));

  const writeRun = (folder: string, rows: object[], mtime: number) => {
    mkdirSync(folder, { recursive: true });
    const path = join(folder, 'record-loss.jsonl');
    writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n{broken\n');
    utimesSync(path, mtime, mtime);
  };

  before(async () => {
    ws = realpathSync(mkdtempSync(join(tmpdir(), 'mf-lsp-hardest-')));
    train = join(ws, 'data', 'train.jsonl');
    extra = join(ws, 'data', 'extra.jsonl');
    mkdirSync(join(ws, 'data'));
    // Line 4 changed on disk since the runs: it must not show.
    writeFileSync(train, lines.map((l, i) => (i === 3 ? record(99) : l)).join('\n') + '\n');
    writeFileSync(extra, record(50) + '\n');
    const now = Date.now() / 1000;
    // An older run scored train.jsonl with other losses: the newer one wins.
    writeRun(
      join(ws, 'outputs', 'old'),
      [{ file: train, line: 1, sha256: sha(lines[0]!), loss: 9, base_loss: 1 }],
      now - 100,
    );
    writeRun(
      join(ws, 'outputs', 'new'),
      [
        ...lines.map((l, i) => ({
          file: train,
          line: i + 1,
          sha256: sha(l),
          loss: [0.1, 2.5, 0.4, 5, 1.2, 0.05][i],
          base_loss: [3, 2.6, 0.1, 5, 4, null][i],
        })),
        { file: join(ws, 'gone.jsonl'), line: 1, sha256: sha('x'), loss: 7, base_loss: 1 },
      ],
      now,
    );
    writeRun(
      join(ws, '.modelfactory', 'runs', 'local-1'),
      [{ file: extra, line: 1, sha256: sha(record(50)), loss: 3.3, base_loss: 3.0 }],
      now,
    );
    // A FIFO as a record-loss file and as a scored dataset: neither is read (no hang), the rest still answers.
    mkdirSync(join(ws, 'outputs', 'fifo'), { recursive: true });
    execFileSync('mkfifo', [join(ws, 'outputs', 'fifo', 'record-loss.jsonl')]);
    execFileSync('mkfifo', [join(ws, 'data', 'pipe.jsonl')]);
    writeRun(
      join(ws, 'outputs', 'piped'),
      [{ file: join(ws, 'data', 'pipe.jsonl'), line: 1, sha256: sha('x'), loss: 8, base_loss: 1 }],
      now - 50,
    );
    // Inside node_modules: never searched.
    writeRun(
      join(ws, 'node_modules', 'pkg'),
      [{ file: extra, line: 1, sha256: sha(record(50)), loss: 100, base_loss: 0 }],
      now + 50,
    );
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  const ask = (params: unknown) =>
    server.connection.sendRequest(
      HardestRecordsRequest,
      params as HardestRecordsParams,
    ) as Promise<HardestRecordsResult>;

  it('lists unchanged records of the newest run per dataset, by loss and by loss − base_loss', async () => {
    const byLoss = await ask({ roots: [ws] });
    assert.deepEqual(
      byLoss.records.map((r) => [r.file === train ? 'train' : 'extra', r.line, r.loss, r.run]),
      [
        ['extra', 1, 3.3, 'local-1'],
        ['train', 2, 2.5, 'new'],
        ['train', 5, 1.2, 'new'],
        ['train', 3, 0.4, 'new'],
        ['train', 1, 0.1, 'new'],
        ['train', 6, 0.05, 'new'],
      ],
    );
    assert.equal(byLoss.runs, 4, 'old, new, piped and the .modelfactory run; not the FIFO');
    assert.equal(byLoss.changed, 1, 'line 4 changed since the run');
    assert.equal(byLoss.records[0]!.verdict, 'not learned — check this answer');
    const byDelta = await ask({ roots: [ws], sort: 'delta', limit: 3 });
    assert.deepEqual(
      byDelta.records.map((r) => [r.line, r.delta === null ? null : Number(r.delta.toFixed(2))]),
      [
        [3, 0.3],
        [1, 0.3],
        [2, -0.1],
      ],
    );
    assert.equal(byDelta.truncated, true);
  });

  it('uses the open editor text: an edited line drops out, a restored one comes back', async () => {
    const edited = lines.map((l, i) => (i === 1 ? record(77) : i === 3 ? l : l)).join('\n') + '\n';
    await open(server, train, edited);
    const result = await ask({ roots: [ws] });
    const trainLines = result.records.filter((r) => r.file === train).map((r) => r.line);
    assert.deepEqual(trainLines, [4, 5, 3, 1, 6], 'line 2 edited away, line 4 as the run saw it again');
  });

  it('answers an empty list for bad or missing roots', async () => {
    for (const params of [{ roots: ['relative/dir'] }, { roots: 'x' }, {}, { roots: [join(ws, 'nowhere')] }]) {
      const result = await ask(params);
      assert.deepEqual(result.records, [], JSON.stringify(params));
    }
  });
});
