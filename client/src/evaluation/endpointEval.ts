// Evaluation against OpenAI-compatible endpoints from the editor, on this machine: the trainer's
// `eval CONFIG --endpoint URL --model NAME [--api-key-env VAR] [--endpoints-only] --events` as a child process of
// the extension host. No `vscode` here: `buildEndpointEval` turns the user's picks into argv and environment (an
// endpoint's key goes only into the child's environment, named by `--api-key-env`, never into argv, a file or a
// log line), and `runEndpointEval` runs it, reading the trainer's JSON-lines events for progress. The command
// (`endpointEvalCommand.ts`) and the tests drive the same two functions.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { checkOpenAIBaseUrl } from '../trainer/openaiChat';

/** The trainer's limit (`MAX_ENDPOINTS` in eval_endpoints.py). */
export const MAX_ENDPOINT_MODELS = 16;
/** The environment variables that carry the keys: `<prefix><n>`, one per endpoint model. */
export const KEY_ENV_PREFIX = 'MODELFACTORY_ENDPOINT_KEY_';
const MAX_MODEL_NAME = 256;

/** One model of one endpoint, as picked: its key read from SecretStorage (undefined: a server without keys). */
export interface EndpointModelPick {
  /** The endpoint's name in `modelfactory.openai.endpoints` (or the local trainer's), for messages only. */
  endpoint: string;
  baseUrl: string;
  model: string;
  apiKey?: string | undefined;
}

export interface EndpointEvalRequest {
  python: string;
  /** The folder holding the `modelfactory_trainer` package (put on PYTHONPATH). */
  trainerDir: string;
  /** The fine-tune config: its chat template, max_seq_length and eval split. */
  config: string;
  /** Local adapters scored beside the endpoints (with the base model); none with `endpointsOnly`. */
  adapters?: readonly string[];
  /** A held-out file; absent: the config's eval split. */
  data?: string | undefined;
  /** Where results.jsonl and summary.json go. */
  out: string;
  endpoints: readonly EndpointModelPick[];
  /** Score only the endpoints: the base model and adapters are not loaded. */
  endpointsOnly: boolean;
  maxNewTokens?: number;
  /** `modelfactory.trainer.allowDownload`: otherwise the child runs with HF_HUB_OFFLINE=1. */
  allowDownload?: boolean;
  /** The environment to start from (the extension host's). */
  baseEnv?: NodeJS.ProcessEnv;
}

export interface EvalCommand {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** A request that cannot run, with what to fix. */
export class EndpointEvalError extends Error {}

function checkPath(what: string, value: string | undefined): string {
  if (typeof value !== 'string' || value.trim() === '') throw new EndpointEvalError(`${what} is missing`);
  if (!path.isAbsolute(value)) throw new EndpointEvalError(`${what} must be an absolute path: ${value}`);
  if (value.includes('\0')) throw new EndpointEvalError(`${what} is not a path`);
  return value;
}

/** Why a model name cannot be passed on, or undefined. */
export function checkEndpointModelName(model: string): string | undefined {
  if (model.trim() === '') return 'the model name is empty';
  if (model.length > MAX_MODEL_NAME) return `the model name is longer than ${MAX_MODEL_NAME} characters`;
  if (/[\u0000-\u001f\u007f]/.test(model)) return 'the model name holds control characters';
  return undefined;
}

/**
 * The child's command line and environment. Throws EndpointEvalError naming the bad setting or pick. Values go
 * as `--flag=value`, so a model named `-x` or a path starting with `-` is a value, never an option.
 */
export function buildEndpointEval(request: EndpointEvalRequest): EvalCommand {
  const config = checkPath('the fine-tune config', request.config);
  const out = checkPath('the output folder', request.out);
  const data = request.data === undefined ? undefined : checkPath('the held-out file', request.data);
  const adapters = (request.adapters ?? []).map((a, i) => checkPath(`adapter ${i + 1}`, a));
  const python = checkPath('the trainer Python', request.python);
  const trainerDir = checkPath("the trainer's folder", request.trainerDir);
  if (request.endpoints.length === 0) throw new EndpointEvalError('pick at least one endpoint model to evaluate');
  if (request.endpoints.length > MAX_ENDPOINT_MODELS) {
    throw new EndpointEvalError(`at most ${MAX_ENDPOINT_MODELS} endpoint models in one evaluation`);
  }
  if (request.endpointsOnly && adapters.length > 0) {
    throw new EndpointEvalError('an endpoints-only evaluation loads no adapter: leave the adapters out');
  }
  const maxNewTokens = request.maxNewTokens ?? 128;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 1 || maxNewTokens > 32_768) {
    throw new EndpointEvalError('max new tokens must be a whole number from 1 to 32768');
  }

  const env: NodeJS.ProcessEnv = {};
  // Nothing inherited may pose as a key (a variable of the same name in the host's environment).
  for (const [name, value] of Object.entries(request.baseEnv ?? {})) {
    if (!name.startsWith(KEY_ENV_PREFIX)) env[name] = value;
  }
  env['PYTHONPATH'] = [trainerDir, request.baseEnv?.['PYTHONPATH']].filter(Boolean).join(path.delimiter);
  env['PYTHONUNBUFFERED'] = '1';
  if (request.allowDownload === true) delete env['HF_HUB_OFFLINE'];
  else env['HF_HUB_OFFLINE'] = '1';

  const args = ['-m', 'modelfactory_trainer', 'eval', config, `--out=${out}`, '--events'];
  args.push(`--max-new-tokens=${maxNewTokens}`);
  if (data !== undefined) args.push(`--data=${data}`);
  for (const adapter of adapters) args.push(`--adapter=${adapter}`);
  if (request.endpointsOnly) args.push('--endpoints-only');
  // The trainer needs one --api-key-env for all endpoint models or one for each: when any has a key, each gets a
  // variable (a server without keys gets "none", what the trainer sends for no key anyway).
  const anyKey = request.endpoints.some((e) => (e.apiKey ?? '').trim() !== '');
  request.endpoints.forEach((pick, i) => {
    const where = `endpoint ${JSON.stringify(pick.endpoint)}`;
    const urlProblem = checkOpenAIBaseUrl(pick.baseUrl ?? '');
    if (urlProblem) throw new EndpointEvalError(`${where}: ${urlProblem} (modelfactory.openai.endpoints)`);
    const modelProblem = checkEndpointModelName(pick.model ?? '');
    if (modelProblem) throw new EndpointEvalError(`${where}: ${modelProblem}`);
    const key = (pick.apiKey ?? '').trim();
    if (key.includes('\0')) throw new EndpointEvalError(`${where}: the stored key is malformed; set it again`);
    args.push(`--endpoint=${pick.baseUrl.trim().replace(/\/+$/, '')}`, `--model=${pick.model}`);
    if (anyKey) {
      const variable = `${KEY_ENV_PREFIX}${i + 1}`;
      env[variable] = key || 'none';
      args.push(`--api-key-env=${variable}`);
    }
  });
  return { command: python, args, env, cwd: path.dirname(config) };
}

/** A progress line of the trainer's event stream, as the notification shows it. */
export interface EvalProgress {
  done: number;
  total: number;
  model: string;
  etaSeconds: number | null;
}

export interface EndpointEvalOutcome {
  state: 'done' | 'failed' | 'cancelled';
  /** The trainer's exit code (null when killed). */
  code: number | null;
  /** The error the trainer reported (its `error` event), or the stderr tail. */
  error: string | null;
  /** The models in the order they answered (from `eval_start`). */
  models: string[];
  examples: number | null;
}

export interface RunHandlers {
  onStart?: (info: { examples: number; models: string[] }) => void;
  onProgress?: (progress: EvalProgress) => void;
  /** The trainer's human-readable lines (stderr), one at a time. */
  onLine?: (line: string) => void;
  signal?: AbortSignal;
}

const EXIT_CANCELLED = 3;

function record(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;
}

/** Runs the command; a signal's abort sends SIGTERM (the trainer stops between answers and says so). */
export function runEndpointEval(command: EvalCommand, handlers: RunHandlers = {}): Promise<EndpointEvalOutcome> {
  return new Promise((resolve, reject) => {
    if (handlers.signal?.aborted) {
      resolve({ state: 'cancelled', code: null, error: null, models: [], examples: null });
      return;
    }
    const child = spawn(command.command, command.args, {
      cwd: command.cwd,
      env: command.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    let error: string | null = null;
    let cancelled = false;
    let models: string[] = [];
    let examples: number | null = null;
    const tail: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      let event: Record<string, unknown> | null = null;
      try {
        event = record(JSON.parse(line));
      } catch {
        return; // not an event line
      }
      if (!event) return;
      if (event['type'] === 'eval_start') {
        models = Array.isArray(event['models']) ? event['models'].filter((m) => typeof m === 'string') : [];
        examples = typeof event['examples'] === 'number' ? event['examples'] : null;
        handlers.onStart?.({ examples: examples ?? 0, models });
      } else if (event['type'] === 'progress' && typeof event['done'] === 'number') {
        handlers.onProgress?.({
          done: event['done'],
          total: typeof event['total'] === 'number' ? event['total'] : event['done'],
          model: typeof event['model'] === 'string' ? event['model'] : '',
          etaSeconds: typeof event['eta_seconds'] === 'number' ? event['eta_seconds'] : null,
        });
      } else if (event['type'] === 'error' && typeof event['message'] === 'string') {
        error = event['message'].slice(0, 2000);
      } else if (event['type'] === 'cancelled') {
        cancelled = true;
      }
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      handlers.onLine?.(line);
    });
    const abort = () => child.kill('SIGTERM');
    handlers.signal?.addEventListener('abort', abort, { once: true });
    child.on('error', (err) => {
      handlers.signal?.removeEventListener('abort', abort);
      reject(new Error(`could not run ${command.command}: ${err.message}`));
    });
    child.on('close', (code) => {
      handlers.signal?.removeEventListener('abort', abort);
      const state =
        code === 0 ? 'done' : cancelled || code === EXIT_CANCELLED || handlers.signal?.aborted ? 'cancelled' : 'failed';
      const why =
        state === 'failed' ? (error ?? (tail.slice(-5).join('\n') || `the trainer exited with ${code}`)) : null;
      resolve({ state, code, error: why, models, examples });
    });
  });
}

/** "calc: 12/40 (about 30 s left)" */
export function describeProgress(p: EvalProgress): string {
  const eta =
    p.etaSeconds === null || !Number.isFinite(p.etaSeconds) ? '' : ` (about ${Math.ceil(p.etaSeconds)} s left)`;
  return `${p.model ? `${p.model}: ` : ''}${p.done}/${p.total}${eta}`;
}
