// The Testing view's golden child gets the judge's key from a configured endpoint whose base URL is the evals
// file's `judge.base_url` (normalised), in its environment under the file's variable, never in argv.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { delimiter, join } from 'node:path';
import { describe, it } from 'node:test';
import { parseGoldenOutput } from '../../client/src/golden/evalsFile';
import {
  JUDGE_KEY_ENV,
  goldenCommand,
  judgeSettings,
  matchJudgeEndpoint,
  missingJudgeKeyHint,
  normaliseBaseUrl,
} from '../../client/src/golden/judgeKey';
import {
  SAMPLE_CONFIG,
  SAMPLE_DATASET,
  TRAINER_DIR,
  TRAINER_PYTHON,
  needTrainer,
  tempDir,
} from './fixtures/trainerSupport';

const KEY = 'sk-judge-secret-7f3a';
const ENDPOINTS = [
  { name: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1' },
  { name: 'grader', baseUrl: 'https://Judge.Example.com:8443/v1/' },
];

function evals(judge: string): string {
  return `config: job.finetune.yaml\n${judge}prompts:\n  - name: a\n    prompt: hi\n    expect: {judge: {rubric: Polite.}}\n`;
}

function command(judgeKey?: { variable: string; key: string }, baseEnv: NodeJS.ProcessEnv = { PATH: '/usr/bin' }) {
  return goldenCommand({
    python: '/opt/venv/bin/python',
    trainerDir: '/ext/trainer',
    file: '/w/checks.evals.yaml',
    only: ['a', 'b c'],
    baseEnv,
    allowDownload: false,
    judgeKey,
  });
}

describe("golden prompts: the judge's key from SecretStorage", () => {
  it("reads the file's judge endpoint and the variable it names, else the default", () => {
    assert.deepEqual(
      judgeSettings(
        evals('judge: {base_url: "https://judge.example.com:8443/v1", model: m, api_key_env: GRADER_KEY}\n'),
      ),
      {
        baseUrl: 'https://judge.example.com:8443/v1',
        keyEnv: 'GRADER_KEY',
      },
    );
    assert.deepEqual(judgeSettings(evals('judge: {base_url: http://127.0.0.1:11434/v1, model: m}\n')), {
      baseUrl: 'http://127.0.0.1:11434/v1',
      keyEnv: JUDGE_KEY_ENV,
    });
    assert.equal(judgeSettings(evals('')), undefined);
    assert.equal(judgeSettings('judge: [unclosed'), undefined);
    assert.equal(JUDGE_KEY_ENV, 'MODELFACTORY_JUDGE_API_KEY');
  });

  it('matches base URLs by scheme, host, port and path; a trailing slash or host case still matches', () => {
    assert.equal(matchJudgeEndpoint('https://judge.example.com:8443/v1', ENDPOINTS)?.name, 'grader');
    assert.equal(matchJudgeEndpoint('HTTPS://JUDGE.example.com:8443/v1//', ENDPOINTS)?.name, 'grader');
    assert.equal(matchJudgeEndpoint(' http://127.0.0.1:11434/v1/ ', ENDPOINTS)?.name, 'ollama');
    assert.equal(matchJudgeEndpoint('https://judge.example.com:9443/v1', ENDPOINTS), undefined, 'another port');
    assert.equal(matchJudgeEndpoint('https://judge.example.com:8443/v2', ENDPOINTS), undefined, 'another path');
    assert.equal(matchJudgeEndpoint('https://judge.example.com:8443', ENDPOINTS), undefined, 'no path');
    assert.equal(matchJudgeEndpoint('http://judge.example.com:8443/v1', ENDPOINTS), undefined, 'another scheme');
    assert.equal(matchJudgeEndpoint('not a url', ENDPOINTS), undefined);
    // The default port is the same port, written or not.
    assert.equal(normaliseBaseUrl('https://h.example:443/v1/'), normaliseBaseUrl('https://h.example/v1'));
    assert.equal(normaliseBaseUrl('ftp://h.example/v1'), undefined);
  });

  it("sets the key under the file's variable, replacing an inherited one, and never in argv", () => {
    const cmd = command({ variable: 'GRADER_KEY', key: KEY }, { PATH: '/usr/bin', GRADER_KEY: 'inherited-wrong' });
    assert.equal(cmd.env['GRADER_KEY'], KEY);
    assert.equal(cmd.command, '/opt/venv/bin/python');
    assert.deepEqual(cmd.args, [
      '-m',
      'modelfactory_trainer',
      'golden',
      '/w/checks.evals.yaml',
      '--json',
      '--only',
      'a',
      '--only',
      'b c',
    ]);
    assert.ok(!cmd.args.some((a) => a.includes(KEY)), 'the key is not on the command line');
    assert.equal(cmd.cwd, '/w');
    assert.equal(cmd.env['PYTHONPATH'], '/ext/trainer');
    assert.equal(cmd.env['HF_HUB_OFFLINE'], '1');
    // The default variable; an endpoint without a key gives "none", what the trainer sends for no key.
    assert.equal(command({ variable: JUDGE_KEY_ENV, key: `  ${KEY}\n` }).env[JUDGE_KEY_ENV], KEY);
    assert.equal(command({ variable: 'GRADER_KEY', key: '' }).env['GRADER_KEY'], 'none');
    // No match: the environment is as inherited (today's behaviour).
    const inherited = command(undefined, { PATH: '/usr/bin', GRADER_KEY: 'mine', PYTHONPATH: '/other' });
    assert.equal(inherited.env['GRADER_KEY'], 'mine');
    assert.equal(inherited.env['PYTHONPATH'], ['/ext/trainer', '/other'].join(delimiter));
    assert.throws(() => command({ variable: 'BAD-NAME', key: KEY }), /not an environment variable name/);
    assert.throws(() => command({ variable: 'GRADER_KEY', key: 'a\0b' }), /malformed/);
  });

  it('suggests adding the endpoint only when none matched and the variable is not set', () => {
    const settings = { baseUrl: 'https://judge.example.com/v1', keyEnv: 'GRADER_KEY' };
    const hint = missingJudgeKeyHint(settings, false, {});
    assert.match(hint ?? '', /ModelFactory: Add OpenAI-Compatible Endpoint/);
    assert.match(hint ?? '', /https:\/\/judge\.example\.com\/v1/);
    assert.match(hint ?? '', /\$GRADER_KEY/);
    assert.equal(missingJudgeKeyHint(settings, true, {}), undefined);
    assert.equal(missingJudgeKeyHint(settings, false, { GRADER_KEY: 'set' }), undefined);
    assert.equal(missingJudgeKeyHint(undefined, false, {}), undefined);
  });

  it('the real golden child sends the stored key to a real judge server, taken from its environment only', async () => {
    needTrainer();
    // An OpenAI-compatible judge on a real socket: it keeps each Authorization header and grades 8/10.
    const headers: string[] = [];
    const judge = createServer((req, res) => {
      headers.push(req.headers.authorization ?? '');
      req.resume();
      req.on('end', () => {
        const content = JSON.stringify({ score: 8, reason: 'polite enough' });
        res.setHeader('Content-Type', 'application/json');
        res.end(
          JSON.stringify({
            id: 'chatcmpl-1',
            object: 'chat.completion',
            created: 0,
            model: 'grader',
            choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content } }],
            usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => judge.listen(0, '127.0.0.1', resolve));
    try {
      const port = (judge.address() as AddressInfo).port;
      const dir = tempDir('golden-judge');
      const config = readFileSync(SAMPLE_CONFIG, 'utf8').replace(
        'path: support/data/train.jsonl',
        `path: ${SAMPLE_DATASET}`,
      );
      writeFileSync(
        join(dir, 'tiny.finetune.yaml'),
        config.replace(/^output_dir: .*$/m, `output_dir: ${join(dir, 'out')}`),
      );
      const file = join(dir, 'judged.evals.yaml');
      const text =
        `config: tiny.finetune.yaml\nmax_new_tokens: 4\n` +
        `judge: {base_url: "http://127.0.0.1:${port}/v1", model: grader, api_key_env: GRADER_KEY}\n` +
        `prompts:\n  - name: polite\n    prompt: Hello?\n    expect: {judge: {rubric: Polite., min_score: 6}}\n`;
      writeFileSync(file, text);
      // The user's endpoint, written with a trailing slash and an upper-case host.
      const settings = judgeSettings(text);
      assert.ok(settings);
      const match = matchJudgeEndpoint(settings.baseUrl, [
        { name: 'local', baseUrl: `HTTP://LOCALHOST:${port}/v1/` },
        { name: 'judge', baseUrl: `http://127.0.0.1:${port}/v1/` },
      ]);
      assert.equal(match?.name, 'judge');
      const cmd = goldenCommand({
        python: TRAINER_PYTHON,
        trainerDir: TRAINER_DIR,
        file,
        only: ['polite'],
        baseEnv: { ...process.env, GRADER_KEY: 'inherited-wrong' },
        allowDownload: false,
        judgeKey: { variable: settings.keyEnv, key: KEY },
      });
      assert.ok(!cmd.args.some((a) => a.includes(KEY)));
      const child = spawn(cmd.command, cmd.args, { cwd: cmd.cwd, env: cmd.env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, stderr.slice(-2000));
      const results = parseGoldenOutput(stdout);
      assert.ok(Array.isArray(results), String(results));
      assert.deepEqual(
        results.map((r) => [r.name, r.model, r.passed]),
        [['polite', 'base', true]],
      );
      assert.deepEqual(headers, [`Bearer ${KEY}`]);
      assert.ok(!stdout.includes(KEY) && !stderr.includes(KEY), 'the key is not in the output');
    } finally {
      await new Promise<void>((resolve) => judge.close(() => resolve()));
    }
  });
});
