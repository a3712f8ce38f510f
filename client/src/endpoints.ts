// Remote job servers: their names and wss:// addresses live in the machine-scoped setting
// `modelfactory.trainer.endpoints`; their tokens live only in SecretStorage (SECURITY.md rule 4) and
// leave it only for the Authorization header of the upgrade request.
import * as vscode from 'vscode';
import { ENDPOINT_NAME, checkEndpointName, checkEndpointUrl, secretKeyOf, type Endpoint } from './jobs/endpointChecks';
import { getSetting, updateSetting } from './settings';

export type { Endpoint };

const LOCAL_TOKEN_KEY = 'modelfactory.localServer.token';
const HF_TOKEN_KEY = 'modelfactory.huggingFace.token';

/** The configured endpoints that are well-formed; malformed entries are reported once and skipped. */
export function readEndpoints(log?: vscode.LogOutputChannel): Endpoint[] {
  const raw = getSetting('modelfactory.trainer.endpoints');
  const out: Endpoint[] = [];
  for (const entry of Array.isArray(raw) ? raw : []) {
    const e = entry as Partial<Endpoint> | null;
    if (
      typeof e?.name === 'string' &&
      typeof e.url === 'string' &&
      ENDPOINT_NAME.test(e.name) &&
      checkEndpointUrl(e.url) === undefined &&
      !out.some((o) => o.name === e.name)
    ) {
      out.push({ name: e.name, url: e.url.trim() });
    } else {
      log?.warn(`Skipped a malformed entry of modelfactory.trainer.endpoints: ${JSON.stringify(e?.name ?? null)}`);
    }
  }
  return out;
}

async function writeEndpoints(endpoints: Endpoint[]): Promise<void> {
  // Machine-scoped: only user settings may name hosts to connect to, never a workspace's.
  await updateSetting('modelfactory.trainer.endpoints', endpoints);
}

export class EndpointSecrets {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  tokenOf(endpointName: string): Thenable<string | undefined> {
    return this.secrets.get(secretKeyOf(endpointName));
  }

  async localToken(create: () => string): Promise<string> {
    const existing = await this.secrets.get(LOCAL_TOKEN_KEY);
    if (existing) return existing;
    const token = create();
    await this.secrets.store(LOCAL_TOKEN_KEY, token);
    return token;
  }

  /** The Hugging Face token the local trainer downloads with (its HF_TOKEN), if one was stored. */
  huggingFaceToken(): Thenable<string | undefined> {
    return this.secrets.get(HF_TOKEN_KEY);
  }

  /** Asks for a Hugging Face token (empty removes it); true when something changed. */
  async setHuggingFaceToken(): Promise<boolean> {
    const token = await vscode.window.showInputBox({
      title: 'Hugging Face Token',
      prompt:
        'A read token (huggingface.co/settings/tokens) for gated or private models and datasets; the local trainer gets it as HF_TOKEN. Leave empty to remove it.',
      password: true,
      ignoreFocusOut: true,
    });
    if (token === undefined) return false;
    if (token.trim() === '') await this.secrets.delete(HF_TOKEN_KEY);
    else await this.secrets.store(HF_TOKEN_KEY, token.trim());
    return true;
  }

  async addEndpoint(): Promise<Endpoint | undefined> {
    const existing = readEndpoints();
    const name = await vscode.window.showInputBox({
      title: 'Add Remote Endpoint (1/3): name',
      prompt: 'A label for the jobs view',
      placeHolder: 'gpu-box',
      validateInput: (v) => checkEndpointName(v, existing),
      ignoreFocusOut: true,
    });
    if (!name) return undefined;
    const url = await vscode.window.showInputBox({
      title: 'Add Remote Endpoint (2/3): address',
      prompt: 'The wss:// address of `python -m modelfactory_trainer serve` on the GPU machine',
      placeHolder: 'wss://gpu-box.example.com:8765',
      validateInput: checkEndpointUrl,
      ignoreFocusOut: true,
    });
    if (!url) return undefined;
    if (!(await this.askToken(name, 'Add Remote Endpoint (3/3): token'))) return undefined;
    const endpoint = { name, url: url.trim() };
    await writeEndpoints([...existing, endpoint]);
    return endpoint;
  }

  async removeEndpoint(name?: string): Promise<string | undefined> {
    const existing = readEndpoints();
    const chosen = name ?? (await pickEndpoint(existing, 'Remove Remote Endpoint'));
    if (!chosen) return undefined;
    await writeEndpoints(existing.filter((e) => e.name !== chosen));
    await this.secrets.delete(secretKeyOf(chosen));
    return chosen;
  }

  async setToken(name?: string): Promise<string | undefined> {
    const chosen = name ?? (await pickEndpoint(readEndpoints(), 'Set Endpoint Token'));
    if (!chosen) return undefined;
    return (await this.askToken(chosen, `Token for ${chosen}`)) ? chosen : undefined;
  }

  private async askToken(name: string, title: string): Promise<boolean> {
    const token = await vscode.window.showInputBox({
      title,
      prompt: "The server's token (MODELFACTORY_TOKEN or --token-file there). Kept in VS Code's secret storage.",
      password: true,
      ignoreFocusOut: true,
      validateInput: (v) => (v.trim().length >= 16 ? undefined : 'At least 16 characters.'),
    });
    if (!token) return false;
    await this.secrets.store(secretKeyOf(name), token.trim());
    return true;
  }
}

async function pickEndpoint(endpoints: readonly Endpoint[], title: string): Promise<string | undefined> {
  if (endpoints.length === 0) {
    void vscode.window.showInformationMessage('No remote endpoints are configured.');
    return undefined;
  }
  const pick = await vscode.window.showQuickPick(
    endpoints.map((e) => ({ label: e.name, description: e.url })),
    { title },
  );
  return pick?.label;
}
