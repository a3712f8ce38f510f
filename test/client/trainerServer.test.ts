// The trainer connection against the real Python job server on loopback: hello, refusals, a real
// tiny LoRA job from upload to verified adapter, chat, cancel, and recovery from cut and half-open
// connections.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadEvaluation } from '../../client/src/evaluation/results';
import type { JobView } from '../../client/src/trainer/api';
import { JobTracker } from '../../client/src/trainer/jobTracker';
import type { ApplyOutcome } from '../../client/src/trainer/jobTracker';
import { ProtocolClient, TrainerError } from '../../client/src/trainer/protocolClient';
import type { ConnectionState, DownloadProgress } from '../../client/src/trainer/protocolClient';
import type { JobEvent } from '../../client/src/trainer/protocol';
import {
  needTrainer,
  SAMPLE_DATASET,
  TcpProxy,
  sleep,
  startTrainerServer,
  tempDir,
  tinyConfig,
  until,
} from './fixtures/trainerSupport';
import type { RunningServer } from './fixtures/trainerSupport';

/** Watches a job to its `ended` event through `client`, folding every event into a tracker. */
async function watchToEnd(
  client: ProtocolClient,
  jobId: string,
  timeoutMs: number,
): Promise<{ view: JobView; delivered: number[]; outcomes: ApplyOutcome[] }> {
  const tracker = new JobTracker('local', { rewatch: () => assert.fail('a gap reached the tracker') });
  const delivered: number[] = [];
  const outcomes: ApplyOutcome[] = [];
  let ended = false;
  const summary = await client.watch(jobId, 0, (seq: number, event: JobEvent) => {
    delivered.push(seq);
    outcomes.push(tracker.applyEvent(jobId, seq, event));
    if (event.type === 'ended') ended = true;
  });
  tracker.applySummary(summary);
  await until(() => ended, timeoutMs, `job ${jobId} to end`);
  await client.unwatch(jobId).catch(() => undefined);
  return { view: tracker.get(jobId)!, delivered, outcomes };
}

describe('trainer connection with the real job server', () => {
  before(needTrainer);
  let server: RunningServer;
  let client: ProtocolClient;
  const clientLog: string[] = [];

  before(async () => {
    server = await startTrainerServer(['--cancel-grace', '20']);
    client = await ProtocolClient.connect({
      url: server.url,
      token: server.token,
      log: (line) => clientLog.push(line),
    });
  });

  after(async () => {
    client?.close();
    await server?.stop();
  });

  it('says hello and learns the server limits', async () => {
    const welcome = await client.hello();
    assert.equal(welcome.protocol, 1);
    assert.equal(welcome.server, 'modelfactory-trainer');
    assert.ok(client.limits.upload_chunk_bytes > 0 && client.limits.max_message_bytes >= 1024);
    assert.equal(client.state, 'connected');
  });

  it('a wrong token is refused as a clear error that never contains the token', async () => {
    const wrong = `${server.token}-but-wrong`;
    const logged: string[] = [];
    const error = await ProtocolClient.connect({
      url: server.url,
      token: wrong,
      log: (line) => logged.push(line),
    }).then(
      () => assert.fail('connected with a wrong token'),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof TrainerError);
    assert.equal(error.code, 'refused');
    assert.match(error.message, /401/);
    for (const text of [error.message, String(error.stack), ...logged, ...clientLog]) {
      assert.ok(!text.includes(wrong) && !text.includes(server.token), 'a token leaked into a message');
    }
    assert.ok(!server.stderr().includes(server.token), 'the server logged the token');
  });

  it('refuses ws:// off loopback and URLs that carry secrets, before connecting', async () => {
    for (const url of ['ws://10.0.0.5:8765/', 'wss://user:pw@gpu.example/', 'wss://gpu.example/?token=abc']) {
      await assert.rejects(ProtocolClient.connect({ url, token: server.token }), (error: TrainerError) => {
        assert.equal(error.code, 'bad-url');
        assert.ok(!error.message.includes('abc') && !error.message.includes('pw'));
        return true;
      });
    }
  });

  // One real job serves the next three tests (a CPU job costs seconds): watched directly and, at the
  // same time, by a second client whose connection a proxy cuts at random moments.
  const steps = 12;
  let jobId = '';
  let direct: Promise<{ view: JobView; delivered: number[]; outcomes: ApplyOutcome[] }>;

  it('uploads the sample dataset and submits a job; a queued job is cancelled at once', async () => {
    const progress: number[] = [];
    const upload = await client.uploadDataset(SAMPLE_DATASET, (sent) => progress.push(sent));
    const bytes = readFileSync(SAMPLE_DATASET);
    assert.equal(upload.size, bytes.length);
    assert.equal(upload.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(progress.at(-1), bytes.length);
    const job = await client.submit({
      configYaml: tinyConfig(steps),
      dataset: { uploadId: upload.uploadId },
      name: 'tiny test',
    });
    assert.equal(job.name, 'tiny test');
    jobId = job.job_id;
    direct = watchToEnd(client, jobId, 240_000);

    const second = await client.uploadDataset(SAMPLE_DATASET);
    const queued = await client.submit({ configYaml: tinyConfig(5000), dataset: { uploadId: second.uploadId } });
    assert.equal(await client.cancel(queued.job_id), 'cancelled');
    const cancelled = await watchToEnd(client, queued.job_id, 10_000);
    assert.equal(cancelled.view.state, 'cancelled');
    assert.equal(cancelled.view.reason, 'user-cancelled');
    assert.deepEqual(cancelled.delivered, [0, 1]);

    // Resumed, it is queued again under the same id (behind the running job); its log goes on.
    assert.equal(await client.resume(queued.job_id), 'queued');
    assert.equal(await client.cancel(queued.job_id), 'cancelled');
    const again = await watchToEnd(client, queued.job_id, 10_000);
    assert.deepEqual(again.delivered, [0, 1, 2, 3]);
    assert.equal(again.view.state, 'cancelled');
    assert.ok(again.view.logs.some((line) => line.startsWith('queued again')));
    await assert.rejects(client.resume('no-such-job'), (error: TrainerError) => error.code === 'unknown-job');
  });

  it('follows the job to done through 20+ random disconnects: in order, no gap, no duplicate, same view', async () => {
    const proxy = await TcpProxy.start(server.port);
    const states: ConnectionState[] = [];
    const flaky = await ProtocolClient.connect({
      url: proxy.url,
      token: server.token,
      backoff: { baseMs: 10, capMs: 80 },
      pingIntervalMs: 2_000,
    });
    flaky.onStateChange((state) => states.push(state));
    try {
      const tracker = new JobTracker('local', { rewatch: () => assert.fail('a gap reached the tracker') });
      const delivered: number[] = [];
      const outcomes: ApplyOutcome[] = [];
      let ended = false;
      await flaky.watch(jobId, 0, (seq, event) => {
        delivered.push(seq);
        outcomes.push(tracker.applyEvent(jobId, seq, event));
        if (event.type === 'ended') ended = true;
      });
      let cuts = 0;
      let cutsWhileTraining = 0;
      const random = mulberry32(7);
      while (!ended || cuts < 20) {
        await sleep(40 + random() * 160);
        if (proxy.cutAll() > 0) {
          cuts += 1;
          if (!ended && (tracker.get(jobId)?.points.length ?? 0) > 0) cutsWhileTraining += 1;
        }
        if (cuts > 2000) assert.fail('the job did not end');
      }
      await until(() => flaky.state === 'connected', 10_000, 'the last reconnect');
      assert.ok(cutsWhileTraining >= 3, `only ${cutsWhileTraining} cuts between loss points`);
      assert.ok(states.filter((state) => state === 'reconnecting').length >= 20);

      assert.deepEqual(delivered, [...Array(delivered.length).keys()], 'every seq once, in order');
      assert.ok(outcomes.every((outcome) => outcome === 'applied'));
      const reference = await direct;
      assert.deepEqual(reference.delivered, [...Array(reference.delivered.length).keys()]);
      assert.deepEqual(tracker.get(jobId), reference.view, 'the view equals the one from the uncut watch');

      const view = reference.view;
      assert.equal(view.state, 'done', view.logs.join('\n'));
      assert.equal(view.reason, null);
      assert.equal(view.step, steps);
      assert.equal(view.totalSteps, steps);
      assert.equal(view.points.filter((point) => point.loss !== null).length, steps);
      assert.ok(view.points.every((point) => point.learningRate !== null && Number.isFinite(point.loss)));
      assert.equal(view.device, 'cpu');
    } finally {
      flaky.close();
      await proxy.close();
    }
  });

  it('downloads the adapter into a folder, every file size- and sha256-checked', async () => {
    const destDir = join(tempDir('adapter'), 'adapter');
    const progress: DownloadProgress[] = [];
    const files = await client.downloadAdapter(jobId, destDir, (update) => progress.push(update));
    const names = files.map((file) => file.name);
    assert.ok(
      names.includes('adapter_model.safetensors') && names.includes('adapter_config.json'),
      JSON.stringify(files),
    );
    for (const file of files) {
      const data = readFileSync(file.path);
      assert.equal(data.length, file.size);
      assert.equal(createHash('sha256').update(data).digest('hex'), file.sha256);
      assert.ok(progress.some((update) => update.file === file.name && update.received === file.size));
    }
    assert.deepEqual(readdirSync(destDir).sort(), names.sort(), 'no temp files left behind');
  });

  it('evaluates the adapter against the base as a job of its own, followed to its summary', async () => {
    // The sample config holds out nothing (eval_split 0): evaluating on its split is refused at once, with
    // the code Evaluate Adapter answers by asking for a file, and no job is queued for it.
    const before = (await client.listJobs()).length;
    await assert.rejects(
      client.evaluate(jobId),
      (error: TrainerError) => error.code === 'no-held-out' && /eval_split is 0/.test(error.message),
    );
    assert.equal((await client.listJobs()).length, before);
    // So the held-out set is an upload.
    const heldOut = await client.uploadDataset(SAMPLE_DATASET);
    const evaluation = await client.evaluate(jobId, {
      data: { uploadId: heldOut.uploadId },
      maxNewTokens: 4,
      name: 'eval of the tiny run',
    });
    assert.equal(evaluation.method, 'eval');
    assert.notEqual(evaluation.job_id, jobId);
    const tracker = new JobTracker('local');
    let ended = false;
    await client.watch(evaluation.job_id, 0, (seq, event) => {
      tracker.applyEvent(evaluation.job_id, seq, event);
      if (event.type === 'ended') ended = true;
    });
    await until(() => ended, 240_000, 'the evaluation to end');
    const view = tracker.get(evaluation.job_id)!;
    assert.equal(view.state, 'done', view.logs.join('\n'));
    assert.ok(
      view.logs.some((line) => /^evaluating \d+ held-out examples with base, output$/.test(line)),
      view.logs.join('\n'),
    );
    assert.ok(view.logs.some((line) => /^answered 1\/\d+ \(base\)$/.test(line)));
    assert.ok(
      view.logs.some((line) =>
        /^evaluated: base: loss [\d.]+, ROUGE-L [\d.]+, BLEU [\d.]+, exact [\d.]+; output: loss/.test(line),
      ),
      view.logs.join('\n'),
    );
    await assert.rejects(client.evaluate('no-such-job'), (error: TrainerError) => error.code === 'unknown-job');

    // Its results come to this machine (what a remote trainer's evaluation view needs), verified, and read
    // as the evaluation view reads them.
    const resultsDir = join(tempDir('eval-results'), 'eval');
    const files = await client.downloadAdapter(evaluation.job_id, resultsDir, undefined, 'eval');
    assert.deepEqual(files.map((file) => file.name).sort(), ['results.jsonl', 'summary.json']);
    for (const file of files) {
      assert.equal(createHash('sha256').update(readFileSync(file.path)).digest('hex'), file.sha256);
    }
    const loaded = await loadEvaluation(resultsDir);
    assert.deepEqual(
      loaded.models.map((model) => model.name),
      ['base', 'output'],
    );
    assert.ok(loaded.examples.length > 0);
    // A training job has no evaluation results, and an evaluation no adapter.
    await assert.rejects(
      client.downloadAdapter(jobId, join(tempDir('none'), 'eval'), undefined, 'eval'),
      (error: TrainerError) => error.code === 'not-an-evaluation',
    );
    await assert.rejects(
      client.downloadAdapter(evaluation.job_id, join(tempDir('none'), 'adapter')),
      (error: TrainerError) => error.code === 'adapter-missing',
    );
  });

  it('streams chat tokens from the base model and from the adapter, and stops on abort', async () => {
    const request = (adapterJobId: string | null, base: string | null) => ({
      base,
      adapterJobId,
      messages: [{ role: 'user' as const, content: 'How do I reset my password?' }],
      system: null,
      params: { max_new_tokens: 8, temperature: 0, seed: 1 },
    });
    for (const [adapterJobId, base] of [
      [null, 'builtin:tiny-llama'],
      [jobId, null],
    ] as const) {
      const tokens: string[] = [];
      const result = await client.chat(request(adapterJobId, base), (text) => tokens.push(text));
      assert.ok(tokens.length > 0, 'tokens streamed');
      assert.ok(result.tokens > 0 && result.tokens <= 8);
      assert.ok(result.finishReason === 'length' || result.finishReason === 'stop');
    }

    const abort = new AbortController();
    const streamed: string[] = [];
    const long = { ...request(null, 'builtin:tiny-llama'), params: { max_new_tokens: 4000, temperature: 1, seed: 3 } };
    const cancelled = await client.chat(
      long,
      (text) => {
        streamed.push(text);
        if (streamed.length === 2) abort.abort();
      },
      abort.signal,
    );
    assert.equal(cancelled.finishReason, 'cancelled');
    assert.ok(cancelled.tokens < 4000);
  });

  it('detects a half-open connection within two ping intervals and reconnects', async () => {
    const proxy = await TcpProxy.start(server.port);
    const pingIntervalMs = 300;
    const log: string[] = [];
    const halfOpen = await ProtocolClient.connect({
      url: proxy.url,
      token: server.token,
      pingIntervalMs,
      backoff: { baseMs: 10, capMs: 50 },
      log: (line) => log.push(line),
    });
    try {
      await sleep(pingIntervalMs * 2);
      assert.equal(halfOpen.state, 'connected', 'a healthy connection is not mistaken for a dead one');
      let lostAt = 0;
      halfOpen.onStateChange((state) => {
        if (state === 'reconnecting' && lostAt === 0) lostAt = Date.now();
      });
      const stalledAt = Date.now();
      proxy.stallAll();
      await until(() => lostAt > 0, 5_000, 'the half-open connection to be noticed');
      const detection = lostAt - stalledAt;
      assert.ok(detection <= 2 * pingIntervalMs + pingIntervalMs / 4 + 100, `detected after ${detection} ms`);
      await until(() => halfOpen.state === 'connected', 5_000, 'the reconnect');
      assert.ok((await halfOpen.listJobs()).length >= 1, 'the new connection answers');
      assert.ok(log.some((line) => line.includes('did not answer pings')));
    } finally {
      halfOpen.close();
      await proxy.close();
    }
  });
});

/** A small seeded generator, so the cut pattern is the same on every run. */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
