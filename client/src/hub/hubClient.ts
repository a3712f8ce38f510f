// A small typed client of the Datanet hub's HTTP API (hub/server.ts), for the extension host. No
// `vscode` here: the tests drive it against a real `modelfactory hub serve`. The types are the hub's
// own (type-only imports: nothing of the hub is bundled into the extension).
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { LeaderboardRow } from '../../../hub/rank';
import type { MyDatanetView, QuotaView, Receipt } from '../../../hub/server';

export type { LeaderboardRow, MyDatanetView, QuotaView, Receipt };

export interface DatanetSummary {
  name: string;
  version: number;
}

export interface Me {
  name: string;
  role: 'owner' | 'curator' | 'contributor' | 'reader';
  datanets: string[] | null;
}

/** An answer of the hub that is not a success: its status and the hub's own message. */
export class HubError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const CONTRIBUTION_ID = /^c_[0-9a-f]{24}$/;
/** Largest answer read from a hub (a leaderboard, a list of contributions). */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** Why `url` cannot be a hub address (http on loopback only, https elsewhere), or undefined when it can. */
export function checkHubUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `not a URL: ${url}`;
  }
  if (u.username || u.password)
    return 'the hub address must not carry credentials (the token is kept in secret storage)';
  if (u.protocol === 'https:') return undefined;
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
  if (u.protocol === 'http:' && loopback) return undefined;
  return u.protocol === 'http:'
    ? 'plain http only to this machine (localhost); use https for a remote hub'
    : `not an http(s) address: ${url}`;
}

export class HubClient {
  readonly base: string;

  constructor(
    url: string,
    private readonly token: string,
    private readonly timeoutMs = 60_000,
  ) {
    const problem = checkHubUrl(url);
    if (problem) throw new Error(problem);
    this.base = url.replace(/\/+$/, '');
  }

  private async request<T>(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, ...(init.headers as object) };
    let payload = init.body;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(this.base + path, {
        ...init,
        method,
        headers,
        body: payload,
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new HubError(
        0,
        `cannot reach the hub at ${this.base}: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
      );
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > MAX_ANSWER_BYTES)
      throw new HubError(res.status, `the hub's answer is too large (${declared} bytes)`);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new HubError(res.status, `the hub answered ${res.status} with something other than JSON`);
    }
    if (!res.ok) {
      const message = (parsed as { error?: unknown } | undefined)?.error;
      throw new HubError(res.status, typeof message === 'string' ? message : `the hub answered ${res.status}`);
    }
    return parsed as T;
  }

  async me(): Promise<Me> {
    return this.request('GET', '/v1/me');
  }

  async datanets(): Promise<DatanetSummary[]> {
    return this.request('GET', '/v1/datanets');
  }

  async myDatanet(name: string): Promise<MyDatanetView> {
    return this.request('GET', `/v1/datanets/${checkName(name)}/me`);
  }

  async quota(name: string): Promise<QuotaView> {
    return this.request('GET', `/v1/datanets/${checkName(name)}/quota`);
  }

  async leaderboard(name: string): Promise<LeaderboardRow[]> {
    return this.request('GET', `/v1/datanets/${checkName(name)}/leaderboard`);
  }

  /** Contributions waiting for a curator (curators and owners only). */
  async pending(name: string): Promise<Receipt[]> {
    return this.request('GET', `/v1/datanets/${checkName(name)}/contributions?status=pending`);
  }

  async contribution(id: string): Promise<Receipt> {
    return this.request('GET', `/v1/contributions/${checkId(id)}`);
  }

  async review(id: string, decision: 'approve' | 'reject', reason?: string): Promise<Receipt> {
    return this.request('POST', `/v1/contributions/${checkId(id)}/review`, { decision, ...(reason ? { reason } : {}) });
  }

  /** Streams the regular file at `path` to the Datanet; the receipt, whatever its verdict. */
  async submit(path: string, datanet: string, supersedes?: string): Promise<Receipt> {
    const handle = await open(path, 'r');
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new Error(`${path} is not a regular file`);
      const query = new URLSearchParams({ file_name: basename(path) });
      if (supersedes) query.set('supersedes', checkId(supersedes));
      const body = Readable.toWeb(handle.createReadStream({ autoClose: false })) as ReadableStream<Uint8Array>;
      return await this.request<Receipt>(
        'POST',
        `/v1/datanets/${checkName(datanet)}/contributions?${query}`,
        undefined,
        {
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(st.size) },
          body,
          duplex: 'half',
        } as RequestInit,
      );
    } finally {
      await handle.close();
    }
  }
}

function checkName(name: string): string {
  if (!NAME.test(name)) throw new Error(`not a Datanet name: '${name}'`);
  return name;
}

function checkId(id: string): string {
  if (!CONTRIBUTION_ID.test(id)) throw new Error(`not a contribution id: '${id}'`);
  return id;
}
