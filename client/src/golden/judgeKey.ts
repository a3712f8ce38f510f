// The golden child's command line and environment, with the judge's key from SecretStorage. An evals file whose
// top-level `judge.base_url` is the base URL of a configured OpenAI-compatible endpoint (compared normalised:
// scheme, host, port, path without a trailing slash) gets that endpoint's key in the child's environment under
// the variable the file names (`judge.api_key_env`, else MODELFACTORY_JUDGE_API_KEY), replacing an inherited
// one; the key never goes into argv, a file or a log. Pure: no `vscode`, no I/O.
import * as path from 'node:path';
import { isMap, parseDocument } from 'yaml';

/** The variable the trainer reads the judge's key from when the file names none (judge.py JUDGE_KEY_ENV). */
export const JUDGE_KEY_ENV = 'MODELFACTORY_JUDGE_API_KEY';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface JudgeSettings {
  /** The file's `judge.base_url`, as written. */
  baseUrl: string;
  /** The variable the key goes in: `judge.api_key_env`, else JUDGE_KEY_ENV. */
  keyEnv: string;
}

/** The file's top-level judge endpoint, when it has one with a base URL (a malformed file has none). */
export function judgeSettings(text: string): JudgeSettings | undefined {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || !isMap(doc.contents)) return undefined;
  const judge = (doc.toJS() as Record<string, unknown>)['judge'];
  if (typeof judge !== 'object' || judge === null) return undefined;
  const { base_url: baseUrl, api_key_env: keyEnv } = judge as Record<string, unknown>;
  if (typeof baseUrl !== 'string' || baseUrl.trim() === '') return undefined;
  const named = typeof keyEnv === 'string' && ENV_NAME.test(keyEnv);
  return { baseUrl: baseUrl.trim(), keyEnv: named ? keyEnv : JUDGE_KEY_ENV };
}

/** A base URL as compared: scheme, host (lower case), port (the default dropped), path without trailing slashes. */
export function normaliseBaseUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return undefined;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** The first endpoint whose base URL is the judge's. */
export function matchJudgeEndpoint<E extends { baseUrl: string }>(judgeUrl: string, endpoints: E[]): E | undefined {
  const want = normaliseBaseUrl(judgeUrl);
  if (want === undefined) return undefined;
  return endpoints.find((e) => normaliseBaseUrl(e.baseUrl) === want);
}

export interface GoldenCommandRequest {
  python: string;
  trainerDir: string;
  file: string;
  /** Prompt names to run; empty: all. */
  only: string[];
  /** The environment to start from (the extension host's). */
  baseEnv: NodeJS.ProcessEnv;
  allowDownload: boolean;
  /** The judge's key and its variable, when a configured endpoint matched (key: '' for one without keys). */
  judgeKey?: { variable: string; key: string };
}

export interface GoldenCommand {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** `python -m modelfactory_trainer golden FILE --json --only NAME…` and its environment. */
export function goldenCommand(request: GoldenCommandRequest): GoldenCommand {
  const args = [
    '-m',
    'modelfactory_trainer',
    'golden',
    request.file,
    '--json',
    ...request.only.flatMap((name) => ['--only', name]),
  ];
  const env: NodeJS.ProcessEnv = {
    ...request.baseEnv,
    PYTHONPATH: [request.trainerDir, request.baseEnv['PYTHONPATH']].filter(Boolean).join(path.delimiter),
  };
  if (request.allowDownload) delete env['HF_HUB_OFFLINE'];
  else env['HF_HUB_OFFLINE'] = '1';
  if (request.judgeKey) {
    const { variable, key } = request.judgeKey;
    if (!ENV_NAME.test(variable)) throw new Error(`${JSON.stringify(variable)} is not an environment variable name`);
    if (key.includes('\0')) throw new Error("the judge endpoint's stored key is malformed; set it again");
    // Replaces an inherited variable of the same name; "none" (what the trainer sends for no key) for a server
    // without keys, so a named variable is set.
    env[variable] = key.trim() || 'none';
  }
  return { command: request.python, args, env, cwd: path.dirname(request.file) };
}

/**
 * What to add to a failed run's message when the judge's key was not found: no configured endpoint matched and
 * the variable is not set in the environment. Undefined otherwise.
 */
export function missingJudgeKeyHint(
  settings: JudgeSettings | undefined,
  matched: boolean,
  env: NodeJS.ProcessEnv,
): string | undefined {
  if (!settings || matched || env[settings.keyEnv]) return undefined;
  return (
    `No configured endpoint has the judge's base URL ${settings.baseUrl}: run "ModelFactory: Add OpenAI-Compatible ` +
    `Endpoint" with that URL and its key (kept in VS Code's secret storage), or set $${settings.keyEnv}.`
  );
}
