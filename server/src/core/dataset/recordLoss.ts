// Each record's loss from the workspace's runs, back on the dataset line it came from.
//
// At the end of a run the trainer writes `record-loss.jsonl` beside the adapter (trainer/modelfactory_trainer/
// record_loss.py): one line per training record, {"file", "line", "sha256" (of the line as written), "loss",
// "base_loss"}. This module finds those files near a dataset (bounded: few folders, few entries, size caps),
// keeps the rows of the newest run that lists the dataset, and answers two questions: the hover of one line
// ("loss 0.02 under run X: learned") and the hardest 1% of the records as information diagnostics
// (`dataset/hard-record`). A line whose text changed since the run (its sha256 differs) shows nothing.
import type { Environment } from '../io';
import type { Finding, Severity } from '../types';

export const RECORD_LOSS_FILE = 'record-loss.jsonl';
export const HARD_RECORD_RULE = 'dataset/hard-record';
/** The hardest share of a run's records that is marked. */
export const HARDEST_SHARE = 0.01;
/** Limits of the search for runs, so that a large workspace costs little. */
export const RECORD_LOSS_LIMITS = {
  /** Folders above the dataset searched (the dataset's own folder is the first). */
  ancestors: 4,
  /** Entries of one folder looked at. */
  entriesPerDir: 200,
  /** A record-loss file larger than this is skipped. */
  fileBytes: 32 * 1024 * 1024,
  /** Files read per search. */
  files: 32,
  /** How long a search's answer is reused. */
  cacheMs: 10_000,
  /**
   * File-system calls (listings and stats) of one search, nearest folders first. A dataset's diagnostics
   * wait for it, and a crowded ancestor (a home folder, /tmp) can otherwise ask for 160,000 stats.
   */
  calls: 2_000,
} as const;
const SKIP_DIRS = new Set(['node_modules', '.git', '.venv', '__pycache__', 'dist']);

export interface RecordLossRow {
  line: number;
  sha256: string;
  loss: number;
  baseLoss: number | null;
}

export interface RecordLossRun {
  /** The record-loss file. */
  path: string;
  /** The run's name in words: its folder's name. */
  name: string;
  mtimeMs: number;
  /** This dataset's rows, by 1-based line. */
  rows: Map<number, RecordLossRow>;
  /** The lines of the hardest records (by loss), at most max(1, ceil(1% of rows)). */
  hardest: number[];
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function join(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** The run's name: the output folder holding the file (`outputs/run-1`, `.modelfactory/runs/local-abc`). */
function runName(path: string): string {
  return baseName(dirOf(path)) || path;
}

/** sha256 of a line as the trainer hashes it: UTF-8, without its line break or a leading BOM. */
export async function lineSha256(text: string): Promise<string> {
  const clean = text.replace(/\r$/, '').replace(/^\uFEFF/, '');
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(clean));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The well-formed rows of one record-loss file, each with the dataset file it names; malformed lines are skipped. */
export function* recordLossRows(text: string): Generator<RecordLossRow & { file: string }> {
  for (const raw of text.split('\n')) {
    if (!raw.trim()) continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    const { file, line, sha256, loss, base_loss: base } = value as Record<string, unknown>;
    if (typeof file !== 'string' || typeof line !== 'number' || !Number.isInteger(line) || line < 1) continue;
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) continue;
    if (typeof loss !== 'number' || !Number.isFinite(loss)) continue;
    yield { file, line, sha256, loss, baseLoss: typeof base === 'number' && Number.isFinite(base) ? base : null };
  }
}

/** This dataset's rows of one record-loss file (other files' rows and malformed lines are ignored). */
export function parseRecordLoss(text: string, datasetPath: string): Map<number, RecordLossRow> {
  const rows = new Map<number, RecordLossRow>();
  for (const { file, ...row } of recordLossRows(text)) if (file === datasetPath) rows.set(row.line, row);
  return rows;
}

export function hardestLines(rows: Map<number, RecordLossRow>, share = HARDEST_SHARE): number[] {
  const count = Math.max(1, Math.ceil(rows.size * share));
  return [...rows.values()]
    .sort((a, b) => b.loss - a.loss || a.line - b.line)
    .slice(0, count)
    .map((r) => r.line);
}

/** Finds the record-loss files near datasets and keeps the newest run per dataset, bounded and cached. */
export class RecordLossIndex {
  private readonly cache = new Map<string, { at: number; run: RecordLossRun | undefined }>();

  constructor(private readonly env: Environment) {}

  private now(): number {
    return this.env.now ? this.env.now() : Date.now();
  }

  /** Candidate files: in each of the dataset's folder and its ancestors, `record-loss.jsonl` directly, one
   * and two folders down (`out/`, `outputs/run-1/`), and in `.modelfactory/runs/<run>/`. */
  private async candidates(datasetPath: string): Promise<string[]> {
    const { fs } = this.env;
    const found = new Set<string>();
    let calls = RECORD_LOSS_LIMITS.calls;
    const statOf = (path: string) => (calls-- > 0 ? fs.stat(path) : Promise.resolve(undefined));
    const listDirs = async (dir: string): Promise<string[]> => {
      if (calls-- <= 0) return [];
      const names = (await fs.readDir(dir))?.slice(0, RECORD_LOSS_LIMITS.entriesPerDir) ?? [];
      const dirs: string[] = [];
      for (const name of names) {
        if (SKIP_DIRS.has(name) || (name.startsWith('.') && name !== '.modelfactory')) continue;
        if (calls <= 0) break;
        const stat = await statOf(join(dir, name));
        if (stat?.isDirectory) dirs.push(join(dir, name));
        else if (name === RECORD_LOSS_FILE && stat?.isFile) found.add(join(dir, name));
      }
      return dirs;
    };
    let dir = dirOf(datasetPath);
    for (let level = 0; level < RECORD_LOSS_LIMITS.ancestors && found.size < RECORD_LOSS_LIMITS.files; level++) {
      for (const child of await listDirs(dir)) {
        if (baseName(child) === '.modelfactory') {
          for (const run of await listDirs(join(child, 'runs'))) await listDirs(run);
        } else {
          for (const grandchild of await listDirs(child)) {
            if (found.size >= RECORD_LOSS_LIMITS.files || calls <= 0) break;
            const stat = await statOf(join(grandchild, RECORD_LOSS_FILE));
            if (stat?.isFile) found.add(join(grandchild, RECORD_LOSS_FILE));
          }
        }
      }
      const parent = dirOf(dir);
      if (parent === dir || calls <= 0) break;
      dir = parent;
    }
    return [...found].slice(0, RECORD_LOSS_LIMITS.files);
  }

  /** The newest run that scored this dataset, or undefined. */
  async runFor(datasetPath: string): Promise<RecordLossRun | undefined> {
    const cached = this.cache.get(datasetPath);
    if (cached && this.now() - cached.at < RECORD_LOSS_LIMITS.cacheMs) return cached.run;
    let best: RecordLossRun | undefined;
    for (const path of await this.candidates(datasetPath)) {
      const stat = await this.env.fs.stat(path);
      if (!stat?.isFile || stat.size > RECORD_LOSS_LIMITS.fileBytes) continue;
      if (best && stat.mtimeMs <= best.mtimeMs) continue;
      const bytes = await this.env.fs.readFile(path);
      if (!bytes) continue;
      const rows = parseRecordLoss(new TextDecoder().decode(bytes), datasetPath);
      if (rows.size === 0) continue;
      best = { path, name: runName(path), mtimeMs: stat.mtimeMs, rows, hardest: hardestLines(rows) };
    }
    this.cache.set(datasetPath, { at: this.now(), run: best });
    return best;
  }

  forget(): void {
    this.cache.clear();
  }
}

/** How well a loss says the record was learned, in words. */
export function lossVerdict(loss: number): string {
  if (loss < 0.5) return 'learned';
  if (loss < 1.5) return 'partly learned';
  return 'not learned — check this answer';
}

/** The hover line of a record (0-based `line`, its current `text`), or undefined (no run, or the line changed). */
export async function recordLossHover(
  run: RecordLossRun | undefined,
  line: number,
  text: string,
): Promise<string | undefined> {
  const row = run?.rows.get(line + 1);
  if (!run || !row || row.sha256 !== (await lineSha256(text))) return undefined;
  const base = row.baseLoss !== null ? ` (base model ${row.baseLoss.toFixed(2)})` : '';
  const rank = run.hardest.includes(row.line)
    ? `; among the hardest ${HARDEST_SHARE * 100}% of ${run.rows.size} records`
    : '';
  return `**Loss** ${row.loss.toFixed(2)} under run ${run.name}${base}: ${lossVerdict(row.loss)}${rank}`;
}

/** Information findings on the hardest records whose lines are unchanged since the run. */
export async function hardRecordFindings(
  run: RecordLossRun | undefined,
  lineText: (line: number) => string | undefined,
  severity: Severity | undefined,
): Promise<Finding[]> {
  if (!run || !severity) return [];
  const findings: Finding[] = [];
  for (const line of run.hardest) {
    const text = lineText(line - 1);
    const row = run.rows.get(line)!;
    if (text === undefined || row.sha256 !== (await lineSha256(text))) continue;
    const base = row.baseLoss !== null ? `, base model ${row.baseLoss.toFixed(2)}` : '';
    findings.push({
      rule: HARD_RECORD_RULE,
      severity,
      range: { start: { line: line - 1, character: 0 }, end: { line: line - 1, character: text.length } },
      message: `One of the hardest ${HARDEST_SHARE * 100}% of records after run ${run.name}: loss ${row.loss.toFixed(2)}${base}. The model did not learn this answer; read it first: it may be wrong or mislabelled.`,
      data: { loss: row.loss, baseLoss: row.baseLoss, run: run.path },
    });
  }
  return findings;
}
