// "Evaluate on Endpoints" from the editor: the argv/environment builder (a key only in the child's environment,
// URL and model checks, clear errors), then the same builder and runner the command uses, running the real
// trainer's `eval --endpoint` against the real `serve --openai` on the built-in tiny model.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  EndpointEvalError,
  KEY_ENV_PREFIX,
  buildEndpointEval,
  describeProgress,
  runEndpointEval,
  type EndpointEvalRequest,
  type EvalProgress,
} from '../../client/src/evaluation/endpointEval';
import { loadEvaluation } from '../../client/src/evaluation/results';
import { TRAINER_DIR, TRAINER_PYTHON, needTrainer, startTrainerServer, tempDir } from './fixtures/trainerSupport';
import type { RunningServer } from './fixtures/trainerSupport';
import { arithmeticRecords } from './tinyEvaluation';

const TINY = 'builtin:tiny-llama';
const SECRET = 'sk-test-0123456789abcdef-never-on-argv';

function request(overrides: Partial<EndpointEvalRequest> = {}): EndpointEvalRequest {
  return {
    python: '/opt/venv/bin/python',
    trainerDir: '/ext/trainer',
    config: '/ws/tiny.finetune.yaml',
    out: '/ws/.modelfactory/runs/eval-1',
    endpoints: [{ endpoint: 'vllm', baseUrl: 'https://gpu.example.com/v1/', model: 'sql-lora', apiKey: SECRET }],
    endpointsOnly: true,
    baseEnv: { PATH: '/usr/bin', PYTHONPATH: '/other' },
    ...overrides,
  };
}

describe('evaluate on endpoints: the command line', () => {
  it('puts the key only in the environment, named by --api-key-env', () => {
    const cmd = buildEndpointEval(request());
    assert.equal(cmd.command, '/opt/venv/bin/python');
    assert.equal(cmd.cwd, '/ws');
    assert.deepEqual(cmd.args, [
      '-m',
      'modelfactory_trainer',
      'eval',
      '/ws/tiny.finetune.yaml',
      '--out=/ws/.modelfactory/runs/eval-1',
      '--events',
      '--max-new-tokens=128',
      '--endpoints-only',
      '--endpoint=https://gpu.example.com/v1',
      '--model=sql-lora',
      `--api-key-env=${KEY_ENV_PREFIX}1`,
    ]);
    assert.ok(!cmd.args.join(' ').includes(SECRET));
    assert.equal(cmd.env[`${KEY_ENV_PREFIX}1`], SECRET);
    assert.equal(cmd.env['PYTHONPATH'], ['/ext/trainer', '/other'].join(delimiter));
    assert.equal(cmd.env['HF_HUB_OFFLINE'], '1');
    assert.equal(cmd.env['PATH'], '/usr/bin');
  });

  it('gives every model a variable when any has a key; none when none has', () => {
    const mixed = buildEndpointEval(
      request({
        endpointsOnly: false,
        adapters: ['/ws/adapter'],
        data: '/ws/held.jsonl',
        endpoints: [
          { endpoint: 'vllm', baseUrl: 'https://gpu.example.com/v1', model: 'a', apiKey: SECRET },
          { endpoint: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1', model: '-looks-like-a-flag' },
        ],
        baseEnv: { [`${KEY_ENV_PREFIX}2`]: 'inherited', HF_HUB_OFFLINE: '0' },
        allowDownload: true,
      }),
    );
    assert.deepEqual(mixed.args.slice(6), [
      '--max-new-tokens=128',
      '--data=/ws/held.jsonl',
      '--adapter=/ws/adapter',
      '--endpoint=https://gpu.example.com/v1',
      '--model=a',
      `--api-key-env=${KEY_ENV_PREFIX}1`,
      '--endpoint=http://127.0.0.1:11434/v1',
      '--model=-looks-like-a-flag',
      `--api-key-env=${KEY_ENV_PREFIX}2`,
    ]);
    assert.equal(mixed.env[`${KEY_ENV_PREFIX}2`], 'none', 'an inherited variable never poses as a key');
    assert.equal(mixed.env['HF_HUB_OFFLINE'], undefined);

    const keyless = buildEndpointEval(
      request({ endpoints: [{ endpoint: 'ollama', baseUrl: 'http://localhost:11434/v1', model: 'llama3:8b' }] }),
    );
    assert.ok(!keyless.args.some((a) => a.startsWith('--api-key-env')));
    assert.ok(!Object.keys(keyless.env).some((k) => k.startsWith(KEY_ENV_PREFIX)));
  });

  it('refuses bad settings and picks with a message naming the endpoint', () => {
    const refuse = (overrides: Partial<EndpointEvalRequest>, pattern: RegExp) =>
      assert.throws(
        () => buildEndpointEval(request(overrides)),
        (err: unknown) => err instanceof EndpointEvalError && pattern.test(err.message),
      );
    const endpoint = (baseUrl: string, model = 'm') => ({ endpoints: [{ endpoint: 'box', baseUrl, model }] });
    refuse(endpoint('http://gpu.example.com/v1'), /"box".*https.*modelfactory\.openai\.endpoints/);
    refuse(endpoint('https://user:pw@gpu.example.com/v1'), /"box".*credentials/);
    refuse(endpoint('https://gpu.example.com/v1?key=x'), /"box".*query/);
    refuse(endpoint('not a url'), /"box".*Not a URL/);
    refuse(endpoint('https://gpu.example.com/v1', '  '), /"box".*model name is empty/);
    refuse(endpoint('https://gpu.example.com/v1', 'a\nb'), /control characters/);
    refuse(endpoint('https://gpu.example.com/v1', 'x'.repeat(300)), /longer than 256/);
    refuse({ endpoints: [] }, /at least one endpoint model/);
    refuse({ endpoints: Array.from({ length: 17 }, () => request().endpoints[0]!) }, /at most 16 endpoint models/);
    refuse({ adapters: ['/ws/adapter'] }, /endpoints-only.*adapters/);
    refuse({ config: 'tiny.finetune.yaml' }, /config must be an absolute path/);
    refuse({ data: '' }, /held-out file is missing/);
    refuse({ maxNewTokens: 0 }, /max new tokens/);
  });

  it('describes progress', () => {
    const p: EvalProgress = { done: 3, total: 8, model: 'calc', etaSeconds: 4.2 };
    assert.equal(describeProgress(p), 'calc: 3/8 (about 5 s left)');
    assert.equal(describeProgress({ ...p, etaSeconds: null, model: '' }), '3/8');
  });
});

describe('evaluate on endpoints: the real trainer against a real serve --openai', () => {
  before(needTrainer);
  let server: RunningServer;
  let dir: string;
  let config: string;
  let held: string;

  before(async () => {
    server = await startTrainerServer(['--openai', '--no-websocket', '--openai-base', TINY]);
    dir = tempDir('endpoint-eval');
    config = join(dir, 'tiny.finetune.yaml');
    held = join(dir, 'held.jsonl');
    const records = arithmeticRecords(3).map((r) => JSON.stringify(r) + '\n');
    writeFileSync(join(dir, 'train.jsonl'), records.join(''));
    writeFileSync(held, records.join(''));
    writeFileSync(
      config,
      [
        `base_model: ${TINY}`,
        'method: lora',
        'dataset: {path: train.jsonl, eval_split: 0}',
        'training: {max_steps: 1, max_seq_length: 64, gradient_checkpointing: false}',
        'output_dir: out',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await server?.stop();
  });

  const endpoint = (apiKey: string) => ({
    endpoint: 'local serve --openai',
    baseUrl: `http://127.0.0.1:${server.port}/v1`,
    model: TINY,
    apiKey,
  });

  /** The command the extension would run: the tiny config's held-out file, scored at `out` with `apiKey`. */
  const evalCommand = (out: string, apiKey: string, endpointsOnly: boolean) =>
    buildEndpointEval({
      python: TRAINER_PYTHON,
      trainerDir: TRAINER_DIR,
      config,
      data: held,
      out,
      endpoints: [endpoint(apiKey)],
      endpointsOnly,
      maxNewTokens: 12,
      baseEnv: process.env,
    });

  it('scores the endpoint beside the local base: its rows, its answers equal to the base, the key never on argv', async () => {
    const out = join(dir, '.modelfactory', 'runs', 'eval-beside');
    mkdirSync(out, { recursive: true });
    const cmd = evalCommand(out, server.token, false);
    assert.ok(!cmd.args.some((a) => a.includes(server.token)));
    const progress: EvalProgress[] = [];
    const lines: string[] = [];
    const outcome = await runEndpointEval(cmd, { onProgress: (p) => progress.push(p), onLine: (l) => lines.push(l) });
    assert.equal(outcome.state, 'done', `${outcome.error}\n${lines.join('\n')}`);
    assert.deepEqual(outcome.models, ['base', TINY]);
    assert.equal(outcome.examples, 3);
    assert.deepEqual(
      progress.map((p) => `${p.done}/${p.total}`),
      ['1/6', '2/6', '3/6', '4/6', '5/6', '6/6'],
    );
    assert.ok(!lines.join('\n').includes(server.token), 'the key is not in the trainer output');

    const rows = readFileSync(join(out, 'results.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const remote = rows.filter((r) => r['model'] === TINY);
    const local = rows.filter((r) => r['model'] === 'base');
    assert.equal(remote.length, 3);
    assert.ok(remote.every((r) => r['endpoint_model'] === TINY && r['loss'] === null));
    // The endpoint serves the same base greedily: the same answers, example by example.
    assert.deepEqual(
      remote.map((r) => r['answer']),
      local.map((r) => r['answer']),
    );
    assert.ok(!readFileSync(join(out, 'summary.json'), 'utf8').includes(server.token));

    // The evaluation view reads the folder.
    const view = await loadEvaluation(out);
    assert.deepEqual(
      view.models.map((m) => m.name),
      ['base', TINY],
    );
    assert.equal(view.examples.length, 3);
  });

  it('endpoints only, with a wrong key: fails with the endpoint named, the key in no message', async () => {
    const out = join(dir, '.modelfactory', 'runs', 'eval-wrong-key');
    const cmd = evalCommand(out, 'not-the-token-of-this-server', true);
    const outcome = await runEndpointEval(cmd);
    assert.equal(outcome.state, 'failed');
    assert.match(outcome.error ?? '', new RegExp(`endpoint 127\\.0\\.0\\.1:${server.port}: could not list its models`));
    assert.ok(!(outcome.error ?? '').includes('not-the-token-of-this-server'));
  });

  it('a cancel stops the trainer', async () => {
    const out = join(dir, '.modelfactory', 'runs', 'eval-cancel');
    const cmd = evalCommand(out, server.token, true);
    const abort = new AbortController();
    const outcome = await runEndpointEval(cmd, { signal: abort.signal, onStart: () => abort.abort() });
    assert.equal(outcome.state, 'cancelled');
  });
});
