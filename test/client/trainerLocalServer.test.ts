// The detached local job server: started once, found again by a second caller (same pid), alive after
// the process that started it has exited and its stdio is gone, replaced when the token changes, stopped.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import {
  ensureLocalServer,
  isTrainerServer,
  localServerRunning,
  stopLocalServer,
} from '../../client/src/trainer/localServer';
import type { LocalServer, LocalServerOptions } from '../../client/src/trainer/localServer';
import { ProtocolClient } from '../../client/src/trainer/protocolClient';
import { ROOT, TRAINER_DIR, TRAINER_PYTHON, needTrainer, randomToken, tempDir } from './fixtures/trainerSupport';

const run = promisify(execFile);

describe('local job server', () => {
  before(needTrainer);
  const stateDir = tempDir('local-server');
  const token = randomToken();
  const options: LocalServerOptions = {
    python: TRAINER_PYTHON,
    trainerDir: TRAINER_DIR,
    stateDir,
    logFile: join(stateDir, 'server.log'),
    token,
    version: 'test-1',
  };

  after(async () => {
    await stopLocalServer(stateDir);
  });

  async function hello(server: LocalServer, withToken = token): Promise<string> {
    const client = await ProtocolClient.connect({ url: server.url, token: withToken });
    try {
      return (await client.hello()).server;
    } finally {
      client.close();
    }
  }

  it('starts detached from a process that exits, and answers after it is gone', async () => {
    const child = await run(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'fixtures', 'trainerEnsureServer.ts'), JSON.stringify(options)],
      { cwd: ROOT, timeout: 60_000 },
    );
    const started = JSON.parse(child.stdout.trim()) as LocalServer;
    assert.equal(started.reused, false);
    assert.match(started.url, /^ws:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(await isTrainerServer(started.pid), 'the server outlived the process that started it');
    assert.equal(await localServerRunning(stateDir), true, 'a new window finds it running');
    assert.equal(await hello(started), 'modelfactory-trainer');
    const state = JSON.parse(readFileSync(join(stateDir, 'server.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual([state.pid, state.port, state.version], [started.pid, started.port, 'test-1']);
    const written = readFileSync(join(stateDir, 'server.json'), 'utf8') + readFileSync(options.logFile, 'utf8');
    assert.ok(!written.includes(token), 'the token is in no file');
    const cmdline = readFileSync(`/proc/${started.pid}/cmdline`, 'utf8');
    assert.ok(!cmdline.includes(token), 'the token is not on the command line');
  });

  it('a second call reuses the running server (same pid)', async () => {
    const first = JSON.parse(readFileSync(join(stateDir, 'server.json'), 'utf8')) as { pid: number };
    const again = await ensureLocalServer(options);
    assert.equal(again.reused, true);
    assert.equal(again.pid, first.pid);
    assert.equal(again.version, 'test-1');
  });

  it('a server holding another token is replaced; stop ends it', async () => {
    const before = await ensureLocalServer(options);
    const newToken = randomToken();
    const replaced = await ensureLocalServer({ ...options, token: newToken });
    assert.equal(replaced.reused, false);
    assert.notEqual(replaced.pid, before.pid);
    assert.equal(await isTrainerServer(before.pid), false, 'the old server was stopped');
    assert.equal(await hello(replaced, newToken), 'modelfactory-trainer');
    assert.equal(await stopLocalServer(stateDir), true);
    assert.equal(await isTrainerServer(replaced.pid), false);
    assert.equal(existsSync(join(stateDir, 'server.json')), false);
    assert.equal(await localServerRunning(stateDir), false);
    assert.equal(await stopLocalServer(stateDir), false, 'nothing left to stop');
  });
});
