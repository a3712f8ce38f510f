// The search for a run's record-loss.jsonl near a dataset is bounded in file-system calls: a crowded
// ancestor folder (a home folder, /tmp) cannot hold the dataset's diagnostics back, and a run beside the
// dataset is still found first. Real folders on disk; the real Node file system, counted.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RECORD_LOSS_LIMITS, RecordLossIndex } from '../../server/src/core/dataset/recordLoss';
import type { Environment } from '../../server/src/core/io';
import { nodeEnvironment } from '../../server/src/nodeFs';

/** The Node environment, counting the listings and stats made through it. */
function countedEnvironment(): { env: Environment; calls: () => number } {
  const env = nodeEnvironment();
  let calls = 0;
  const fs = env.fs;
  return {
    env: {
      ...env,
      fs: {
        ...fs,
        readDir: (path) => (calls++, fs.readDir(path)),
        stat: (path) => (calls++, fs.stat(path)),
      },
    },
    calls: () => calls,
  };
}

describe('record-loss search', () => {
  let root: string;
  let dataset: string;

  before(() => {
    root = realpathSync(mkdtempSync(join(tmpdir(), 'mf-record-loss-search-')));
    dataset = join(root, 'project', 'data', 'train.jsonl');
    mkdirSync(join(root, 'project', 'data'), { recursive: true });
    writeFileSync(dataset, '{"text": "hello"}\n');
    mkdirSync(join(root, 'project', 'outputs', 'run-1'), { recursive: true });
    const row = { file: dataset, line: 1, sha256: '0'.repeat(64), loss: 2.5, base_loss: 3, tokens: 4, split: 'train' };
    writeFileSync(join(root, 'project', 'outputs', 'run-1', 'record-loss.jsonl'), JSON.stringify(row) + '\n');
    // Beside the project, 40 folders of 60 folders: searching all of them takes about 4,900 calls.
    for (let i = 0; i < 40; i++)
      for (let j = 0; j < 60; j++) mkdirSync(join(root, `crowd-${i}`, `sub-${j}`), { recursive: true });
  });

  after(() => rmSync(root, { recursive: true, force: true }));

  it('stops at its budget of calls in a crowded ancestor and still finds the run beside the dataset', async () => {
    const { env, calls } = countedEnvironment();
    const run = await new RecordLossIndex(env).runFor(dataset);
    assert.equal(run?.path, join(root, 'project', 'outputs', 'run-1', 'record-loss.jsonl'));
    assert.equal(run?.rows.get(1)?.loss, 2.5);
    // The search used up its budget (the crowd is larger than it) and went no further; reading the one
    // file found adds a stat.
    assert.ok(calls() >= RECORD_LOSS_LIMITS.calls, `${calls()} calls`);
    assert.ok(calls() <= RECORD_LOSS_LIMITS.calls + RECORD_LOSS_LIMITS.files, `${calls()} calls`);
  });
});
