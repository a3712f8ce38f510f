import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { datasetOf, systemPromptOf, wantsRemoteCode } from '../../client/src/jobs/datasetOf';
import { describeJob, formatDuration, jobRefOf, progressOf } from '../../client/src/jobs/describe';
import { checkEndpointName, checkEndpointUrl, secretKeyOf } from '../../client/src/jobs/endpointChecks';
import type { JobView } from '../../client/src/trainer/api';
import { emptyView } from '../../client/src/trainer/jobTracker';

function job(over: Partial<JobView>): JobView {
  return { ...emptyView('local', 'j1'), name: 'tiny', state: 'running', created: 1, lastSeq: 0, ...over };
}

const point = (step: number, loss: number | null) => ({
  step,
  time: step,
  epoch: null,
  loss,
  evalLoss: null,
  learningRate: null,
  tokensPerSecond: null,
  gpuMemoryGb: null,
});

describe('job descriptions', () => {
  it('formats durations by their scale', () => {
    assert.equal(formatDuration(-3), '0s');
    assert.equal(formatDuration(59.4), '59s');
    assert.equal(formatDuration(61), '1m 01s');
    assert.equal(formatDuration(3600 * 2 + 60 * 5 + 9), '2h 05m');
  });

  it('says step, total, the last known loss and the ETA of a running job', () => {
    const j = job({ step: 40, totalSteps: 180, etaSeconds: 95, points: [point(30, 0.9), point(40, null)] });
    assert.equal(describeJob(j), 'step 40/180 · loss 0.900 · ETA 1m 35s');
    assert.equal(progressOf(j), 40 / 180);
    assert.equal(progressOf(job({ step: 3 })), null);
  });

  it('names the reason of a failure and the step of a cancel', () => {
    assert.equal(describeJob(job({ state: 'failed', reason: 'oom' })), 'failed: oom');
    assert.equal(describeJob(job({ state: 'failed' })), 'failed');
    assert.equal(describeJob(job({ state: 'cancelled', step: 12 })), 'cancelled at step 12');
    assert.equal(describeJob(job({ state: 'done', points: [point(180, 0.0712)] })), 'done · loss 0.071');
    assert.equal(describeJob(job({ state: 'queued' })), 'queued');
  });
});

describe('remote endpoints', () => {
  it('accepts wss:// addresses only, without credentials, query or fragment', () => {
    assert.equal(checkEndpointUrl('wss://gpu.example.com:8765'), undefined);
    assert.equal(checkEndpointUrl('  wss://10.0.0.2:9000/  '), undefined);
    assert.match(checkEndpointUrl('ws://gpu.example.com')!, /wss:\/\//);
    assert.match(checkEndpointUrl('https://gpu.example.com')!, /wss:\/\//);
    assert.match(checkEndpointUrl('ws://127.0.0.1:8765')!, /wss:\/\//);
    assert.match(checkEndpointUrl('wss://user:secret@gpu.example.com')!, /credentials/);
    assert.match(checkEndpointUrl('wss://gpu.example.com/?token=abc')!, /query/);
    assert.doesNotMatch(checkEndpointUrl('wss://gpu.example.com/?token=abc')!, /abc/);
    assert.match(checkEndpointUrl('not a url')!, /not a valid URL/);
  });

  it('refuses names that are empty, reserved, taken or odd', () => {
    const existing = [{ name: 'gpu-box', url: 'wss://a' }];
    assert.equal(checkEndpointName('lab 2', existing), undefined);
    assert.ok(checkEndpointName('', existing));
    assert.ok(checkEndpointName('local', existing));
    assert.ok(checkEndpointName('gpu-box', existing));
    assert.ok(checkEndpointName('../x', existing));
    assert.equal(secretKeyOf('lab 2'), 'modelfactory.endpoint.token/lab 2');
  });
});

describe('the dataset a config trains on', () => {
  const configPath = join('/ws', 'tiny.finetune.yaml');
  it('resolves dataset.path against the config folder', () => {
    assert.deepEqual(datasetOf('dataset:\n  path: support/data/train.jsonl\n', configPath), {
      path: join('/ws', 'support', 'data', 'train.jsonl'),
    });
  });
  it('explains a Datanet-only config, a missing dataset and broken YAML', () => {
    assert.match(
      (datasetOf('dataset:\n  datanet: support/datanet.yaml\n', configPath) as { problem: string }).problem,
      /one dataset file/,
    );
    assert.match((datasetOf('base_model: x\n', configPath) as { problem: string }).problem, /names no dataset/);
    assert.match(
      (datasetOf('dataset:\n  registry: data/dataset_info.json\n  name: x\n', configPath) as { problem: string })
        .problem,
      /registry entry trains from the command line/,
    );
    assert.match((datasetOf('dataset: [unclosed\n', configPath) as { problem: string }).problem, /not valid YAML/);
  });
  it('names a Hub dataset, which the trainer loads (nothing to upload)', () => {
    assert.deepEqual(datasetOf('dataset:\n  hub: data-org/arithmetic\n  split: train\n', configPath), {
      hub: 'data-org/arithmetic',
    });
  });
});

describe('the system prompt a dataset trains with', () => {
  it('finds it in messages, sharegpt and top-level system fields, skipping broken lines', () => {
    const messages = JSON.stringify({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
    });
    assert.equal(systemPromptOf(`{broken\n${messages}\n`), 'Be brief.');
    const sharegpt = JSON.stringify({
      conversations: [
        { from: 'system', value: 'Be kind.' },
        { from: 'human', value: 'x' },
      ],
    });
    assert.equal(systemPromptOf(sharegpt), 'Be kind.');
    assert.equal(systemPromptOf(JSON.stringify({ system: 'Top.', instruction: 'x', output: 'y' })), 'Top.');
    const promptCompletion = JSON.stringify({
      prompt: [
        { role: 'system', content: 'Be exact.' },
        { role: 'user', content: 'x' },
      ],
      completion: [{ role: 'assistant', content: 'y' }],
    });
    assert.equal(systemPromptOf(promptCompletion), 'Be exact.');
  });
  it('is null for records without one, and reads the sample Datanet file', async () => {
    assert.equal(systemPromptOf(JSON.stringify({ instruction: 'x', output: 'y' }) + '\n[1,2]\n"s"'), null);
    const { readFileSync } = await import('node:fs');
    const sample = readFileSync(
      join(__dirname, '..', '..', 'samples', 'workspace', 'support', 'data', 'train.jsonl'),
      'utf8',
    );
    assert.equal(systemPromptOf(sample), 'You answer questions about ModelFactory briefly.');
  });
});

describe('remote code opt-in', () => {
  it('is asked for only by trust_remote_code: true', () => {
    assert.equal(wantsRemoteCode('base_model: THUDM/chatglm3-6b\ntrust_remote_code: true\n'), true);
    assert.equal(wantsRemoteCode('trust_remote_code: false\n'), false);
    assert.equal(wantsRemoteCode('trust_remote_code: "true"\n'), false);
    assert.equal(wantsRemoteCode('base_model: x\n'), false);
  });
});

describe('job references of commands', () => {
  it('come from a jobs view node or a {target, jobId}, and nothing else', () => {
    const job = { target: 'local', jobId: 'j1' };
    assert.deepEqual(jobRefOf({ kind: 'job', job: { ...job, name: 'x' } }), job);
    assert.deepEqual(jobRefOf({ ...job, extra: 1 }), job);
    assert.equal(jobRefOf({ kind: 'target', target: { id: 'local' } }), undefined);
    assert.equal(jobRefOf({ target: 'local', jobId: 7 }), undefined);
    assert.equal(jobRefOf(undefined), undefined);
    assert.equal(jobRefOf('local/j1'), undefined);
  });
});
