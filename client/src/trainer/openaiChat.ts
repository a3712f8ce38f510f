// Chat with any OpenAI-compatible endpoint (vLLM with --enable-lora, Ollama, llama.cpp's server, or the
// trainer's own `serve --openai`) through the official `openai` package, from the extension host. No `vscode`
// import: tested in plain Node against the real Python server. The key comes from SecretStorage and leaves
// only in the Authorization header.
import { createHash } from 'node:crypto';
import OpenAI from 'openai';
import type { ChatMessage, ChatParams, ChatRequest, ChatResult } from './api';

export interface OpenAIEndpointOptions {
  baseURL: string;
  apiKey: string;
  /** Per request, in milliseconds (default 10 minutes: a long reply from a cold model is normal). */
  timeoutMs?: number;
}

/** A usable base URL (http(s), no credentials or query), or why not; plain http only on loopback. */
export function checkOpenAIBaseUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return 'Not a URL: use e.g. https://host:8000/v1';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'Use an http:// or https:// address.';
  if (url.username || url.password) return 'Leave credentials out of the address: the key is asked for next.';
  if (url.search || url.hash) return 'No query string or fragment: the key never travels in a URL.';
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol === 'http:' && !loopback) {
    return 'Use https:// off this machine: the key must not cross the network unencrypted.';
  }
  return undefined;
}

/** The playground's id for a model of an endpoint: model ids are free text, the playground's pickers take job ids. */
export function modelChoiceId(model: string): string {
  return `m${createHash('sha256').update(model).digest('hex').slice(0, 24)}`;
}

export class OpenAIEndpointClient {
  private readonly api: OpenAI;

  constructor(options: OpenAIEndpointOptions) {
    const problem = checkOpenAIBaseUrl(options.baseURL);
    if (problem) throw new Error(problem);
    this.api = new OpenAI({
      baseURL: options.baseURL.trim().replace(/\/+$/, ''),
      // Servers without keys (a local Ollama) accept any; the package requires a non-empty one.
      apiKey: options.apiKey || 'none',
      maxRetries: 0,
      timeout: options.timeoutMs ?? 600_000,
    });
  }

  /** The model ids the endpoint serves (base models and adapters alike). */
  async listModels(signal?: AbortSignal): Promise<string[]> {
    const ids: string[] = [];
    for await (const model of this.api.models.list({ signal })) {
      ids.push(model.id);
      if (ids.length >= 10_000) break;
    }
    return ids;
  }

  /** Streams one reply of `model`; `onToken` gets each piece; aborting `signal` ends with 'cancelled'. */
  async chat(
    model: string,
    messages: ChatMessage[],
    system: string | null,
    params: ChatParams,
    onToken: (text: string) => void,
    signal: AbortSignal,
  ): Promise<ChatResult> {
    const turns = system && messages[0]?.role !== 'system' ? [{ role: 'system', content: system }, ...messages] : messages;
    const started = performance.now();
    let firstAt: number | null = null;
    let pieces = 0;
    let tokens: number | null = null;
    let finish: ChatResult['finishReason'] = 'stop';
    try {
      const stream = await this.api.chat.completions.create(
        {
          model,
          messages: turns.map((m) => ({ role: m.role, content: m.content })) as OpenAI.ChatCompletionMessageParam[],
          stream: true,
          stream_options: { include_usage: true },
          ...(params.max_new_tokens !== undefined ? { max_tokens: params.max_new_tokens } : {}),
          ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
          ...(params.top_p !== undefined ? { top_p: params.top_p } : {}),
          ...(params.seed !== undefined && params.seed !== null ? { seed: params.seed } : {}),
          ...(params.stop && params.stop.length ? { stop: params.stop } : {}),
        },
        { signal },
      );
      for await (const chunk of stream) {
        const choice = chunk.choices[0];
        const text = choice?.delta?.content;
        if (text) {
          firstAt ??= performance.now();
          pieces += 1;
          onToken(text);
        }
        if (choice?.finish_reason) finish = choice.finish_reason === 'length' ? 'length' : 'stop';
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
      }
    } catch (err) {
      if (!signal.aborted) throw err;
    }
    // An abort may end the stream quietly rather than throw.
    if (signal.aborted) finish = 'cancelled';
    const ended = performance.now();
    // Servers that do not report usage in a stream: each content piece is counted as one token.
    const count = tokens ?? pieces;
    return {
      tokens: count,
      timeToFirstTokenMs: (firstAt ?? ended) - started,
      tokensPerSecond: count / Math.max((ended - started) / 1000, 1e-9),
      finishReason: finish,
    };
  }
}

/**
 * An endpoint's models as the playground offers them, per target: each model id under a job-id-shaped choice
 * id (`modelChoiceId`), listed as an adapter whose base model is itself. A chat names the choice (or, as a
 * base model, the model id) and runs the model the last listing mapped it to.
 */
export class EndpointModelChoices {
  private readonly models = new Map<string, Map<string, string>>();

  async list(target: string, client: OpenAIEndpointClient): Promise<{ jobId: string; name: string; baseModel: string }[]> {
    const ids = await client.listModels();
    const map = new Map(ids.map((id) => [modelChoiceId(id), id]));
    this.models.set(target, map);
    return [...map].map(([jobId, id]) => ({ jobId, name: id, baseModel: id }));
  }

  chat(
    target: string,
    client: OpenAIEndpointClient,
    request: ChatRequest,
    onToken: (text: string) => void,
    signal: AbortSignal,
  ): Promise<ChatResult> {
    const model = request.adapterJobId ? this.models.get(target)?.get(request.adapterJobId) : request.base;
    if (!model) return Promise.reject(new Error('that model is not offered by this endpoint'));
    return client.chat(model, request.messages, request.system, request.params, onToken, signal);
  }
}
