// OpenAI-compatible endpoints for the playground (vLLM with --enable-lora, Ollama, llama.cpp's server, or the
// trainer's `serve --openai`): names and base URLs in the machine-scoped setting `modelfactory.openai.endpoints`,
// keys only in SecretStorage (SECURITY.md rule 4), leaving it only for the Authorization header. In the
// playground each endpoint is a target `openai:<name>` that either column can pick, with any of its models, so
// the two columns can be any two models on any two targets (vLLM beside Ollama, our `serve --openai`, ...).
import * as vscode from 'vscode';
import type { ChatRequest, ChatResult, TargetRef } from './trainer/api';
import { EndpointModelChoices, OpenAIEndpointClient, checkOpenAIBaseUrl } from './trainer/openaiChat';
import { getSetting, updateSetting } from './settings';

export const OPENAI_TARGET_PREFIX = 'openai:';
/** The local trainer's own API (`modelfactory.trainer.openai`): parentheses keep it apart from any endpoint name. */
export const LOCAL_OPENAI_TARGET = `${OPENAI_TARGET_PREFIX}(local trainer)`;
const NAME = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/;
const SETTING = 'modelfactory.openai.endpoints';

export interface OpenAIEndpoint {
  name: string;
  baseUrl: string;
}

function keyOf(name: string): string {
  return `modelfactory.openai.key/${name}`;
}

export function isOpenAITarget(target: string): boolean {
  return target.startsWith(OPENAI_TARGET_PREFIX);
}

export function readOpenAIEndpoints(log?: vscode.LogOutputChannel): OpenAIEndpoint[] {
  const raw = getSetting(SETTING);
  const out: OpenAIEndpoint[] = [];
  for (const entry of Array.isArray(raw) ? raw : []) {
    const e = entry as Partial<OpenAIEndpoint> | null;
    if (
      typeof e?.name === 'string' &&
      typeof e.baseUrl === 'string' &&
      NAME.test(e.name) &&
      checkOpenAIBaseUrl(e.baseUrl) === undefined &&
      !out.some((o) => o.name === e.name)
    ) {
      out.push({ name: e.name, baseUrl: e.baseUrl.trim() });
    } else {
      log?.warn(`Skipped a malformed entry of modelfactory.openai.endpoints: ${JSON.stringify(e?.name ?? null)}`);
    }
  }
  return out;
}

export class OpenAIEndpoints {
  private readonly choiceMap = new EndpointModelChoices();

  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly log: vscode.LogOutputChannel,
    /** The local trainer's OpenAI API when it serves one (`modelfactory.trainer.openai`). */
    private readonly local: () => { baseUrl: string; apiKey: string } | undefined = () => undefined,
  ) {}

  targets(): TargetRef[] {
    const configured: TargetRef[] = readOpenAIEndpoints(this.log).map((e) => ({
      id: `${OPENAI_TARGET_PREFIX}${e.name}`,
      label: `${e.name} (OpenAI-compatible)`,
      kind: 'openai',
    }));
    const local = this.local()
      ? [{ id: LOCAL_OPENAI_TARGET, label: 'Local trainer (OpenAI API)', kind: 'openai' as const }]
      : [];
    return [...configured, ...local];
  }

  /** A target's base URL and key (from SecretStorage; empty for a server without keys). */
  async connection(target: string): Promise<{ baseUrl: string; apiKey: string }> {
    if (target === LOCAL_OPENAI_TARGET) {
      const local = this.local();
      if (!local) throw new Error('the local trainer does not serve its OpenAI API (modelfactory.trainer.openai)');
      return local;
    }
    const name = target.slice(OPENAI_TARGET_PREFIX.length);
    const endpoint = readOpenAIEndpoints().find((e) => e.name === name);
    if (!endpoint) throw new Error(`no OpenAI-compatible endpoint named ${name}`);
    return { baseUrl: endpoint.baseUrl, apiKey: (await this.secrets.get(keyOf(name))) ?? '' };
  }

  private async client(target: string): Promise<OpenAIEndpointClient> {
    const { baseUrl, apiKey } = await this.connection(target);
    return new OpenAIEndpointClient({ baseURL: baseUrl, apiKey });
  }

  /** The endpoint's models as the playground's adapter choices (each also offered as a base). */
  async choices(target: string): Promise<{ jobId: string; name: string; baseModel: string }[]> {
    return this.choiceMap.list(target, await this.client(target));
  }

  async chat(
    target: string,
    request: ChatRequest,
    onToken: (text: string) => void,
    signal: AbortSignal,
  ): Promise<ChatResult> {
    return this.choiceMap.chat(target, await this.client(target), request, onToken, signal);
  }

  async add(): Promise<OpenAIEndpoint | undefined> {
    const existing = readOpenAIEndpoints();
    const name = await vscode.window.showInputBox({
      title: 'Add OpenAI-Compatible Endpoint (1/3): name',
      placeHolder: 'vllm',
      validateInput: (v) =>
        !NAME.test(v)
          ? 'Letters, digits, space, ".", "_" or "-" (at most 64).'
          : existing.some((e) => e.name === v)
            ? `An endpoint named "${v}" exists.`
            : undefined,
      ignoreFocusOut: true,
    });
    if (!name) return undefined;
    const baseUrl = await vscode.window.showInputBox({
      title: 'Add OpenAI-Compatible Endpoint (2/3): base URL',
      prompt: 'vLLM, Ollama (http://127.0.0.1:11434/v1), llama.cpp server, or the trainer (serve --openai)',
      placeHolder: 'https://gpu-box.example.com:8000/v1',
      validateInput: checkOpenAIBaseUrl,
      ignoreFocusOut: true,
    });
    if (!baseUrl) return undefined;
    const key = await vscode.window.showInputBox({
      title: 'Add OpenAI-Compatible Endpoint (3/3): API key',
      prompt: "Kept in VS Code's secret storage; leave empty for a server without keys.",
      password: true,
      ignoreFocusOut: true,
    });
    if (key === undefined) return undefined;
    if (key.trim()) await this.secrets.store(keyOf(name), key.trim());
    const endpoint = { name, baseUrl: baseUrl.trim() };
    await updateSetting(SETTING, [...existing, endpoint]);
    return endpoint;
  }

  async remove(): Promise<string | undefined> {
    const existing = readOpenAIEndpoints();
    if (existing.length === 0) {
      void vscode.window.showInformationMessage('No OpenAI-compatible endpoints are configured.');
      return undefined;
    }
    const pick = await vscode.window.showQuickPick(
      existing.map((e) => ({ label: e.name, description: e.baseUrl })),
      { title: 'Remove OpenAI-Compatible Endpoint' },
    );
    if (!pick) return undefined;
    await updateSetting(
      SETTING,
      existing.filter((e) => e.name !== pick.label),
    );
    await this.secrets.delete(keyOf(pick.label));
    return pick.label;
  }
}
