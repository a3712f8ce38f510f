// The "Hardest Records" view's data: every record the workspace's runs scored (record-loss.jsonl, written by
// the trainer at the end of a run), newest run per dataset file, kept only where the line's text is still the
// one the run scored (its sha256 matches), sorted by loss or by how much harder it is than under the base model.
// Bounded like recordLoss.ts: few folders deep, few entries per folder, few files, size caps.
import { readChecked, type Environment } from '../io';
import {
  lineSha256,
  lossVerdict,
  RECORD_LOSS_FILE,
  RECORD_LOSS_LIMITS,
  recordLossRows,
  type RecordLossRow,
} from './recordLoss';

export const HARDEST_LIMITS = {
  /** Folders below a root searched for record-loss.jsonl. */
  depth: 5,
  /** Folders visited per search. */
  dirs: 2000,
  /** Records answered at most. */
  records: 5000,
} as const;
const SKIP_DIRS = new Set(['node_modules', '.git', '.venv', '__pycache__', 'dist', 'checkpoints', 'adapter']);

export type HardestSort = 'loss' | 'delta';

export interface HardestRecord {
  /** The dataset file (absolute) and the record's 1-based line. */
  file: string;
  line: number;
  loss: number;
  baseLoss: number | null;
  /** loss − base_loss, or null without a base loss. */
  delta: number | null;
  /** The run's name (its output folder) and its record-loss file. */
  run: string;
  runPath: string;
  verdict: string;
}

export interface HardestRecordsResult {
  records: HardestRecord[];
  /** Record-loss files read, rows they held for files that exist, rows whose line changed since the run. */
  runs: number;
  scored: number;
  changed: number;
  truncated: boolean;
}

function join(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

function parentName(path: string): string {
  const dir = path.slice(0, path.lastIndexOf('/'));
  return dir.slice(dir.lastIndexOf('/') + 1) || path;
}

/** The record-loss files under `roots` (breadth first, bounded). */
export async function findRecordLossFiles(env: Environment, roots: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  let visited = 0;
  let level: string[] = [...roots];
  for (let depth = 0; depth <= HARDEST_LIMITS.depth && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      if (visited++ >= HARDEST_LIMITS.dirs || found.length >= RECORD_LOSS_LIMITS.files) return found;
      const names = (await env.fs.readDir(dir))?.slice(0, RECORD_LOSS_LIMITS.entriesPerDir) ?? [];
      for (const name of names.sort()) {
        if (SKIP_DIRS.has(name) || (name.startsWith('.') && name !== '.modelfactory')) continue;
        const path = join(dir, name);
        const stat = await env.fs.stat(path);
        if (stat?.isDirectory) next.push(path);
        else if (name === RECORD_LOSS_FILE && stat?.isFile && found.length < RECORD_LOSS_LIMITS.files) found.push(path);
      }
    }
    level = next;
  }
  return found;
}

/** Rows of one record-loss file, by dataset file; malformed lines are skipped. */
function parseByFile(text: string): Map<string, RecordLossRow[]> {
  const byFile = new Map<string, RecordLossRow[]>();
  for (const { file, ...row } of recordLossRows(text)) {
    const rows = byFile.get(file) ?? [];
    rows.push(row);
    byFile.set(file, rows);
  }
  return byFile;
}

/**
 * The workspace's scored records whose lines are unchanged. `openLines` gives an open document's current
 * lines (the editor's text wins over the disk's); other dataset files are read bounded.
 */
export async function hardestRecords(
  env: Environment,
  roots: readonly string[],
  openLines: (path: string) => readonly string[] | undefined,
  sort: HardestSort = 'loss',
  limit: number = HARDEST_LIMITS.records,
): Promise<HardestRecordsResult> {
  // The newest run per dataset file.
  const newest = new Map<string, { runPath: string; mtimeMs: number; rows: RecordLossRow[] }>();
  let runs = 0;
  for (const path of await findRecordLossFiles(env, roots)) {
    const stat = await env.fs.stat(path);
    if (!stat?.isFile || stat.size > RECORD_LOSS_LIMITS.fileBytes) continue;
    const bytes = await env.fs.readFile(path);
    if (!bytes) continue;
    runs++;
    for (const [file, rows] of parseByFile(new TextDecoder().decode(bytes))) {
      const seen = newest.get(file);
      if (!seen || stat.mtimeMs > seen.mtimeMs) newest.set(file, { runPath: path, mtimeMs: stat.mtimeMs, rows });
    }
  }
  const records: HardestRecord[] = [];
  let scored = 0;
  let changed = 0;
  for (const [file, { runPath, rows }] of newest) {
    let lines = openLines(file);
    if (!lines) {
      const read = await readChecked(env, file, 'jsonDataset');
      if ('refused' in read) continue;
      lines = new TextDecoder().decode(read.bytes).split('\n');
    }
    for (const row of rows) {
      scored++;
      const text = lines[row.line - 1];
      if (text === undefined || (await lineSha256(text)) !== row.sha256) {
        changed++;
        continue;
      }
      records.push({
        file,
        line: row.line,
        loss: row.loss,
        baseLoss: row.baseLoss,
        delta: row.baseLoss === null ? null : row.loss - row.baseLoss,
        run: parentName(runPath),
        runPath,
        verdict: lossVerdict(row.loss),
      });
    }
  }
  const byKey = (r: HardestRecord) => (sort === 'delta' ? (r.delta ?? -Infinity) : r.loss);
  records.sort((a, b) => byKey(b) - byKey(a) || a.file.localeCompare(b.file) || a.line - b.line);
  const kept = Math.max(0, Math.min(limit, HARDEST_LIMITS.records));
  return { records: records.slice(0, kept), runs, scored, changed, truncated: records.length > kept };
}
