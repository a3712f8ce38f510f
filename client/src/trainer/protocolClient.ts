// The one client of the trainer protocol (schemas/trainer-protocol.schema.json), for the local server
// on loopback and remote endpoints alike. Every frame in and out is checked against the schema; the
// token travels only in the Authorization header of the upgrade. After an unexpected close it
// reconnects with jittered backoff and re-watches every watched job from the next seq it needs, so
// each watcher sees its job's events strictly in order, with no gap and no duplicate.
import { createHash, randomUUID } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { basename } from 'node:path';
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { openRegularFile } from '../../../server/src/boundedRead';
import { AdapterDownload } from './adapterDownload';
import type { DownloadedFile } from './adapterDownload';
import type { ChatRequest, ChatResult, Disposable } from './api';
import { DEFAULT_BACKOFF, backoffDelay } from './backoff';
import type { BackoffOptions } from './backoff';
import { PROTOCOL_VERSION, assertClientFrame, checkServerFrame } from './protocol';
import type {
  ClientFrame,
  ClientRequest,
  ClientRequestOf,
  ExportDoneFrame,
  HealthReport,
  JobEvent,
  JobSummary,
  ServerFrame,
  ServerJobState,
  ServerLimits,
  WelcomeFrame,
} from './protocol';

export type { DownloadedFile };

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface ProtocolClientOptions {
  /** wss://host[:port][/path]; ws:// only for a loopback host. No credentials, query or fragment. */
  url: string;
  /** Sent only as `Authorization: Bearer <token>` on the upgrade request. */
  token: string;
  clientName?: string;
  /** How often to ping; a connection that stays silent for two intervals is treated as dead. */
  pingIntervalMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  /** Larger incoming frames close the connection with 1009. */
  maxPayloadBytes?: number;
  /** How long a request may wait for its next reply frame. */
  requestTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** Human-readable lines for the output channel; never carries the token. */
  log?: (line: string) => void;
}

/** A refusal or failure with a stable code: a server error code, or one of this client's own. */
export class TrainerError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'TrainerError';
  }
}

export type WatchListener = (seq: number, event: JobEvent) => void;

export interface UploadedDataset {
  uploadId: string;
  name: string;
  size: number;
  sha256: string;
}

export interface SubmitRequest {
  configYaml: string;
  dataset: { uploadId: string } | { path: string } | { hub: true };
  name?: string;
}

export interface DownloadProgress {
  file: string;
  received: number;
  size: number;
}

interface Watch {
  nextSeq: number;
  listener: WatchListener;
  resyncing: boolean;
}

interface Pending {
  onFrame(frame: ServerFrame): void;
  fail(error: Error): void;
  timer: NodeJS.Timeout;
  timeoutMs: number;
}

const DEFAULT_PING_INTERVAL_MS = 15_000;
const DEFAULT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const HEALTH_TIMEOUT_MS = 150_000;
const CHAT_IDLE_TIMEOUT_MS = 300_000;
/** Export stages (loading, merging, saving a large model) can each take minutes. */
const EXPORT_IDLE_TIMEOUT_MS = 1_800_000;
const UPLOAD_NAME = /[^A-Za-z0-9._-]/g;

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Checks an endpoint URL; the message names the problem but never repeats the URL's secret parts. */
export function checkEndpointUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TrainerError('bad-url', 'the trainer endpoint is not a valid URL');
  }
  if (parsed.protocol !== 'wss:' && parsed.protocol !== 'ws:') {
    throw new TrainerError('bad-url', `a trainer endpoint is wss:// (got ${parsed.protocol})`);
  }
  if (parsed.protocol === 'ws:' && !isLoopbackHost(parsed.hostname)) {
    throw new TrainerError('bad-url', `refusing unencrypted ws:// to ${parsed.hostname}: use wss://`);
  }
  if (parsed.username !== '' || parsed.password !== '' || parsed.search !== '' || parsed.hash !== '') {
    throw new TrainerError(
      'bad-url',
      'a trainer endpoint URL carries no credentials, query or fragment: the token goes in SecretStorage',
    );
  }
  return parsed;
}

function refusalMessage(status: number | undefined, where: string): string {
  switch (status) {
    case 401:
      return `the trainer at ${where} refused the token (HTTP 401): set the endpoint's token again`;
    case 403:
      return `the trainer at ${where} refused this client's Origin (HTTP 403)`;
    default:
      return `the trainer at ${where} refused the connection (HTTP ${status ?? 'error'})`;
  }
}

function sanitisedUploadName(path: string): string {
  const name = basename(path).replace(UPLOAD_NAME, '_').replace(/^[.-]+/, '');
  return (name || 'dataset.jsonl').slice(-128);
}

/** The sha256 of the first `size` bytes of an open file (read through the handle the upload then uses). */
async function sha256OfHandle(handle: FileHandle, size: number): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(1 << 20);
  for (let offset = 0; offset < size; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - offset), offset);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    offset += bytesRead;
  }
  return hash.digest('hex');
}

export class ProtocolClient {
  private readonly where: string;
  private readonly pingIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly log: (line: string) => void;
  private socket: WebSocket | undefined;
  private currentState: ConnectionState = 'connecting';
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly pending = new Map<string, Pending>();
  private readonly watches = new Map<string, Watch>();
  private nextRequest = 0;
  private establishing = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private lastHeardAt = 0;
  private lastPingAt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private welcome: WelcomeFrame | undefined;

  /** Connects and says hello; rejects (and the client is closed) if the first connection fails. */
  static async connect(options: ProtocolClientOptions): Promise<ProtocolClient> {
    const client = new ProtocolClient(options);
    try {
      await client.establish();
    } catch (error) {
      client.close();
      throw error;
    }
    client.setState('connected');
    return client;
  }

  private constructor(private readonly options: ProtocolClientOptions) {
    const url = checkEndpointUrl(options.url);
    this.where = url.host;
    this.pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.log = options.log ?? (() => undefined);
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** The server's limits from its latest welcome. */
  get limits(): ServerLimits {
    if (this.welcome === undefined) throw new TrainerError('disconnected', 'not connected to the trainer');
    return this.welcome.limits;
  }

  get serverVersion(): string | undefined {
    return this.welcome?.server_version;
  }

  onStateChange(listener: (state: ConnectionState) => void): Disposable {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  /** Closes for good: no reconnect; pending requests fail with `closed`. */
  close(): void {
    if (this.currentState === 'closed') return;
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    this.stopHeartbeat();
    this.failPending(new TrainerError('closed', 'the trainer connection was closed'));
    const socket = this.socket;
    this.socket = undefined;
    if (socket?.readyState === WebSocket.OPEN) socket.close(1000, 'client closed');
    else socket?.terminate();
  }

  // ---- requests ----------------------------------------------------------------------------------

  async hello(): Promise<WelcomeFrame> {
    const welcome = await this.ask(
      { type: 'hello', client: this.options.clientName ?? 'modelfactory-vscode', protocol: PROTOCOL_VERSION },
      'welcome',
    );
    this.welcome = welcome;
    return welcome;
  }

  async health(): Promise<HealthReport> {
    return this.ask({ type: 'health' }, 'health_report', HEALTH_TIMEOUT_MS);
  }

  async listJobs(): Promise<JobSummary[]> {
    return (await this.ask({ type: 'list_jobs' }, 'job_list')).jobs;
  }

  /** Streams a file to the server in chunks (each acknowledged); size and sha256 are checked there. */
  async uploadDataset(
    path: string,
    onProgress?: (sent: number, size: number) => void,
  ): Promise<UploadedDataset> {
    // Through the bounded reader: a FIFO, a device or a folder is refused at once, never read forever.
    let opened: { handle: FileHandle; size: number };
    try {
      opened = await openRegularFile(path);
    } catch (err) {
      throw new TrainerError('upload-unreadable', err instanceof Error ? err.message : String(err));
    }
    const { handle, size } = opened;
    try {
      const limits = this.limits;
      if (size > limits.max_upload_bytes) {
        throw new TrainerError(
          'upload-too-large',
          `${basename(path)} has ${size} bytes; the trainer accepts at most ${limits.max_upload_bytes}`,
        );
      }
      const sha256 = await sha256OfHandle(handle, size);
      const name = sanitisedUploadName(path);
      const ready = await this.ask({ type: 'upload_begin', name, size, sha256 }, 'upload_ready');
      const chunkBytes = Math.max(1, Math.min(ready.chunk_bytes, limits.upload_chunk_bytes));
      const buffer = Buffer.alloc(chunkBytes);
      let offset = 0;
      onProgress?.(0, size);
      while (offset < size) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(chunkBytes, size - offset), offset);
        if (bytesRead === 0) throw new TrainerError('upload-incomplete', `${basename(path)} shrank while uploading`);
        const data = buffer.subarray(0, bytesRead).toString('base64');
        const ack = await this.ask(
          { type: 'upload_chunk', upload_id: ready.upload_id, offset, data },
          'upload_ack',
        );
        offset = ack.received;
        onProgress?.(offset, size);
      }
      const done = await this.ask({ type: 'upload_end', upload_id: ready.upload_id }, 'upload_done');
      return { uploadId: done.upload_id, name: done.name, size: done.size, sha256: done.sha256 };
    } finally {
      await handle.close();
    }
  }

  async submit(request: SubmitRequest): Promise<JobSummary> {
    const dataset = 'uploadId' in request.dataset ? { upload_id: request.dataset.uploadId } : request.dataset;
    const frame: ClientRequestOf<'submit'> = { type: 'submit', config_yaml: request.configYaml, dataset };
    if (request.name !== undefined) frame.name = request.name;
    return (await this.ask(frame, 'submitted')).job;
  }

  /**
   * Queues an evaluation of a done job's adapter against its base model (the trainer's `eval` on an
   * uploaded held-out file, a server path, or else the job's eval split); it runs as a job of its own,
   * followed like one. Resolves with its summary.
   */
  async evaluate(
    jobId: string,
    options: { data?: { uploadId: string } | { path: string }; maxNewTokens?: number; name?: string } = {},
  ): Promise<JobSummary> {
    const frame: ClientRequestOf<'evaluate'> = { type: 'evaluate', job_id: jobId };
    if (options.data !== undefined)
      frame.data = 'uploadId' in options.data ? { upload_id: options.data.uploadId } : { path: options.data.path };
    if (options.maxNewTokens !== undefined) frame.max_new_tokens = options.maxNewTokens;
    if (options.name !== undefined) frame.name = options.name;
    return (await this.ask(frame, 'submitted')).job;
  }

  /**
   * Follows a job's events from `fromSeq`: `listener` gets them in seq order, each exactly once, across
   * reconnects (the watch is renewed from the next seq needed). Resolves with the job's summary.
   */
  async watch(jobId: string, fromSeq: number, listener: WatchListener): Promise<JobSummary> {
    const watch: Watch = { nextSeq: fromSeq, listener, resyncing: false };
    this.watches.set(jobId, watch);
    try {
      return (await this.ask({ type: 'watch', job_id: jobId, from_seq: fromSeq }, 'watching')).job;
    } catch (error) {
      if (this.watches.get(jobId) === watch) this.watches.delete(jobId);
      throw error;
    }
  }

  async unwatch(jobId: string): Promise<void> {
    this.watches.delete(jobId);
    if (this.currentState === 'connected') await this.ask({ type: 'unwatch', job_id: jobId }, 'ack');
  }

  /** Cancels a queued or running job; resolves with its state as the server saw it then. */
  async cancel(jobId: string): Promise<ServerJobState | undefined> {
    return (await this.ask({ type: 'cancel', job_id: jobId }, 'ack')).state;
  }

  /** Puts a queued job at `position` among the queued jobs (0: the next to start). */
  async moveJob(jobId: string, position: number): Promise<ServerJobState | undefined> {
    return (await this.ask({ type: 'move_job', job_id: jobId, position }, 'ack')).state;
  }

  /**
   * Queues a cancelled or failed job again under the same id; its trainer continues from the newest
   * complete checkpoint and its log goes on (a watch keeps receiving it). Resolves with the new state.
   */
  async resume(jobId: string): Promise<ServerJobState | undefined> {
    return (await this.ask({ type: 'resume', job_id: jobId }, 'ack')).state;
  }

  /**
   * Downloads a done job's adapter into destDir, or with `what: 'eval'` a done evaluation job's results
   * (results.jsonl, summary.json). Files land only complete and verified (size and sha256, fsynced,
   * renamed into place after the server's final digests agree); any failure leaves destDir as it was.
   */
  async downloadAdapter(
    jobId: string,
    destDir: string,
    onProgress?: (progress: DownloadProgress) => void,
    what: 'adapter' | 'eval' = 'adapter',
  ): Promise<DownloadedFile[]> {
    const main = what === 'eval' ? 'results.jsonl' : 'adapter_model.safetensors';
    const download = new AdapterDownload(destDir);
    let work: Promise<unknown> = Promise.resolve();
    const announcedSizes = new Map<string, number>();
    try {
      return await this.call<DownloadedFile[]>(
        what === 'eval' ? { type: 'download_adapter', job_id: jobId, what } : { type: 'download_adapter', job_id: jobId },
        this.requestTimeoutMs,
        (frame, resolve, reject) => {
          // Frames arrive faster than the disk takes them: one chain keeps the writes in order.
          const step = (action: () => Promise<unknown>): void => {
            work = work.then(action);
            work.catch(reject);
          };
          switch (frame.type) {
            case 'adapter_file':
              announcedSizes.set(frame.name, frame.size);
              step(() => download.beginFile(frame));
              return false;
            case 'adapter_chunk': {
              const data = Buffer.from(frame.data, 'base64');
              step(async () => {
                const received = await download.write(frame.name, frame.offset, data);
                onProgress?.({ file: frame.name, received, size: announcedSizes.get(frame.name) ?? 0 });
              });
              return false;
            }
            case 'adapter_end':
              step(async () => {
                if (frame.files[main] !== frame.sha256) {
                  throw new TrainerError('adapter-corrupt', `the digests of ${main} in adapter_end disagree`);
                }
                resolve(await download.commit(frame.files));
              });
              return true;
            default:
              return undefined;
          }
        },
      );
    } catch (error) {
      await work.catch(() => undefined);
      await download.abort();
      throw error;
    }
  }

  /** Streams a reply; aborting sends chat_cancel and resolves with finishReason 'cancelled'. */
  async chat(request: ChatRequest, onToken: (text: string) => void, signal?: AbortSignal): Promise<ChatResult> {
    const cancelled: ChatResult = { tokens: 0, timeToFirstTokenMs: 0, tokensPerSecond: 0, finishReason: 'cancelled' };
    if (signal?.aborted) return cancelled;
    const frame: ClientRequestOf<'chat'> = {
      type: 'chat',
      base: request.base,
      adapter_job_id: request.adapterJobId,
      messages: request.messages,
      system: request.system,
      params: request.params,
    };
    let chatId = '';
    const onAbort = (): void => {
      if (chatId !== '' && this.currentState === 'connected') {
        this.ask({ type: 'chat_cancel', chat_id: chatId }, 'ack').catch((error: Error) =>
          this.log(`chat cancel failed: ${error.message}`),
        );
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.call<ChatResult>(
        frame,
        CHAT_IDLE_TIMEOUT_MS,
        (reply, resolve) => {
          if (reply.type === 'chat_token') {
            onToken(reply.text);
            return false;
          }
          if (reply.type === 'chat_done') {
            resolve({
              tokens: reply.tokens,
              timeToFirstTokenMs: reply.time_to_first_token_ms,
              tokensPerSecond: reply.tokens_per_second,
              finishReason: reply.finish_reason,
            });
            return true;
          }
          if (reply.type === 'chat_error') throw new TrainerError(reply.code, reply.message);
          return undefined;
        },
        (id) => (chatId = id),
      );
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Exports a done job's adapter on the server (merge, Ollama Modelfile, GGUF) into its exports folder;
   * `onProgress` gets each stage. Resolves with the server's summary (its path is on the server's machine).
   */
  exportAdapter(
    options: { jobId: string; name: string; merge: boolean; ollama: boolean; gguf: boolean; system: string | null },
    onProgress: (fraction: number, message: string) => void,
  ): Promise<ExportDoneFrame> {
    const frame: ClientRequestOf<'export'> = {
      type: 'export',
      job_id: options.jobId,
      name: options.name,
      merge: options.merge,
      ollama: options.ollama,
      gguf: options.gguf,
      system: options.system,
    };
    // A merge of a large model can be quiet for minutes between stages.
    return this.call<ExportDoneFrame>(frame, EXPORT_IDLE_TIMEOUT_MS, (reply, resolve) => {
      if (reply.type === 'export_progress') {
        onProgress(reply.fraction, reply.message);
        return false;
      }
      if (reply.type === 'export_done') {
        resolve(reply);
        return true;
      }
      return undefined;
    });
  }

  // ---- request plumbing --------------------------------------------------------------------------

  private ask<K extends ServerFrame['type']>(
    body: ClientRequest,
    expected: K,
    timeoutMs = this.requestTimeoutMs,
  ): Promise<Extract<ServerFrame, { type: K }>> {
    return this.call(body, timeoutMs, (frame, resolve) => {
      if (frame.type !== expected) return undefined;
      resolve(frame as Extract<ServerFrame, { type: K }>);
      return true;
    });
  }

  /**
   * Sends a request and feeds every reply frame with its id to `handle`, which returns true when the
   * request is complete, false for more to come, undefined for a frame it does not expect. An error
   * frame rejects; the timeout restarts with every reply (long downloads and chats keep going).
   */
  private call<T>(
    body: ClientRequest,
    timeoutMs: number,
    handle: (frame: ServerFrame, resolve: (value: T) => void, reject: (error: unknown) => void) => boolean | undefined,
    onId?: (id: string) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = `r${++this.nextRequest}-${randomUUID().slice(0, 8)}`;
      const frame = { ...body, id } as ClientFrame;
      assertClientFrame(frame);
      const socket = this.socket;
      if (socket === undefined || socket.readyState !== WebSocket.OPEN) {
        reject(new TrainerError('disconnected', `not connected to the trainer at ${this.where}`));
        return;
      }
      let settled = false;
      const finish = (): void => {
        settled = true;
        clearTimeout(pending.timer);
        this.pending.delete(id);
      };
      const succeed = (value: T): void => {
        if (settled) return;
        finish();
        resolve(value);
      };
      const fail = (error: unknown): void => {
        if (settled) return;
        finish();
        reject(error instanceof Error ? error : new TrainerError('internal', String(error)));
      };
      const timedOut = (): void =>
        fail(new TrainerError('timeout', `the trainer did not answer ${frame.type} within ${timeoutMs} ms`));
      const pending: Pending = {
        timeoutMs,
        timer: setTimeout(timedOut, timeoutMs),
        fail,
        onFrame: (reply) => {
          pending.timer.refresh();
          if (reply.type === 'error') {
            fail(new TrainerError(reply.code, reply.message));
            return;
          }
          try {
            const verdict = handle(reply, succeed, fail);
            if (verdict === undefined) {
              fail(new TrainerError('protocol', `unexpected ${reply.type} in reply to ${frame.type}`));
            } else if (verdict) {
              // Complete: the handler resolves (perhaps after its own async work); stop routing frames.
              this.pending.delete(id);
            }
          } catch (error) {
            fail(error);
          }
        },
      };
      this.pending.set(id, pending);
      onId?.(id);
      socket.send(JSON.stringify(frame));
    });
  }

  private failPending(error: Error): void {
    for (const pending of [...this.pending.values()]) pending.fail(error);
    this.pending.clear();
  }

  // ---- incoming frames ---------------------------------------------------------------------------

  private receive(data: RawData, isBinary: boolean): void {
    this.lastHeardAt = Date.now();
    if (isBinary) {
      this.log('dropped a binary frame from the trainer (the protocol is JSON text)');
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.toString());
    } catch {
      this.log('dropped a frame from the trainer that is not JSON');
      return;
    }
    const checked = checkServerFrame(parsed);
    if ('problem' in checked) {
      this.log(`dropped an invalid frame from the trainer: ${checked.problem}`);
      return;
    }
    const frame = checked.frame;
    if (frame.type === 'event') {
      this.deliverEvent(frame.job_id, frame.seq, frame.event);
      return;
    }
    if (frame.id === null) {
      this.log(`the trainer refused a frame: ${frame.type === 'error' ? `${frame.code}: ${frame.message}` : ''}`);
      return;
    }
    const pending = this.pending.get(frame.id);
    if (pending === undefined) {
      this.log(`dropped a ${frame.type} frame for no pending request`);
      return;
    }
    pending.onFrame(frame);
  }

  private deliverEvent(jobId: string, seq: number, event: JobEvent): void {
    const watch = this.watches.get(jobId);
    if (watch === undefined) return;
    if (seq < watch.nextSeq) {
      this.log(`dropped a duplicate event ${seq} of job ${jobId}`);
      return;
    }
    if (seq > watch.nextSeq) {
      this.log(`event ${seq} of job ${jobId} arrived before ${watch.nextSeq}: watching again from there`);
      this.resync(jobId, watch);
      return;
    }
    watch.nextSeq = seq + 1;
    try {
      watch.listener(seq, event);
    } catch (error) {
      this.log(`a job event listener failed: ${(error as Error).message}`);
    }
  }

  private resync(jobId: string, watch: Watch): void {
    if (watch.resyncing) return;
    watch.resyncing = true;
    this.ask({ type: 'watch', job_id: jobId, from_seq: watch.nextSeq }, 'watching')
      .catch((error: Error) => this.log(`watching job ${jobId} again failed: ${error.message}`))
      .finally(() => (watch.resyncing = false));
  }

  // ---- connection --------------------------------------------------------------------------------

  private setState(state: ConnectionState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }

  private open(): Promise<WebSocket> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(this.options.url, {
        headers: { Authorization: `Bearer ${this.options.token}` },
        maxPayload: this.options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
        handshakeTimeout: this.options.connectTimeoutMs ?? 15_000,
        followRedirects: false,
      });
      let opened = false;
      let refusedStatus: number | undefined;
      socket.on('unexpected-response', (_request, response) => {
        refusedStatus = response.statusCode;
        response.resume();
        socket.terminate();
      });
      socket.once('open', () => {
        opened = true;
        resolve(socket);
      });
      socket.on('error', (error) => {
        if (opened) {
          this.log(`trainer connection error: ${error.message}`);
          return;
        }
        reject(
          refusedStatus !== undefined
            ? new TrainerError('refused', refusalMessage(refusedStatus, this.where))
            : new TrainerError('unreachable', `cannot reach the trainer at ${this.where}: ${error.message}`),
        );
      });
      socket.on('message', (data, isBinary) => {
        if (this.socket === socket) this.receive(data, isBinary);
      });
      socket.on('pong', () => (this.lastHeardAt = Date.now()));
      socket.on('ping', () => (this.lastHeardAt = Date.now()));
      socket.on('close', (code) => {
        if (!opened) reject(new TrainerError('unreachable', `the trainer at ${this.where} closed the connection`));
        else this.closed(socket, code);
      });
    });
  }

  /** One connection attempt: open, hello, renew every watch. Throws if any step fails. */
  private async establish(): Promise<void> {
    this.establishing = true;
    try {
      const socket = await this.open();
      if (this.currentState === 'closed') {
        socket.terminate();
        throw new TrainerError('closed', 'the trainer connection was closed');
      }
      this.socket = socket;
      this.startHeartbeat();
      await this.hello();
      await Promise.all(
        [...this.watches].map(([jobId, watch]) =>
          this.ask({ type: 'watch', job_id: jobId, from_seq: watch.nextSeq }, 'watching').catch((error: Error) => {
            if (error instanceof TrainerError && error.code === 'unknown-job') {
              this.log(`job ${jobId} is no longer on the trainer; stopped watching it`);
              this.watches.delete(jobId);
              return;
            }
            throw error;
          }),
        ),
      );
      if (this.socket !== socket || socket.readyState !== WebSocket.OPEN) {
        throw new TrainerError('disconnected', `the trainer at ${this.where} went away while connecting`);
      }
    } finally {
      this.establishing = false;
    }
  }

  private closed(socket: WebSocket, code: number): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.stopHeartbeat();
    this.failPending(new TrainerError('disconnected', `the connection to the trainer was lost (close code ${code})`));
    if (this.currentState === 'closed' || this.establishing) return;
    this.log(`trainer connection lost (close code ${code}); reconnecting`);
    this.setState('reconnecting');
    this.scheduleReconnect(0);
  }

  private scheduleReconnect(attempt: number): void {
    const delay = backoffDelay(attempt, this.options.random ?? Math.random, this.options.backoff ?? DEFAULT_BACKOFF);
    this.reconnectTimer = setTimeout(() => {
      if (this.currentState === 'closed') return;
      this.establish().then(
        () => {
          if (this.currentState === 'closed') return;
          this.log(`reconnected to the trainer at ${this.where}`);
          this.setState('connected');
        },
        (error: Error) => {
          if (this.currentState === 'closed') return;
          if (error instanceof TrainerError && error.code === 'refused') {
            this.log(`${error.message}; giving up`);
            this.close();
            return;
          }
          this.log(`reconnect attempt ${attempt + 1} failed: ${error.message}`);
          this.socket?.terminate();
          this.socket = undefined;
          this.stopHeartbeat();
          this.scheduleReconnect(attempt + 1);
        },
      );
    }, delay);
  }

  /**
   * Pings every interval; a connection that has heard nothing (pong, ping or frame) for two intervals
   * is half-open and is terminated, which starts a reconnect.
   */
  private startHeartbeat(): void {
    this.stopHeartbeat();
    this.lastHeardAt = Date.now();
    this.lastPingAt = 0;
    const tick = Math.max(5, Math.floor(this.pingIntervalMs / 4));
    this.heartbeat = setInterval(() => {
      const socket = this.socket;
      if (socket === undefined || socket.readyState !== WebSocket.OPEN) return;
      const now = Date.now();
      if (now - this.lastHeardAt > 2 * this.pingIntervalMs) {
        this.log(`the trainer at ${this.where} did not answer pings for two intervals; reconnecting`);
        socket.terminate();
        return;
      }
      if (now - this.lastPingAt >= this.pingIntervalMs) {
        this.lastPingAt = now;
        socket.ping();
      }
    }, tick);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
