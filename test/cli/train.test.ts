// `modelfactory train` as a CI pipeline runs it: the built CLI as a child process against a real job
// server on loopback (the real trainer on the built-in tiny model), and against the local server the
// CLI starts itself when no --server is given.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stopLocalServer } from '../../client/src/trainer/localServer';
import {
  ROOT,
  SAMPLE_DATASET,
  TRAINER_PYTHON,
  needTrainer,
  startTrainerServer,
  tempDir,
  tinyConfig,
} from '../client/fixtures/trainerSupport';
import type { RunningServer } from '../client/fixtures/trainerSupport';

const BIN = join(ROOT, 'bin', 'modelfactory.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>, cwd: string, timeoutMs = 240_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`modelfactory ${args.join(' ')} ran past ${timeoutMs} ms:\n${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A workspace folder with the tiny config (`steps` steps) and a copy of the sample dataset. */
function workspace(steps: number, dataset?: string): { dir: string; config: string } {
  const dir = tempDir('cli-train');
  if (dataset === undefined) copyFileSync(SAMPLE_DATASET, join(dir, 'train.jsonl'));
  else writeFileSync(join(dir, 'train.jsonl'), dataset);
  const config = join(dir, 'tiny.finetune.yaml');
  writeFileSync(config, tinyConfig(steps).replace(/^  path: .*$/m, '  path: train.jsonl'));
  return { dir, config };
}

function eventLines(stdout: string): { seq: number; event: { type: string; [key: string]: unknown } }[] {
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { seq: number; event: { type: string } });
}

describe('modelfactory train', () => {
  before(needTrainer);
  let server: RunningServer;
  let failing: RunningServer;
  const localState = tempDir('cli-local-server');

  before(async () => {
    server = await startTrainerServer();
    // A trainer that fails at once: exit 1 must follow.
    const fail = JSON.stringify([TRAINER_PYTHON, '-c', 'import sys; sys.exit(3)']);
    failing = await startTrainerServer([], { MODELFACTORY_TRAIN_ARGV: fail });
  });
  after(async () => {
    await server?.stop();
    await failing?.stop();
    await stopLocalServer(localState, 30_000);
  });

  it('submits, follows the job as {seq, event} lines and exits 0 when it is done', async () => {
    const { dir, config } = workspace(2);
    const run = await runCli(
      ['train', config, '--server', server.url, '--follow'],
      { MODELFACTORY_TOKEN: server.token },
      dir,
    );
    assert.equal(run.code, 0, run.stderr);
    const lines = eventLines(run.stdout);
    assert.deepEqual(
      lines.map((line) => line.seq),
      lines.map((_, index) => index),
      'every event once, in order, from seq 0',
    );
    const kinds = lines.map((line) => line.event.type);
    assert.deepEqual(kinds.slice(0, 3), ['queued', 'launched', 'start']);
    assert.deepEqual(kinds.slice(-2), ['done', 'ended']);
    assert.equal(lines.at(-1)!.event['state'], 'done');
    assert.equal(lines[0]!.event['name'], 'tiny');
    assert.match(run.stderr, /submitted job \S+/);
  });

  it('exits 1 when the job fails, and prints the summary as JSON without --follow', async () => {
    const { dir, config } = workspace(2);
    const env = { MODELFACTORY_TOKEN: failing.token };
    const followed = await runCli(['train', config, '--server', failing.url, '--follow'], env, dir);
    assert.equal(followed.code, 1, followed.stderr);
    const last = eventLines(followed.stdout).at(-1)!;
    assert.equal(last.event.type, 'ended');
    assert.equal(last.event['state'], 'failed');
    assert.equal(last.event['reason'], 'exit-code-3');

    const submitted = await runCli(['train', config, '--server', failing.url, '--json', '--name', 'ci run'], env, dir);
    assert.equal(submitted.code, 0, submitted.stderr);
    const summary = JSON.parse(submitted.stdout) as { job_id: string; name: string; state: string };
    assert.equal(summary.name, 'ci run');
    assert.match(summary.job_id, /^\d{8}-\d{6}-[0-9a-f]{8}$/);
  });

  it('stops at pre-flight errors before anything is uploaded', async () => {
    const { dir, config } = workspace(2, '{"messages": [{"role": "user", "content": "no answer"}]}\nnot json\n');
    const run = await runCli(['train', config, '--server', server.url], { MODELFACTORY_TOKEN: server.token }, dir);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /train\.jsonl:2:\d+ error /);
    assert.match(run.stderr, /errors? in train\.jsonl block this job/);
    assert.doesNotMatch(run.stderr, /uploading|submitted/);
    const bad = workspace(2);
    writeFileSync(bad.config, readFileSync(bad.config, 'utf8').replace('method: lora', 'method: sideways'));
    const configRun = await runCli(
      ['train', bad.config, '--server', server.url],
      { MODELFACTORY_TOKEN: server.token },
      dir,
    );
    assert.equal(configRun.code, 1);
    assert.match(configRun.stderr, /tiny\.finetune\.yaml:\d+:\d+ error .*block this job/s);
  });

  it('refuses usage errors with exit 2: no token for --server, no config', async () => {
    const { dir, config } = workspace(2);
    const noToken = await runCli(['train', config, '--server', server.url], { MODELFACTORY_TOKEN: '' }, dir);
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /MODELFACTORY_TOKEN/);
    const noConfig = await runCli(['train'], {}, dir);
    assert.equal(noConfig.code, 2);
    assert.match(noConfig.stderr, /needs a fine-tune config/);
  });

  it('without --server starts the local job server and trains on it', async () => {
    const { dir, config } = workspace(1);
    const env = { MODELFACTORY_CLI_STATE_DIR: localState, MODELFACTORY_PYTHON: TRAINER_PYTHON, MODELFACTORY_TOKEN: '' };
    const run = await runCli(['train', config, '--follow'], env, dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /started the local trainer server/);
    assert.equal(eventLines(run.stdout).at(-1)!.event['state'], 'done');
    assert.ok(readFileSync(join(localState, 'server.json'), 'utf8').includes('"port"'));
  });
});
