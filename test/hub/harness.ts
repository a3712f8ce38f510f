// The real hub for the tests: `node bin/modelfactory.js hub serve` as a child process, on PGlite in a
// temporary folder or on a throwaway PostgreSQL server started from Debian's postgresql package.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'modelfactory.js');

export function needBuild(): void {
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js')))
    throw new Error('dist/cli/main.js is missing: run `npm run build` (npm test does it first)');
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI to completion, with MODELFACTORY_HUB_TOKEN set when a token is given. */
export function cli(args: string[], token?: string, cwd = ROOT): RunResult {
  const env = { ...process.env };
  delete env['MODELFACTORY_HUB_TOKEN'];
  if (token) env['MODELFACTORY_HUB_TOKEN'] = token;
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface Storage {
  kind: 'pglite' | 'postgres';
  dataDir: string;
  /** The arguments naming the storage for `hub serve` and `hub token create`. */
  args: string[];
  stop(): Promise<void>;
}

export function pgliteStorage(): Storage {
  const dataDir = mkdtempSync(join(tmpdir(), 'mf-hub-'));
  return { kind: 'pglite', dataDir, args: ['--data', dataDir], stop: async () => undefined };
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

/** The bin folder of Debian's PostgreSQL, or an error that says what to run. */
export function postgresBin(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) {
    throw new Error(
      "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `npm run setup` (it installs Debian's postgresql package)",
    );
  }
  return join(base, newest, 'bin');
}

/**
 * A throwaway PostgreSQL cluster in a temporary folder, listening on a free loopback port. PostgreSQL
 * refuses to run as root: as root the cluster belongs to `nobody` and runs under setpriv (which execs, so signals reach postgres).
 */
export async function postgresStorage(): Promise<Storage> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'mf-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, 65534, 65534);
  const as = (cmd: string, args: string[]) =>
    asRoot
      ? { cmd: 'setpriv', args: ['--reuid=65534', '--regid=65534', '--clear-groups', cmd, ...args] }
      : { cmd, args };
  const pgdata = join(dir, 'data');
  const init = as(join(bin, 'initdb'), ['-D', pgdata, '-A', 'trust', '-U', 'hub', '--no-sync', '-E', 'UTF8']);
  const r = spawnSync(init.cmd, init.args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`initdb failed: ${r.stderr || r.stdout || r.error?.message}`);
  const port = await freePort();
  const run = as(join(bin, 'postgres'), [
    '-D',
    pgdata,
    '-k',
    dir,
    '-p',
    String(port),
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'fsync=off',
  ]);
  const proc = spawn(run.cmd, run.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`postgres did not start in 30 s:\n${log}`)), 30_000);
    const check = () => {
      if (/ready to accept connections/.test(log)) {
        clearTimeout(timer);
        resolveReady();
      } else if (proc.exitCode !== null) {
        clearTimeout(timer);
        reject(new Error(`postgres exited (${proc.exitCode}):\n${log}`));
      } else setTimeout(check, 100);
    };
    check();
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'mf-hub-pgfiles-'));
  return {
    kind: 'postgres',
    dataDir,
    args: ['--data', dataDir, '--database', `postgres://hub@127.0.0.1:${port}/postgres`],
    stop: async () => {
      proc.kill('SIGINT');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

export interface Hub {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  stderr(): string;
}

/** Starts `modelfactory hub serve` on a free port and waits for its address. */
export async function startHub(storage: Storage, extra: string[] = []): Promise<Hub> {
  needBuild();
  const proc = spawn(process.execPath, [BIN, 'hub', 'serve', ...storage.args, '--port', '0', ...extra], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the hub did not start in 60 s: ${err}`)), 60_000);
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1] as string);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the hub exited (${code}) before listening: ${err}`));
    });
  });
  return {
    url,
    proc,
    stderr: () => err,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** A token from `modelfactory hub token create` (its last line). */
export function makeToken(storage: Storage, name: string, role: string, extra: string[] = []): string {
  const r = cli(['hub', 'token', 'create', ...storage.args, '--name', name, '--role', role, ...extra]);
  if (r.code !== 0) throw new Error(`token create failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').at(-1) as string;
}

/** A JSON request to the hub; returns the status and the parsed body. */
export async function api<T = unknown>(
  hub: Hub,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const h: Record<string, string> = { ...headers };
  if (token) h['authorization'] = `Bearer ${token}`;
  let payload: string | Uint8Array | undefined;
  if (body instanceof Uint8Array) {
    payload = body;
    h['content-type'] ??= 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const res = await fetch(hub.url + path, { method, headers: h, body: payload as RequestInit['body'] });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (a version's data).
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

const VOCAB = (
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo ' +
  'sierra tango uniform victor whiskey xray yankee zulu river mountain forest ocean desert valley canyon meadow ' +
  'harbor island glacier prairie lagoon summit plateau marsh tundra savanna jungle reef delta estuary fjord'
).split(' ');

/** Deterministic words: record `seed` of the tests, unlike every other seed. */
export function words(seed: number, n: number): string {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.push(VOCAB[x % VOCAB.length] as string);
  }
  return out.join(' ');
}

/** A messages record as one JSON line (no newline). */
export const record = (question: string, answer: string) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: question },
      { role: 'assistant', content: answer },
    ],
  });
