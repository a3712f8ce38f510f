// The local job server: `python -m modelfactory_trainer serve` on loopback, started detached so a
// long job outlives the window that started it, and found again by the next window through a state
// file (<stateDir>/server.json). The token reaches the server only through MODELFACTORY_TOKEN.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { ProtocolClient, TrainerError } from './protocolClient';

export interface LocalServerOptions {
  /** An interpreter that passed findTrainerPython's check. */
  python: string;
  /** The folder holding the `modelfactory_trainer` package (put on PYTHONPATH). */
  trainerDir: string;
  /** Holds server.json, the server's stdout and its state (`<stateDir>/jobs`). */
  stateDir: string;
  /** The server's stderr (JSON log lines) is appended here. */
  logFile: string;
  token: string;
  /** Recorded in server.json; a reused server of another version is reported, not restarted. */
  version?: string;
  /** Folders whose files may be submitted by path instead of uploaded. */
  dataRoots?: string[];
  /** More `serve` options (e.g. `--ping-interval 5`, `--cancel-grace 10`). */
  extraArgs?: string[];
  /** More environment for the server (and so its trainers), e.g. MODELFACTORY_CACHE. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface LocalServer {
  url: string;
  pid: number;
  port: number;
  /** True when a running server was found and accepted the token. */
  reused: boolean;
  /** The version recorded by whoever started it. */
  version: string;
  /** The port of its OpenAI-compatible API when it was started with `--openai` (loopback, same token). */
  openaiPort?: number;
}

interface StateFile {
  pid: number;
  port: number;
  started: number;
  version: string;
  openaiPort?: number;
}

const STATE_FILE = 'server.json';
const STDOUT_FILE = 'server.stdout';
const LOCK_DIR = 'server.lock';
const STALE_LOCK_MS = 120_000;

function urlOf(port: number): string {
  return `ws://127.0.0.1:${port}/`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readState(stateDir: string): Promise<StateFile | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(stateDir, STATE_FILE), 'utf8')) as Partial<StateFile>;
    if (
      Number.isInteger(parsed.pid) &&
      Number.isInteger(parsed.port) &&
      typeof parsed.started === 'number' &&
      typeof parsed.version === 'string' &&
      (parsed.openaiPort === undefined || Number.isInteger(parsed.openaiPort))
    ) {
      return parsed as StateFile;
    }
  } catch {
    // missing or torn: no server to reuse
  }
  return undefined;
}

async function writeStateAtomically(stateDir: string, state: StateFile): Promise<void> {
  const temp = join(stateDir, `.${STATE_FILE}.${process.pid}.tmp`);
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(JSON.stringify(state, null, 2) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, join(stateDir, STATE_FILE));
}

/** Whether pid is alive and, where the platform tells, is a modelfactory_trainer server (pids get reused). */
export async function isTrainerServer(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false; // gone, or another user's process: not a server of ours either way
  }
  if (process.platform !== 'linux') return true;
  try {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.includes('modelfactory_trainer') && cmdline.includes('serve');
  } catch {
    return false;
  }
}

async function probe(port: number, token: string): Promise<'ok' | 'refused' | 'unreachable'> {
  try {
    const client = await ProtocolClient.connect({ url: urlOf(port), token, connectTimeoutMs: 5_000 });
    client.close();
    return 'ok';
  } catch (error) {
    return error instanceof TrainerError && error.code === 'refused' ? 'refused' : 'unreachable';
  }
}

async function withLock<T>(stateDir: string, timeoutMs: number, body: () => Promise<T>): Promise<T> {
  const lock = join(stateDir, LOCK_DIR);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(lock).then((info) => Date.now() - info.mtimeMs, () => 0);
      if (age > STALE_LOCK_MS) {
        await rmdir(lock).catch(() => undefined);
        continue;
      }
      if (Date.now() > deadline) throw new Error('another window is starting the local trainer; try again');
      await sleep(100);
    }
  }
  try {
    return await body();
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
}

async function tail(path: string, chars = 1500): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.slice(-chars).trim();
}

async function waitForPort(
  stdoutPath: string,
  logFile: string,
  exited: () => string | undefined,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = await readFile(stdoutPath, 'utf8').catch(() => '');
    const newline = text.indexOf('\n');
    // The first line is complete once its newline is there (the server flushes both together).
    if (newline > 0 && /^\d+$/.test(text.slice(0, newline).trim())) return Number(text.slice(0, newline).trim());
    const exit = exited();
    if (exit !== undefined) {
      throw new Error(`the local trainer server exited (${exit}) before serving: ${await tail(logFile)}`);
    }
    await sleep(50);
  }
  throw new Error(`the local trainer server did not report its port within ${timeoutMs} ms: ${await tail(logFile)}`);
}

/** With `--openai` the server's second stdout line is `openai PORT`. */
async function waitForOpenAIPort(stdoutPath: string, logFile: string, exited: () => string | undefined): Promise<number> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const text = await readFile(stdoutPath, 'utf8').catch(() => '');
    const match = /^openai (\d+)\n/m.exec(text);
    if (match) return Number(match[1]);
    const exit = exited();
    if (exit !== undefined) throw new Error(`the local trainer server exited (${exit}): ${await tail(logFile)}`);
    await sleep(50);
  }
  throw new Error(`the local trainer server did not report its OpenAI API port: ${await tail(logFile)}`);
}

async function startServer(options: LocalServerOptions): Promise<LocalServer> {
  const jobsDir = join(options.stateDir, 'jobs');
  await mkdir(jobsDir, { recursive: true });
  const stdoutPath = join(options.stateDir, STDOUT_FILE);
  const args = ['-m', 'modelfactory_trainer', 'serve', '--host', '127.0.0.1', '--port', '0', '--state-dir', jobsDir];
  for (const root of options.dataRoots ?? []) args.push('--data-root', root);
  args.push(...(options.extraArgs ?? []));
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, PYTHONUNBUFFERED: '1' };
  env.PYTHONPATH = [options.trainerDir, env.PYTHONPATH].filter((part) => part).join(delimiter);
  env.MODELFACTORY_TOKEN = options.token;
  // Files, not pipes: the server must not depend on this process staying alive to read them.
  const stdout = openSync(stdoutPath, 'w', 0o600);
  const stderr = openSync(options.logFile, 'a', 0o600);
  let exit: string | undefined;
  try {
    const child = spawn(options.python, args, {
      cwd: options.stateDir,
      detached: true,
      stdio: ['ignore', stdout, stderr],
      env,
      windowsHide: true,
    });
    child.on('error', (error) => (exit = error.message));
    child.on('exit', (code, signal) => (exit = signal ?? `exit code ${code}`));
    child.unref();
    if (child.pid === undefined) {
      await sleep(0);
      throw new Error(`could not start ${options.python}: ${exit ?? 'no pid'}`);
    }
    const pid = child.pid;
    const port = await waitForPort(stdoutPath, options.logFile, () => exit, options.startTimeoutMs ?? 60_000);
    const openaiPort = args.includes('--openai')
      ? await waitForOpenAIPort(stdoutPath, options.logFile, () => exit)
      : undefined;
    const version = options.version ?? '';
    await writeStateAtomically(options.stateDir, { pid, port, started: Date.now(), version, openaiPort });
    const api = openaiPort === undefined ? '' : `, OpenAI API on port ${openaiPort}`;
    options.log?.(`started the local trainer server (pid ${pid}, port ${port}${api})`);
    return { url: urlOf(port), pid, port, reused: false, version, openaiPort };
  } finally {
    closeSync(stdout);
    closeSync(stderr);
  }
}

/**
 * The local server for this state folder: the running one if it is alive and accepts `token`,
 * otherwise a fresh one (a server holding another token is stopped first).
 */
export async function ensureLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  await mkdir(options.stateDir, { recursive: true });
  return withLock(options.stateDir, options.startTimeoutMs ?? 60_000, async () => {
    const state = await readState(options.stateDir);
    if (state !== undefined && (await isTrainerServer(state.pid))) {
      const answer = await probe(state.port, options.token);
      if (answer === 'ok') {
        options.log?.(`reusing the local trainer server (pid ${state.pid}, port ${state.port})`);
        const wanted = (options.extraArgs ?? []).includes('--openai');
        if (wanted && state.openaiPort === undefined) {
          options.log?.('the running local trainer was started without its OpenAI API; it serves one once restarted');
        }
        return {
          url: urlOf(state.port),
          pid: state.pid,
          port: state.port,
          reused: true,
          version: state.version,
          openaiPort: state.openaiPort,
        };
      }
      options.log?.(`the local trainer server (pid ${state.pid}) ${answer === 'refused' ? 'holds another token' : 'does not answer'}; replacing it`);
      await stopPid(state.pid);
    }
    await unlink(join(options.stateDir, STATE_FILE)).catch(() => undefined);
    return startServer(options);
  });
}

async function stopPid(pid: number, timeoutMs = 45_000): Promise<void> {
  if (!(await isTrainerServer(pid))) return;
  // The server cancels its running job (within its grace period) and stops its chat worker on SIGTERM.
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isTrainerServer(pid))) return;
    await sleep(50);
  }
  if (await isTrainerServer(pid)) process.kill(pid, 'SIGKILL');
}

/**
 * Whether the server recorded in stateDir is running (a window reconnects to it without starting one).
 * The state file is this module's own: other modules ask here instead of reading it.
 */
export async function localServerRunning(stateDir: string): Promise<boolean> {
  const state = await readState(stateDir);
  return state !== undefined && (await isTrainerServer(state.pid));
}

/** Stops the server recorded in stateDir, if it runs. Returns whether one was stopped. */
export async function stopLocalServer(stateDir: string, timeoutMs?: number): Promise<boolean> {
  const state = await readState(stateDir);
  if (state === undefined) return false;
  const running = await isTrainerServer(state.pid);
  if (running) await stopPid(state.pid, timeoutMs);
  await rm(join(stateDir, STATE_FILE), { force: true });
  return running;
}
