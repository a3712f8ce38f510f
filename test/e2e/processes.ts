// What runs on this machine, read from /proc: the e2e tests use it to find every process their
// code-server started (to assert that an untrusted workspace started none, and to stop them all at the
// end) without touching processes that other people on the machine started.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcessInfo {
  pid: number;
  parentPid: number;
  /** Start time in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  startTicks: number;
  commandLine: string;
}

const TICKS_PER_SECOND = 100;

function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces; the fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return { pid, parentPid: Number(fields[1]), startTicks: Number(fields[19]), commandLine };
  } catch {
    return undefined; // it exited while we looked
  }
}

export function listProcesses(): ProcessInfo[] {
  const all: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProcess(Number(name));
    if (info) all.push(info);
  }
  return all;
}

/** Now, in the unit of ProcessInfo.startTicks. */
export function ticksSinceBoot(): number {
  const uptimeSeconds = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  return Math.floor(uptimeSeconds * TICKS_PER_SECOND);
}

/** Every process below rootPid (children, their children, ...), not rootPid itself. */
export function descendantsOf(rootPid: number, all: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  const childrenOf = new Map<number, ProcessInfo[]>();
  for (const info of all) {
    const siblings = childrenOf.get(info.parentPid) ?? [];
    siblings.push(info);
    childrenOf.set(info.parentPid, siblings);
  }
  const found: ProcessInfo[] = [];
  const pending = [rootPid];
  while (pending.length > 0) {
    for (const child of childrenOf.get(pending.pop() as number) ?? []) {
      found.push(child);
      pending.push(child.pid);
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM each pid, then SIGKILL those still there after graceMs. */
export async function terminate(pids: number[], graceMs = 3000): Promise<void> {
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(isAlive)) await new Promise((resolve) => setTimeout(resolve, 100));
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL');
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}
