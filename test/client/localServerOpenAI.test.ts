// The local job server started as the extension does with `modelfactory.trainer.openai` on (`--openai`): the
// OpenAI-compatible API's port is read from its stdout and kept in server.json, so a window that reuses the
// server finds the API too; the official `openai` client reaches it with the local token, and only with it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { ensureLocalServer, stopLocalServer } from '../../client/src/trainer/localServer';
import type { LocalServerOptions } from '../../client/src/trainer/localServer';
import { OpenAIEndpointClient } from '../../client/src/trainer/openaiChat';
import { ProtocolClient } from '../../client/src/trainer/protocolClient';
import { TRAINER_DIR, TRAINER_PYTHON, needTrainer, randomToken, tempDir } from './fixtures/trainerSupport';

const TINY = 'builtin:tiny-llama';

describe('local job server with its OpenAI-compatible API', () => {
  before(needTrainer);
  const stateDir = tempDir('local-openai');
  const token = randomToken();
  const options: LocalServerOptions = {
    python: TRAINER_PYTHON,
    trainerDir: TRAINER_DIR,
    stateDir,
    logFile: join(stateDir, 'server.log'),
    token,
    version: 'test-openai',
    extraArgs: ['--openai', '--openai-base', TINY],
  };

  after(async () => {
    await stopLocalServer(stateDir);
  });

  it('serves both APIs, records the OpenAI port, and a reuse finds it', async () => {
    const server = await ensureLocalServer(options);
    assert.equal(server.reused, false);
    assert.ok(server.openaiPort && server.openaiPort !== server.port, `an OpenAI port: ${server.openaiPort}`);
    const state = JSON.parse(readFileSync(join(stateDir, 'server.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(state['openaiPort'], server.openaiPort);

    const ws = await ProtocolClient.connect({ url: server.url, token });
    assert.equal((await ws.hello()).server, 'modelfactory-trainer');
    ws.close();

    const baseURL = `http://127.0.0.1:${server.openaiPort}/v1`;
    const api = new OpenAIEndpointClient({ baseURL, apiKey: token });
    assert.ok((await api.listModels()).includes(TINY));
    let text = '';
    const result = await api.chat(
      TINY,
      [{ role: 'user', content: 'What is 3 plus 4?' }],
      null,
      { max_new_tokens: 6, temperature: 0 },
      (t) => (text += t),
      new AbortController().signal,
    );
    assert.ok(text.length > 0 && result.tokens > 0);
    const stranger = new OpenAIEndpointClient({ baseURL, apiKey: randomToken() });
    await assert.rejects(stranger.listModels(), (err: unknown) => err instanceof OpenAI.AuthenticationError);

    const again = await ensureLocalServer(options);
    assert.deepEqual([again.reused, again.pid, again.openaiPort], [true, server.pid, server.openaiPort]);
    // A caller without the setting reuses the same server and still learns where its API is.
    const plain = await ensureLocalServer({ ...options, extraArgs: [] });
    assert.equal(plain.openaiPort, server.openaiPort);
  });
});
