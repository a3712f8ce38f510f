// code-server (VS Code in a browser) for the end-to-end tests: the pinned tools from scripts/tools.sh,
// the .vsix from scripts/package-vsix.sh, one instance on a free loopback port with its own user data
// and extensions folders, and a clean stop of everything it started.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { descendantsOf, listProcesses, terminate } from './processes';

export interface Tools {
  node24: string;
  codeServer: string;
  chromium: string;
}

/** Installs the pinned tools when missing (a stamp makes the second run instant) and returns their paths. */
export function loadTools(repoRoot: string): Tools {
  const printed = execFileSync('bash', [join(repoRoot, 'scripts', 'tools.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const paths = new Map<string, string>();
  for (const line of printed.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.+)$/.exec(line.trim());
    if (match) paths.set(match[1] as string, match[2] as string);
  }
  const pick = (name: string): string => {
    const value = paths.get(name);
    if (!value || !existsSync(value)) throw new Error(`scripts/tools.sh printed no usable ${name}`);
    return value;
  };
  return { node24: pick('NODE24'), codeServer: pick('CODE_SERVER'), chromium: pick('CHROMIUM') };
}

/** MODELFACTORY_VSIX when set (a .vsix built beforehand), else a fresh one from scripts/package-vsix.sh. */
export function packageExtension(repoRoot: string): string {
  const given = process.env['MODELFACTORY_VSIX'];
  if (given) {
    if (!existsSync(given)) throw new Error(`MODELFACTORY_VSIX=${given} does not exist`);
    return given;
  }
  let printed: string;
  try {
    // vsce's file tree goes to stderr: shown only when packaging fails.
    printed = execFileSync('bash', [join(repoRoot, 'scripts', 'package-vsix.sh')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    throw new Error(`scripts/package-vsix.sh failed:\n${String((error as { stderr?: string }).stderr ?? error)}`);
  }
  const vsix = printed.trim().split('\n').pop() ?? '';
  if (!vsix.endsWith('.vsix') || !existsSync(vsix)) throw new Error(`package-vsix.sh printed no .vsix: ${printed}`);
  return vsix;
}

export async function freeLoopbackPort(preferred = 0): Promise<number> {
  const tryPort = (port: number): Promise<number | undefined> =>
    new Promise((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        const bound = typeof address === 'object' && address ? address.port : undefined;
        server.close(() => resolve(bound));
      });
    });
  if (preferred > 0) {
    for (let port = preferred; port < preferred + 100; port++) {
      const bound = await tryPort(port);
      if (bound !== undefined) return bound;
    }
  }
  const bound = await tryPort(0);
  if (bound === undefined) throw new Error('no free loopback port');
  return bound;
}

export interface InstanceFolders {
  /** Holds config.yaml, user/, extensions/ and code-server.log. */
  root: string;
  userDataDir: string;
  extensionsDir: string;
  configFile: string;
  logFile: string;
}

export function instanceFolders(root: string): InstanceFolders {
  return {
    root,
    userDataDir: join(root, 'user'),
    extensionsDir: join(root, 'extensions'),
    configFile: join(root, 'config.yaml'),
    logFile: join(root, 'code-server.log'),
  };
}

function baseArgs(folders: InstanceFolders): string[] {
  return [
    '--config',
    folders.configFile,
    '--user-data-dir',
    folders.userDataDir,
    '--extensions-dir',
    folders.extensionsDir,
  ];
}

function node24Env(tools: Tools): NodeJS.ProcessEnv {
  return { ...process.env, PATH: `${dirname(tools.node24)}:${process.env['PATH'] ?? ''}` };
}

/**
 * Writes config.yaml (loopback, no auth) and the settings, and installs the .vsix. code-server is a
 * remote setup: the extension host runs on the server, so `machine`-scoped settings (the trainer's
 * interpreter) are read from the server's Machine/settings.json and ignored in User/settings.json.
 */
export function prepareInstance(
  tools: Tools,
  folders: InstanceFolders,
  vsix: string,
  settings: { user: Record<string, unknown>; machine: Record<string, unknown> },
): void {
  mkdirSync(join(folders.userDataDir, 'User'), { recursive: true });
  mkdirSync(join(folders.userDataDir, 'Machine'), { recursive: true });
  mkdirSync(folders.extensionsDir, { recursive: true });
  writeFileSync(folders.configFile, 'auth: none\ncert: false\n');
  writeFileSync(join(folders.userDataDir, 'User', 'settings.json'), JSON.stringify(settings.user, null, 2));
  writeFileSync(join(folders.userDataDir, 'Machine', 'settings.json'), JSON.stringify(settings.machine, null, 2));
  execFileSync(tools.node24, [tools.codeServer, ...baseArgs(folders), '--install-extension', vsix, '--force'], {
    env: node24Env(tools),
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });
}

export interface RunningCodeServer {
  url: string;
  pid: number;
  folders: InstanceFolders;
  /** code-server's own output so far. */
  log(): string;
  /** Stops code-server and every process it started, detached ones included. */
  stop(): Promise<void>;
}

export async function startCodeServer(
  tools: Tools,
  folders: InstanceFolders,
  port: number,
  workspace: string,
): Promise<RunningCodeServer> {
  const logFd = openSync(folders.logFile, 'a');
  const child = spawn(
    tools.node24,
    [
      tools.codeServer,
      ...baseArgs(folders),
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      workspace,
    ],
    // Its own process group, so one signal reaches the extension hosts and language servers too.
    { env: node24Env(tools), stdio: ['ignore', logFd, logFd], detached: true },
  );
  closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error('code-server did not start');
  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `http://127.0.0.1:${port}`;
  const log = (): string => (existsSync(folders.logFile) ? readFileSync(folders.logFile, 'utf8') : '');

  const stop = async (): Promise<void> => {
    // Detached children (a trainer kept alive across windows) leave the process group: collect them
    // by parentage first, and anything naming this instance's folders.
    const all = listProcesses();
    const started = new Set(descendantsOf(pid, all).map((info) => info.pid));
    for (const info of all) if (info.commandLine.includes(folders.root)) started.add(info.pid);
    started.delete(process.pid);
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      // the group is gone already
    }
    await terminate([pid, ...started], 5000);
  };

  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`code-server exited during start:\n${log()}`);
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`code-server did not answer /healthz within 60 s:\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { url, pid, folders, log, stop };
}
