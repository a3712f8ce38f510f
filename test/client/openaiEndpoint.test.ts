// The playground's OpenAI-compatible endpoint client (the official `openai` npm package) against the real
// Python server's `serve --openai --no-websocket`, on the built-in tiny model.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OpenAI from 'openai';
import { OpenAIEndpointClient, checkOpenAIBaseUrl, modelChoiceId } from '../../client/src/trainer/openaiChat';
import { isJobId } from '../../webviews/src/protocol/dashboard';
import { parsePlaygroundHostMessage } from '../../webviews/src/protocol/playground';
import { needTrainer, startTrainerServer } from './fixtures/trainerSupport';
import type { RunningServer } from './fixtures/trainerSupport';

const TINY = 'builtin:tiny-llama';
const QUESTION = [{ role: 'user' as const, content: 'What is 3 plus 4?' }];
const GREEDY = { max_new_tokens: 12, temperature: 0 };

describe('OpenAI-compatible endpoints', () => {
  it('base URLs: http only on loopback, no credentials or query', () => {
    assert.equal(checkOpenAIBaseUrl('https://gpu.example.com:8000/v1'), undefined);
    assert.equal(checkOpenAIBaseUrl('http://127.0.0.1:11434/v1'), undefined);
    assert.match(checkOpenAIBaseUrl('http://gpu.example.com/v1') ?? '', /https/);
    assert.match(checkOpenAIBaseUrl('https://user:pw@gpu.example.com/v1') ?? '', /credentials/);
    assert.match(checkOpenAIBaseUrl('https://gpu.example.com/v1?key=x') ?? '', /query/);
    assert.match(checkOpenAIBaseUrl('ftp://x') ?? '', /http/);
    assert.match(checkOpenAIBaseUrl('not a url') ?? '', /Not a URL/);
  });

  it('an endpoint is a playground target whose models are valid picker ids', () => {
    const models = ['meta-llama/Llama-3.1-8B-Instruct', 'llama3:8b', 'sql-lora', '../../x'];
    const ids = models.map(modelChoiceId);
    assert.ok(ids.every(isJobId));
    assert.equal(new Set(ids).size, models.length);
    assert.equal(modelChoiceId('llama3:8b'), ids[1]);
    const init = (kind: string) => ({
      type: 'init',
      targets: [{ id: 'openai:vllm', label: 'vllm (OpenAI-compatible)', kind }],
      baseModels: [],
      preset: null,
      generations: [],
    });
    assert.notEqual(parsePlaygroundHostMessage(init('openai')), null);
    assert.equal(parsePlaygroundHostMessage(init('ftp')), null);
    const adapters = models.map((m) => ({ jobId: modelChoiceId(m), name: m, baseModel: m, systemPrompt: null }));
    assert.notEqual(parsePlaygroundHostMessage({ type: 'adapters', target: 'openai:vllm', adapters }), null);
  });

  describe('against the real trainer server', () => {
    before(needTrainer);
    let server: RunningServer;
    let endpoint: OpenAIEndpointClient;
    let baseURL: string;

    before(async () => {
      server = await startTrainerServer(['--openai', '--no-websocket', '--openai-base', TINY]);
      baseURL = `http://127.0.0.1:${server.port}/v1`;
      endpoint = new OpenAIEndpointClient({ baseURL, apiKey: server.token });
    });

    after(async () => {
      await server?.stop();
    });

    it('lists the served models', async () => {
      assert.ok((await endpoint.listModels()).includes(TINY));
    });

    it('streams a greedy reply, the same twice, with usage-based statistics', async () => {
      const run = async () => {
        let text = '';
        const result = await endpoint.chat(
          TINY,
          QUESTION,
          null,
          GREEDY,
          (t) => (text += t),
          new AbortController().signal,
        );
        return { text, result };
      };
      const first = await run();
      const second = await run();
      assert.ok(first.text.length > 0);
      assert.equal(second.text, first.text);
      assert.ok(first.result.tokens > 0 && first.result.tokens <= 12);
      assert.ok(first.result.tokensPerSecond > 0);
      assert.ok(['stop', 'length'].includes(first.result.finishReason));
    });

    it('serves 8 concurrent streams without an error', async () => {
      const replies = await Promise.all(
        Array.from({ length: 8 }, async (_, i) => {
          let text = '';
          const result = await endpoint.chat(
            TINY,
            [{ role: 'user', content: `What is ${i} plus 1?` }],
            'Answer briefly.',
            { max_new_tokens: 8, temperature: 0 },
            (t) => (text += t),
            new AbortController().signal,
          );
          return { text, result };
        }),
      );
      assert.ok(replies.every((r) => r.text.length > 0 && r.result.tokens > 0));
    });

    it('a Stop ends the reply as cancelled', async () => {
      const controller = new AbortController();
      const result = await endpoint.chat(
        TINY,
        QUESTION,
        null,
        { max_new_tokens: 2000, temperature: 0 },
        () => controller.abort(),
        controller.signal,
      );
      assert.equal(result.finishReason, 'cancelled');
    });

    it('a wrong key is 401 and an unknown model 404, as the openai package reports them', async () => {
      const wrong = new OpenAIEndpointClient({ baseURL, apiKey: `${server.token}-wrong` });
      await assert.rejects(wrong.listModels(), (err: unknown) => err instanceof OpenAI.AuthenticationError);
      await assert.rejects(
        endpoint.chat('no-such-model', QUESTION, null, GREEDY, () => undefined, new AbortController().signal),
        (err: unknown) => err instanceof OpenAI.NotFoundError && err.status === 404,
      );
    });
  });
});
