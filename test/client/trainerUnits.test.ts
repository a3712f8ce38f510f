// The trainer connection's pure parts and its small real-process parts: backoff, endpoint URLs, the
// job tracker's folding, the past-runs store, Python discovery on real interpreters, venv setup.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { JobView } from '../../client/src/trainer/api';
import { backoffDelay } from '../../client/src/trainer/backoff';
import { describeJob } from '../../client/src/jobs/describe';
import { JobTracker } from '../../client/src/trainer/jobTracker';
import type { JobEvent, JobEventOf, JobSummary } from '../../client/src/trainer/protocol';
import { checkEndpointUrl } from '../../client/src/trainer/protocolClient';
import { findTrainerPython, pythonCandidates, setupLocalTrainer, venvPython } from '../../client/src/trainer/python';
import { adapterFolder, listRuns, runFolder, saveRun } from '../../client/src/trainer/runStore';
import { ROOT, TRAINER_PYTHON, needTrainer, tempDir } from './fixtures/trainerSupport';

describe('backoffDelay', () => {
  const options = { baseMs: 250, capMs: 10_000 };

  it('stays within [0, min(cap, base * 2^attempt)] for every random value', () => {
    for (let attempt = 0; attempt < 40; attempt++) {
      const ceiling = Math.min(options.capMs, options.baseMs * 2 ** attempt);
      assert.equal(
        backoffDelay(attempt, () => 0, options),
        0,
      );
      assert.ok(backoffDelay(attempt, () => 0.999999, options) <= ceiling);
      assert.ok(backoffDelay(attempt, () => 0.999999, options) >= ceiling - 1);
    }
  });

  it('grows exponentially until the cap', () => {
    const top = (attempt: number): number => backoffDelay(attempt, () => 0.999999, options);
    assert.ok(top(0) <= 250 && top(1) > top(0) && top(2) > top(1) && top(5) > top(4));
    assert.equal(top(6), top(7), 'capped by then (250 * 64 > 10 000)');
    assert.ok(top(100) <= 10_000);
  });

  it('is fully jittered: delays spread over the whole range', () => {
    const delays = Array.from({ length: 2000 }, () => backoffDelay(4, Math.random, options));
    const ceiling = 250 * 16;
    assert.ok(Math.min(...delays) < ceiling * 0.05);
    assert.ok(Math.max(...delays) > ceiling * 0.95);
    const lowerHalf = delays.filter((delay) => delay < ceiling / 2).length;
    assert.ok(lowerHalf > 800 && lowerHalf < 1200, `${lowerHalf} of 2000 in the lower half`);
  });
});

describe('checkEndpointUrl', () => {
  it('accepts wss anywhere and ws on loopback only', () => {
    assert.equal(checkEndpointUrl('wss://gpu.example:8443/').host, 'gpu.example:8443');
    for (const url of ['ws://127.0.0.1:9000/', 'ws://localhost:1/', 'ws://[::1]:2/']) checkEndpointUrl(url);
    for (const url of ['ws://192.168.1.5:9000/', 'ws://gpu.example/', 'http://127.0.0.1/', 'not a url']) {
      assert.throws(() => checkEndpointUrl(url), /wss|valid URL/);
    }
  });
});

function summary(overrides: Partial<JobSummary> = {}): JobSummary {
  return {
    job_id: 'j1',
    state: 'running',
    reason: null,
    created: 100,
    name: 'run',
    base_model: 'builtin:tiny-llama',
    method: 'lora',
    last_seq: 3,
    ...overrides,
  };
}

const logEvent = (step: number, loss: number): JobEventOf<'log'> => ({
  type: 'log',
  time: 10 + step,
  step,
  total_steps: 4,
  epoch: step / 4,
  loss,
  learning_rate: 0.01,
  tokens_per_second: 900,
  gpu_memory_gb: null,
  eta_seconds: 4 - step,
});

describe('JobTracker', () => {
  it('applies events only in seq order: duplicates dropped, a gap asks for a re-watch', () => {
    const rewatches: [string, number][] = [];
    const tracker = new JobTracker('local', { rewatch: (jobId, from) => rewatches.push([jobId, from]) });
    const changes: number[] = [];
    tracker.onChange((view) => changes.push(view.lastSeq));
    assert.equal(
      tracker.applyEvent('j1', 0, { type: 'queued', time: 1, name: 'a', base_model: 'm', method: 'lora' }),
      'applied',
    );
    assert.equal(
      tracker.applyEvent('j1', 0, { type: 'queued', time: 1, name: 'a', base_model: 'm', method: 'lora' }),
      'duplicate',
    );
    assert.equal(tracker.applyEvent('j1', 2, logEvent(1, 2)), 'gap');
    assert.deepEqual(rewatches, [['j1', 1]]);
    assert.equal(tracker.applyEvent('j1', 1, { type: 'launched', time: 2, pid: 5 }), 'applied');
    assert.equal(tracker.applyEvent('j2', 4, logEvent(1, 2)), 'unknown-job');
    assert.deepEqual(changes, [0, 1]);
    assert.equal(tracker.get('j1')!.state, 'running');
  });

  it("describes an evaluation: its start, its progress and each model's scores", () => {
    const tracker = new JobTracker('local');
    const events: JobEvent[] = [
      { type: 'queued', time: 1, name: 'eval run', base_model: 'm', method: 'eval' },
      { type: 'eval_start', time: 2, examples: 3, models: ['base', 'run-1'] },
      { type: 'progress', time: 3, done: 1, total: 6, model: 'base' },
      {
        type: 'eval_done',
        time: 4,
        summary: {
          examples: 3,
          models: [
            { name: 'base', adapter: null, metrics: { loss: 8.1, rouge_l: 0, bleu: 0, exact_match: 0 } },
            { name: 'run-1', adapter: '/x', metrics: { loss: 0.65, rouge_l: 0.733, bleu: 44.04, exact_match: 0.25 } },
          ],
        },
      },
    ];
    events.forEach((event, seq) => tracker.applyEvent('j1', seq, event));
    assert.deepEqual(tracker.get('j1')!.logs.slice(1), [
      'evaluating 3 held-out examples with base, run-1',
      'answered 1/6 (base)',
      'evaluated: base: loss 8.1, ROUGE-L 0, BLEU 0, exact 0; run-1: loss 0.65, ROUGE-L 0.733, BLEU 44, exact 0.25',
    ]);
  });

  it("carries a preference run's reward margin and accuracy into its points; sft points have none", () => {
    const tracker = new JobTracker('local');
    tracker.applyEvent('j1', 0, { type: 'queued', time: 1, name: 'a', base_model: 'm', method: 'lora' });
    tracker.applyEvent('j1', 1, { ...logEvent(1, 0.69), reward_margin: 0, reward_accuracy: 0 });
    tracker.applyEvent('j1', 2, { ...logEvent(2, 0.4), reward_margin: 1.25, reward_accuracy: 1 });
    tracker.applyEvent('j1', 3, logEvent(3, 0.3));
    const points = tracker.get('j1')!.points;
    assert.deepEqual(
      points.map((p) => [p.rewardMargin, p.rewardAccuracy]),
      [
        [0, 0],
        [1.25, 1],
        [undefined, undefined],
      ],
    );
  });

  it('folds a run into state, steps, ETA and curve points; an eval completes its step', () => {
    const tracker = new JobTracker('local');
    const events: JobEvent[] = [
      { type: 'queued', time: 1, name: 'a', base_model: 'm', method: 'lora' },
      { type: 'launched', time: 2, pid: 5 },
      {
        type: 'start',
        time: 3,
        model: 'm',
        method: 'lora',
        device: 'cpu',
        precision: 'fp32',
        total_steps: 4,
        train_records: 8,
        trainable_params: 10,
        total_params: 100,
      },
      logEvent(1, 3),
      logEvent(2, 2.5),
      { type: 'eval', time: 13, step: 2, epoch: 0.5, eval_loss: 2.7 },
      logEvent(3, 2),
      logEvent(4, 1.5),
      { type: 'done', time: 20, adapter_dir: 'output/adapter', sha256: '0'.repeat(64), steps: 4 },
      { type: 'ended', time: 21, state: 'done', reason: null, exit_code: 0 },
    ];
    events.forEach((event, seq) => assert.equal(tracker.applyEvent('j1', seq, event), 'applied'));
    const view = tracker.get('j1')!;
    assert.equal(view.state, 'done');
    assert.equal(view.reason, null);
    assert.equal(view.step, 4);
    assert.equal(view.totalSteps, 4);
    assert.equal(view.device, 'cpu');
    assert.equal(view.ended, 21);
    assert.equal(view.etaSeconds, 0);
    assert.deepEqual(
      view.points.map((point) => [point.step, point.loss, point.evalLoss]),
      [
        [1, 3, null],
        [2, 2.5, 2.7],
        [3, 2, null],
        [4, 1.5, null],
      ],
    );
    assert.equal(view.logs.length, events.length);
  });

  it('a failure keeps the trainer’s message; a summary rules until the events catch up', () => {
    const tracker = new JobTracker('gpu-box');
    tracker.applySummary(summary({ state: 'failed', reason: 'oom', last_seq: 3 }));
    assert.equal(tracker.get('j1')!.state, 'failed', 'the summary is newer than any event seen');
    assert.equal(tracker.get('j1')!.reason, 'oom');
    tracker.applyEvent('j1', 0, { type: 'queued', time: 1, name: 'a', base_model: 'm', method: 'lora' });
    tracker.applyEvent('j1', 1, { type: 'launched', time: 2, pid: 5 });
    assert.equal(tracker.get('j1')!.state, 'failed', 'older events do not roll the state back');
    tracker.applyEvent('j1', 2, {
      type: 'oom',
      time: 3,
      step: 1,
      message: 'CUDA out of memory',
      advice: ['halve batch_size'],
    });
    tracker.applyEvent('j1', 3, { type: 'ended', time: 4, state: 'failed', reason: 'oom', exit_code: 1 });
    const view = tracker.get('j1')!;
    assert.equal(view.state, 'failed');
    assert.equal(view.reason, 'out of memory: CUDA out of memory; halve batch_size');
    assert.equal(view.target, 'gpu-box');
  });

  it('a resumed job is queued again and its rerun steps replace the earlier ones', () => {
    const tracker = new JobTracker('local');
    const events: JobEvent[] = [
      { type: 'queued', time: 1, name: 'a', base_model: 'm', method: 'lora' },
      { type: 'launched', time: 2, pid: 5 },
      logEvent(1, 3),
      logEvent(2, 2.5),
      logEvent(3, 2.2),
      { type: 'ended', time: 5, state: 'cancelled', reason: 'user-cancelled', exit_code: 130 },
      { type: 'queued', time: 6, name: 'a', base_model: 'm', method: 'lora', resumed: true },
    ];
    events.forEach((event, seq) => tracker.applyEvent('j1', seq, event));
    assert.equal(tracker.get('j1')!.state, 'queued');
    assert.equal(tracker.get('j1')!.reason, null);
    tracker.applyEvent('j1', 7, { type: 'launched', time: 7, pid: 6 });
    tracker.applyEvent('j1', 8, logEvent(3, 2.1));
    const view = tracker.get('j1')!;
    assert.equal(view.state, 'running');
    assert.deepEqual(
      view.points.map((point) => [point.step, point.loss]),
      [
        [1, 3],
        [2, 2.5],
        [3, 2.1],
      ],
    );
  });

  it('folds download progress into the view and one log line, then TensorBoard from start', () => {
    const tracker = new JobTracker('local');
    const progress = (time: number, done: number, files: number, finished: boolean): JobEvent => ({
      type: 'download',
      time,
      repo: 'org/model',
      revision: 'a'.repeat(40),
      file: finished ? null : 'model.safetensors',
      files_done: files,
      files_total: 6,
      bytes_done: done,
      bytes_total: 2_000_000_000,
      bytes_per_second: finished ? 50e6 : 40e6,
      eta_seconds: finished ? 0 : (2e9 - done) / 40e6,
      finished,
    });
    tracker.applyEvent('j1', 0, { type: 'queued', time: 1, name: 'a', base_model: 'org/model', method: 'lora' });
    tracker.applyEvent('j1', 1, { type: 'launched', time: 2, pid: 5 });
    tracker.applyEvent('j1', 2, progress(3, 0, 0, false));
    tracker.applyEvent('j1', 3, progress(4, 840_000_000, 4, false));
    const during = tracker.get('j1')!;
    assert.equal(during.state, 'running');
    assert.deepEqual(during.download, {
      repo: 'org/model',
      filesDone: 4,
      filesTotal: 6,
      bytesDone: 840_000_000,
      bytesTotal: 2_000_000_000,
      bytesPerSecond: 40e6,
      etaSeconds: 29,
    });
    assert.equal(describeJob(during), 'downloading org/model 42% (4/6 files) · ETA 29s');
    assert.deepEqual(during.logs.slice(1), [
      'trainer started (pid 5)',
      'downloading org/model: 840 MB of 2 GB, 4/6 files, 40 MB/s, 29 s left',
    ]);
    tracker.applyEvent('j1', 4, progress(5, 2e9, 6, true));
    tracker.applyEvent('j1', 5, {
      type: 'start',
      time: 6,
      model: 'org/model',
      method: 'lora',
      device: 'cpu',
      total_steps: 2,
      train_records: 8,
      trainable_params: 10,
      total_params: 1000,
      tensorboard_dir: '/runs/out/tensorboard',
    });
    const after = tracker.get('j1')!;
    assert.equal(after.download, null);
    assert.equal(after.tensorboardDir, '/runs/out/tensorboard');
    assert.equal(after.logs[2], 'downloaded org/model: 6/6 files, 2 GB'); // in place of the progress line
  });

  it('caps the log lines, keeping the newest', () => {
    const tracker = new JobTracker('local', { maxLogLines: 3 });
    tracker.applyEvent('j1', 0, { type: 'queued', time: 1, name: 'a', base_model: 'm', method: 'lora' });
    for (let step = 1; step <= 10; step++) tracker.applyEvent('j1', step, logEvent(step, 1));
    const logs = tracker.get('j1')!.logs;
    assert.equal(logs.length, 3);
    assert.match(logs.at(-1)!, /^step 10\/4/);
  });
});

describe('runStore', () => {
  function view(jobId: string, created: number, state: JobView['state']): JobView {
    return {
      target: 'gpu box/1',
      jobId,
      name: jobId,
      baseModel: 'm',
      method: 'lora',
      state,
      reason: null,
      created,
      ended: null,
      step: 1,
      totalSteps: 2,
      etaSeconds: null,
      device: 'cpu',
      precision: 'fp32',
      points: [],
      logs: ['a line'],
      lastSeq: 3,
      adapterDir: null,
      queuePosition: null,
      placement: null,
      download: null,
      tensorboardDir: null,
    };
  }

  it('saves run.json without logs and lists runs newest first, skipping broken ones', async () => {
    const workspace = tempDir('runs');
    await saveRun(workspace, view('old', 100, 'done'));
    await saveRun(workspace, view('new', 300, 'running'));
    await saveRun(workspace, view('new', 300, 'failed'));
    mkdirSync(join(workspace, '.modelfactory', 'runs', 'broken'));
    writeFileSync(join(workspace, '.modelfactory', 'runs', 'broken', 'run.json'), '{"jobId": "x"');
    const runs = await listRuns(workspace);
    assert.deepEqual(
      runs.map((run) => [run.jobId, run.state]),
      [
        ['new', 'failed'],
        ['old', 'done'],
      ],
    );
    assert.ok(!('logs' in runs[0]!));
    const folder = runFolder(workspace, 'gpu box/1', 'new');
    assert.equal(folder, join(workspace, '.modelfactory', 'runs', 'gpu_box_1-new'));
    assert.deepEqual(readdirSync(folder), ['run.json'], 'no temp file left');
    assert.equal(
      adapterFolder(workspace, 'local', 'j1'),
      join(workspace, '.modelfactory', 'runs', 'local-j1', 'adapter'),
    );
    assert.throws(() => runFolder(workspace, 'local', '../../etc'), /not a job id/);
  });
});

describe('Python discovery', () => {
  it('tries the setting, the workspace venv, the extension venv, global storage, in that order', () => {
    const candidates = pythonCandidates({
      setting: '/opt/py/bin/python',
      workspaceFolders: ['/ws'],
      extensionPath: '/ext',
      globalStoragePath: '/gs',
    });
    assert.deepEqual(candidates, [
      { python: '/opt/py/bin/python', source: 'setting' },
      { python: venvPython('/ws/trainer/.venv'), source: 'workspace' },
      { python: venvPython('/ext/trainer/.venv'), source: 'extension' },
      { python: venvPython('/gs/trainer-venv'), source: 'globalStorage' },
    ]);
  });

  it('passes over a missing interpreter and a Python without torch, with reasons', async () => {
    needTrainer();
    const plain = execFileSync('python3', ['-c', 'import sys; print(sys.executable)']).toString().trim();
    const discovery = await findTrainerPython({
      setting: plain,
      workspaceFolders: [tempDir('empty-workspace')],
      extensionPath: ROOT,
    });
    assert.deepEqual(discovery.found && { python: discovery.found.python, source: discovery.found.source }, {
      python: TRAINER_PYTHON,
      source: 'extension',
    });
    assert.match(discovery.found!.version, /^3\.\d+/);
    assert.equal(discovery.failures.length, 2);
    assert.equal(discovery.failures[0]!.source, 'setting');
    assert.match(discovery.failures[0]!.reason, /lacks .*torch/);
    assert.equal(discovery.failures[1]!.source, 'workspace');
    assert.equal(discovery.failures[1]!.reason, 'not found');
    const none = await findTrainerPython({ setting: plain });
    assert.equal(none.found, null);
    assert.equal(none.failures.length, 1);
  });

  it('sets up a venv and installs requirements with pip progress; a cancelled setup stops', async () => {
    const folder = tempDir('setup');
    // A real, minimal wheel so pip installs offline.
    const wheel = join(folder, 'mf_probe-0.1-py3-none-any.whl');
    execFileSync('python3', [
      '-c',
      [
        'import zipfile, sys',
        'z = zipfile.ZipFile(sys.argv[1], "w")',
        'z.writestr("mf_probe/__init__.py", "VALUE = 7\\n")',
        'z.writestr("mf_probe-0.1.dist-info/METADATA", "Metadata-Version: 2.1\\nName: mf-probe\\nVersion: 0.1\\n")',
        'z.writestr("mf_probe-0.1.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")',
        'z.writestr("mf_probe-0.1.dist-info/RECORD", "")',
        'z.close()',
      ].join('\n'),
      wheel,
    ]);
    const requirements = join(folder, 'requirements.txt');
    writeFileSync(requirements, `${wheel}\n`);
    const progress: string[] = [];
    const python = await setupLocalTrainer({
      basePython: 'python3',
      venvDir: join(folder, 'venv'),
      requirementsFile: requirements,
      onProgress: (line) => progress.push(line),
    });
    assert.equal(python, venvPython(join(folder, 'venv')));
    assert.equal(execFileSync(python, ['-c', 'import mf_probe; print(mf_probe.VALUE)']).toString().trim(), '7');
    assert.ok(
      progress.some((line) => /^Processing /.test(line)),
      progress.join('\n'),
    );
    assert.ok(
      progress.some((line) => /^Successfully installed mf-probe/.test(line)),
      progress.join('\n'),
    );

    const abort = new AbortController();
    const cancelled = setupLocalTrainer({
      basePython: 'python3',
      venvDir: join(folder, 'cancelled'),
      requirementsFile: requirements,
      signal: abort.signal,
    });
    setTimeout(() => abort.abort(), 50);
    await assert.rejects(cancelled, /cancelled/);
  });
});

describe('trainer connection boundary', () => {
  it('no module under client/src/trainer imports vscode (it runs and is tested in plain Node)', () => {
    const folder = join(ROOT, 'client', 'src', 'trainer');
    const modules = readdirSync(folder).filter((name) => name.endsWith('.ts'));
    assert.ok(modules.length >= 8);
    const offenders = modules.filter((name) =>
      /from\s+['"]vscode['"]|require\(['"]vscode['"]\)/.test(readFileSync(join(folder, name), 'utf8')),
    );
    assert.deepEqual(offenders, []);
  });
});
