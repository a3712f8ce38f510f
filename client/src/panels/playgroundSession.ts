// The chat playground's host logic, without `vscode` (so tests drive it with the real webview bundle in
// chromium and real model servers): each `generate` from the webview is checked against what its column's
// target offers (a known target, a listed base model or one of the target's adapters; an OpenAI-compatible
// endpoint's models are its adapters) before `deps.chat` runs; tokens go back in batches of whatever arrived
// within TOKEN_BATCH_MS; Stop and dispose abort generation. "Export as record" and "Prefer this answer" go
// through the pure `buildMessagesRecord` / `buildPreferenceRecord` before `deps.exportRecord` sees them. The two
// columns may be on two targets: a preference pair takes each column's last answer, wherever it came from.
import type * as vscode from 'vscode';
import type { ChatRequest, ChatResult, TargetRef } from '../trainer/api';
import type {
  AdapterChoice,
  ChatOutcome,
  GenerateMessage,
  GenerationSnapshot,
  PlaygroundHostMessage,
  PlaygroundWebviewMessage,
} from '../../../webviews/src/protocol/playground';
import { PLAYGROUND_LIMITS } from '../../../webviews/src/protocol/playground';
import { isJobId } from '../../../webviews/src/protocol/dashboard';
import type { MessagesRecord, PreferenceRecord } from './exportRecord';
import { buildMessagesRecord, buildPreferenceRecord } from './exportRecord';

/** Tokens arriving within this window go to the webview as one message. */
export const TOKEN_BATCH_MS = 30;
/** Generations allowed in flight per panel (one per side, with room for a late Stop to land). */
const MAX_ACTIVE = 4;

export interface AdapterInfo {
  jobId: string;
  name: string;
  baseModel: string;
  /** The system prompt every record of the adapter's training data carried; null or absent when unknown or none. */
  systemPrompt?: string | null;
}

export interface PlaygroundDeps {
  log: vscode.LogOutputChannel;
  targets(): TargetRef[];
  /** The target's finished jobs whose adapters can be chatted with. */
  adapters(target: string): Promise<AdapterInfo[]>;
  baseModels(): Promise<string[]>;
  chat(target: string, request: ChatRequest, onToken: (text: string) => void, signal: AbortSignal): Promise<ChatResult>;
  exportRecord(record: MessagesRecord | PreferenceRecord): Promise<void>;
}

export interface PlaygroundPreset {
  target: string;
  adapterJobId: string;
}

const L = PLAYGROUND_LIMITS;

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function errorText(err: unknown): string {
  return clip(err instanceof Error ? err.message : String(err), L.error);
}

/**
 * The trained system prompt as offered to the webview: null when there is none, and when it is over the
 * limit too, because a clipped prompt is not the one the adapter was trained with.
 */
function trainedSystemPrompt(prompt: string | null | undefined): string | null {
  const value = prompt ?? null;
  return value === null || value.trim() === '' || value.length > L.system ? null : value;
}

function toOutcome(r: ChatResult): ChatOutcome {
  const nonNegative = (v: number) => (Number.isFinite(v) && v > 0 ? v : 0);
  return {
    tokens: Math.floor(nonNegative(r.tokens)),
    timeToFirstTokenMs: nonNegative(r.timeToFirstTokenMs),
    tokensPerSecond: nonNegative(r.tokensPerSecond),
    finishReason: r.finishReason,
  };
}

interface Generation {
  id: number;
  controller: AbortController;
  text: string;
  pending: string;
  timer: ReturnType<typeof setTimeout> | undefined;
  result: ChatOutcome | null;
  error: string | null;
}

export class PlaygroundSession {
  /** This panel's generations, newest last; finished ones are kept (a few) for a reloaded webview. */
  private readonly generations = new Map<number, Generation>();
  /** Request ids being checked before they run, so an id cannot be used twice meanwhile. */
  private readonly checking = new Set<number>();
  private disposed = false;
  /** The base models the last `init` offered: what the webview can have picked. */
  private offeredBases = new Set<string>();

  constructor(
    private readonly deps: PlaygroundDeps,
    private readonly postMessage: (message: PlaygroundHostMessage) => void,
    private preset: PlaygroundPreset | null,
  ) {}

  private post(message: PlaygroundHostMessage): void {
    if (!this.disposed) this.postMessage(message);
  }

  /** Sends `init` (again): targets, base models, the preset if any, and what this panel generated. */
  async sendInit(): Promise<void> {
    const targets = this.deps
      .targets()
      .filter((t) => t.id.length > 0 && t.id.length <= L.target)
      .map((t) => ({ id: t.id, label: clip(t.label, L.label), kind: t.kind }));
    let baseModels: string[] = [];
    try {
      baseModels = (await this.deps.baseModels()).filter((m) => m.length > 0 && m.length <= L.model).slice(0, L.list);
      this.offeredBases = new Set(baseModels);
    } catch (err) {
      this.deps.log.warn(`Playground: could not list base models: ${errorText(err)}`);
    }
    const preset = this.preset && targets.some((t) => t.id === this.preset!.target) ? this.preset : null;
    this.preset = null;
    const generations: GenerationSnapshot[] = [...this.generations.values()].map((g) => ({
      id: g.id,
      text: g.text.slice(0, L.message),
      result: g.result,
      error: g.error,
    }));
    this.post({ type: 'init', targets, baseModels, preset, generations });
  }

  usePreset(preset: PlaygroundPreset): void {
    this.preset = preset;
    void this.sendInit();
  }

  private knownTarget(target: string): boolean {
    return this.deps.targets().some((t) => t.id === target);
  }

  private async adaptersOf(target: string): Promise<AdapterChoice[]> {
    return (await this.deps.adapters(target))
      .filter((a) => isJobId(a.jobId))
      .slice(0, L.list)
      .map((a) => ({
        jobId: a.jobId,
        name: clip(a.name, L.name),
        baseModel: clip(a.baseModel, L.model),
        systemPrompt: trainedSystemPrompt(a.systemPrompt),
      }));
  }

  /** Handles one message the webview sent, after its parser accepted it. */
  async onMessage(m: PlaygroundWebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        await this.sendInit();
        break;
      case 'listAdapters':
        if (!this.knownTarget(m.target)) return this.deps.log.warn('Playground: adapters asked for an unknown target');
        this.post({ type: 'adapters', target: m.target, adapters: await this.adaptersOf(m.target) });
        break;
      case 'generate':
        await this.generate(m);
        break;
      case 'stop':
        for (const g of this.generations.values()) g.controller.abort();
        break;
      case 'export': {
        const built = buildMessagesRecord({ system: m.system, turns: m.turns }, m.side);
        if (!built.ok) return this.post({ type: 'exported', ok: false, message: built.reason });
        try {
          await this.deps.exportRecord(built.record);
          const skipped = built.skippedTurns ? ` (${built.skippedTurns} unanswered turn(s) left out)` : '';
          this.post({
            type: 'exported',
            ok: true,
            message: `Exported a record of ${built.record.messages.length} messages${skipped}.`,
          });
        } catch (err) {
          this.post({ type: 'exported', ok: false, message: `Export failed: ${errorText(err)}` });
        }
        break;
      }
      case 'prefer': {
        const built = buildPreferenceRecord({ system: m.system, turns: m.turns }, m.side);
        if (!built.ok) return this.post({ type: 'exported', ok: false, message: built.reason });
        try {
          await this.deps.exportRecord(built.record);
          this.post({
            type: 'exported',
            ok: true,
            message: `Appended a preference pair: the ${m.side} answer chosen.`,
          });
        } catch (err) {
          this.post({ type: 'exported', ok: false, message: `Export failed: ${errorText(err)}` });
        }
        break;
      }
    }
  }

  /** Checks a generate request against what the target offers, then streams it. */
  private async generate(m: GenerateMessage): Promise<void> {
    const refuse = (why: string) => {
      this.deps.log.warn(`Playground: refused a generation: ${why}`);
      this.post({ type: 'failed', id: m.id, message: why });
    };
    if (this.generations.has(m.id) || this.checking.has(m.id)) {
      return this.deps.log.warn('Playground: refused a reused request id');
    }
    this.checking.add(m.id);
    try {
      if (await this.admit(m, refuse)) await this.run(m);
    } finally {
      this.checking.delete(m.id);
    }
  }

  /** True when the target offers what `m` asks for; otherwise refuses it (logged, and told to the webview). */
  private async admit(m: GenerateMessage, refuse: (why: string) => void): Promise<boolean> {
    const no = (why: string) => (refuse(why), false);
    if (!this.knownTarget(m.target)) return no('unknown target');
    const active = [...this.generations.values()].filter((g) => g.result === null && g.error === null).length;
    if (active + this.checking.size > MAX_ACTIVE) return no('too many generations at once');
    let adapters: AdapterChoice[];
    try {
      adapters = await this.adaptersOf(m.target);
    } catch (err) {
      return no(`could not list the target's adapters: ${errorText(err)}`);
    }
    if (m.adapterJobId !== null && !adapters.some((a) => a.jobId === m.adapterJobId)) {
      return no('that adapter is not a finished job on this target');
    }
    if (m.base !== null) {
      // Checked against what init offered, not by listing the models (a folder walk) again per message.
      const offered = this.offeredBases.has(m.base) || adapters.some((a) => a.baseModel === m.base);
      if (!offered) return no('that base model is not offered by this target');
    }
    return true;
  }

  private async run(m: GenerateMessage): Promise<void> {
    const g: Generation = {
      id: m.id,
      controller: new AbortController(),
      text: '',
      pending: '',
      timer: undefined,
      result: null,
      error: null,
    };
    this.generations.set(m.id, g);
    this.forgetOldGenerations();
    const request: ChatRequest = {
      base: m.base,
      adapterJobId: m.adapterJobId,
      messages: m.messages,
      system: m.system,
      params: { ...m.params, stop: [...m.params.stop] },
    };
    const onToken = (text: string) => {
      if (this.disposed || g.result !== null || g.error !== null) return;
      g.text += text;
      g.pending += text;
      g.timer ??= setTimeout(() => this.flushTokens(g), TOKEN_BATCH_MS);
    };
    try {
      const result = await this.deps.chat(m.target, request, onToken, g.controller.signal);
      this.flushTokens(g);
      g.result = toOutcome(result);
      this.post({ type: 'done', id: g.id, result: g.result });
    } catch (err) {
      this.flushTokens(g);
      if (g.controller.signal.aborted) {
        // Stopped: what streamed so far stays, marked as cancelled.
        g.result = { tokens: 0, timeToFirstTokenMs: 0, tokensPerSecond: 0, finishReason: 'cancelled' };
        this.post({ type: 'done', id: g.id, result: g.result });
      } else {
        g.error = errorText(err);
        this.deps.log.warn(`Playground: generation failed: ${g.error}`);
        this.post({ type: 'failed', id: g.id, message: g.error });
      }
    }
  }

  private flushTokens(g: Generation): void {
    if (g.timer) clearTimeout(g.timer);
    g.timer = undefined;
    for (let i = 0; i < g.pending.length; i += L.tokenBatch) {
      this.post({ type: 'tokens', id: g.id, text: g.pending.slice(i, i + L.tokenBatch) });
    }
    g.pending = '';
  }

  private forgetOldGenerations(): void {
    for (const [id, g] of this.generations) {
      if (this.generations.size <= L.generations) break;
      if (g.result !== null || g.error !== null) this.generations.delete(id);
    }
  }

  /** Stops every generation; nothing more is posted. */
  dispose(): void {
    this.disposed = true;
    for (const g of this.generations.values()) {
      if (g.timer) clearTimeout(g.timer);
      g.controller.abort();
    }
  }
}
