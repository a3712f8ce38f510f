// Past runs of a workspace, for the dashboard's comparison: one folder per job,
// `<workspace>/.modelfactory/runs/<target>-<jobId>/` with `run.json` (the JobView without its logs,
// written atomically) and `adapter/` (the downloaded adapter).
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { readBoundedText } from '../../../server/src/boundedRead';
import type { JobView } from './api';
import { JOB_STATES as STATES } from './protocol.generated';

export type RunRecord = Omit<JobView, 'logs'> & { savedAt: number };

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const JOB_STATES = new Set<string>(STATES);

export function runsFolder(workspace: string): string {
  return join(workspace, '.modelfactory', 'runs');
}

/** A target name as a folder-name part: endpoint names are the user's free text. */
function targetPart(target: string): string {
  return target.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 64) || '_';
}

/** The run's folder; throws for a job id that could leave `runs/` (ids come from a server). */
export function runFolder(workspace: string, target: string, jobId: string): string {
  if (!JOB_ID.test(jobId)) throw new Error(`not a job id: ${JSON.stringify(jobId.slice(0, 80))}`);
  return join(runsFolder(workspace), `${targetPart(target)}-${jobId}`);
}

export function adapterFolder(workspace: string, target: string, jobId: string): string {
  return join(runFolder(workspace, target, jobId), 'adapter');
}

/** Where a remote evaluation job's results are downloaded: the run folder's eval/. */
export function evaluationFolder(workspace: string, target: string, jobId: string): string {
  return join(runFolder(workspace, target, jobId), 'eval');
}

/** Writes run.json for the job (temp file, fsync, rename): a reader never sees half a file. */
export async function saveRun(workspace: string, view: JobView, now = Date.now()): Promise<string> {
  const folder = runFolder(workspace, view.target, view.jobId);
  await mkdir(folder, { recursive: true });
  const record: Partial<JobView> & RunRecord = { ...view, savedAt: now };
  delete record.logs;
  const path = join(folder, 'run.json');
  const temp = join(folder, `.run.json.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(JSON.stringify(record) + '\n');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  return path;
}

/** A run.json is workspace content: only a well-formed record is listed. */
function asRunRecord(value: unknown): RunRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const wellFormed =
    typeof record.target === 'string' &&
    typeof record.jobId === 'string' &&
    JOB_ID.test(record.jobId) &&
    typeof record.name === 'string' &&
    typeof record.state === 'string' &&
    JOB_STATES.has(record.state) &&
    typeof record.created === 'number' &&
    typeof record.savedAt === 'number' &&
    Array.isArray(record.points);
  return wellFormed ? (value as RunRecord) : undefined;
}

/** Every run recorded in the workspace, newest first. */
export async function listRuns(workspace: string): Promise<RunRecord[]> {
  const folder = runsFolder(workspace);
  const names = await readdir(folder).catch(() => [] as string[]);
  const runs: RunRecord[] = [];
  for (const name of names) {
    try {
      // run.json is workspace content: read through the bounded reader (regular file, capped).
      const record = asRunRecord(JSON.parse(await readBoundedText(join(folder, name, 'run.json'), 'modelConfig')));
      if (record !== undefined) runs.push(record);
    } catch {
      // not a run folder, or a run.json someone broke: skipped
    }
  }
  return runs.sort((a, b) => b.created - a.created || b.savedAt - a.savedAt);
}

/**
 * Saves runs as their jobs progress without writing on every event: at most once per interval per
 * job, and always when a job ends.
 */
export class RunRecorder {
  private readonly lastWrite = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly workspace: string,
    private readonly intervalMs = 2_000,
    private readonly onError: (error: Error) => void = () => undefined,
  ) {}

  record(view: JobView): void {
    const key = `${view.target}\0${view.jobId}`;
    const finished = view.state === 'done' || view.state === 'failed' || view.state === 'cancelled';
    const wait = finished ? 0 : Math.max(0, (this.lastWrite.get(key) ?? 0) + this.intervalMs - Date.now());
    if (this.timers.has(key) && !finished) return;
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        this.lastWrite.set(key, Date.now());
        saveRun(this.workspace, view).catch((error: Error) => this.onError(error));
      }, wait),
    );
  }

  dispose(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
