// Finding a Python that can run the trainer, and creating one. Every check runs the interpreter
// itself (execFile, no shell): a path that exists but lacks torch is as useless as none.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export type PythonSource = 'setting' | 'workspace' | 'extension' | 'globalStorage';

export interface PythonCandidate {
  python: string;
  source: PythonSource;
}

export interface PythonFailure extends PythonCandidate {
  reason: string;
}

export interface PythonDiscovery {
  found: (PythonCandidate & { version: string }) | null;
  /** Every candidate tried before the one found (or all of them), with why it was passed over. */
  failures: PythonFailure[];
}

export interface PythonSearch {
  /** `modelfactory.trainer.pythonPath`, if set. */
  setting?: string | undefined;
  workspaceFolders?: readonly string[];
  extensionPath?: string | undefined;
  globalStoragePath?: string | undefined;
  timeoutMs?: number;
}

/** What the trainer imports; the check imports exactly these. */
export const TRAINER_MODULES = ['torch', 'transformers', 'peft', 'websockets', 'yaml', 'jsonschema', 'safetensors'];

const CHECK_SCRIPT = [
  'import importlib, sys',
  'missing = []',
  `for name in ${JSON.stringify(TRAINER_MODULES)}:`,
  '    try:',
  '        importlib.import_module(name)',
  '    except Exception as exc:',
  '        missing.append(f"{name} ({type(exc).__name__})")',
  'if sys.version_info < (3, 10):',
  '    missing.append("Python 3.10 or newer")',
  'print(sys.version.split()[0])',
  'print(", ".join(missing))',
].join('\n');

/** The interpreter inside a virtual environment folder. */
export function venvPython(venvDir: string, platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? join(venvDir, 'Scripts', 'python.exe') : join(venvDir, 'bin', 'python');
}

/** The candidates in the order they are tried. */
export function pythonCandidates(search: PythonSearch): PythonCandidate[] {
  const candidates: PythonCandidate[] = [];
  if (search.setting !== undefined && search.setting.trim() !== '') {
    candidates.push({ python: search.setting.trim(), source: 'setting' });
  }
  for (const folder of search.workspaceFolders ?? []) {
    candidates.push({ python: venvPython(join(folder, 'trainer', '.venv')), source: 'workspace' });
  }
  if (search.extensionPath !== undefined) {
    candidates.push({ python: venvPython(join(search.extensionPath, 'trainer', '.venv')), source: 'extension' });
  }
  if (search.globalStoragePath !== undefined) {
    candidates.push({ python: venvPython(join(search.globalStoragePath, 'trainer-venv')), source: 'globalStorage' });
  }
  return candidates;
}

/** Runs `python -c <check>`: the version, or why this interpreter cannot run the trainer. */
export function checkPython(python: string, timeoutMs = 60_000): Promise<{ version: string } | { reason: string }> {
  return new Promise((resolve) => {
    execFile(
      python,
      ['-c', CHECK_SCRIPT],
      { timeout: timeoutMs, windowsHide: true, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error !== null) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') return resolve({ reason: 'not found' });
          if (code === 'EACCES') return resolve({ reason: 'not executable' });
          if (error.killed) return resolve({ reason: `did not answer within ${timeoutMs} ms` });
          const lastLine = stderr.trim().split('\n').at(-1) ?? '';
          return resolve({ reason: `failed to run: ${lastLine || error.message}`.slice(0, 300) });
        }
        const [version = '', missing = ''] = stdout.split('\n').map((line) => line.trim());
        resolve(missing === '' ? { version } : { reason: `Python ${version} lacks ${missing}` });
      },
    );
  });
}

/** The first candidate that can run the trainer, and why the ones before it could not. */
export async function findTrainerPython(search: PythonSearch): Promise<PythonDiscovery> {
  const failures: PythonFailure[] = [];
  for (const candidate of pythonCandidates(search)) {
    const result = await checkPython(candidate.python, search.timeoutMs);
    if ('version' in result) return { found: { ...candidate, version: result.version }, failures };
    failures.push({ ...candidate, reason: result.reason });
  }
  return { found: null, failures };
}

export interface SetupOptions {
  /** The interpreter that creates the venv (e.g. `python3`). */
  basePython: string;
  venvDir: string;
  requirementsFile: string;
  /** pip's progress lines ("Collecting torch==...", "Installing collected packages: ..."), and ours. */
  onProgress?: (line: string) => void;
  signal?: AbortSignal;
}

const PIP_PROGRESS = /^(Collecting|Downloading|Processing|Installing|Successfully|Requirement already|ERROR)/;

function run(command: string, args: string[], options: SetupOptions, forward: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
      env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONUNBUFFERED: '1' },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const tail: string[] = [];
    const collect = (line: string): void => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      forward(line);
    };
    createInterface({ input: child.stdout }).on('line', collect);
    createInterface({ input: child.stderr }).on('line', collect);
    child.on('error', (error) => {
      if (error.name === 'AbortError') reject(new Error('the trainer setup was cancelled'));
      else reject(new Error(`could not run ${command}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      if (options.signal?.aborted) return reject(new Error('the trainer setup was cancelled'));
      if (code === 0) return resolve();
      reject(new Error(`${command} ${args.slice(0, 3).join(' ')} failed (${signal ?? `exit ${code}`}): ${tail.join('\n')}`));
    });
  });
}

/**
 * Creates `venvDir` with `basePython -m venv` and installs the trainer's requirements into it,
 * streaming pip's progress lines. Returns the venv's interpreter. Cancel with `signal`.
 */
export async function setupLocalTrainer(options: SetupOptions): Promise<string> {
  const progress = options.onProgress ?? (() => undefined);
  progress(`Creating a virtual environment in ${options.venvDir}`);
  await run(options.basePython, ['-m', 'venv', options.venvDir], options, progress);
  const python = venvPython(options.venvDir);
  progress(`Installing the trainer's requirements from ${options.requirementsFile}`);
  await run(
    python,
    ['-m', 'pip', 'install', '--progress-bar', 'off', '-r', options.requirementsFile],
    options,
    (line) => {
      if (PIP_PROGRESS.test(line.trim())) progress(line.trim());
    },
  );
  return python;
}
