// Which Datanet governs a file, and the caps that apply to it. A dataset file is governed by the
// nearest `datanet.yaml` (walking up from the file) whose `files` globs match it.
import { parse as parseYaml } from 'yaml';
import { dirName, joinPath } from '../hfCache';
import type { Environment } from '../io';
import type { Finding, Severity } from '../types';
import { matchesAny } from './glob';
import { asManifest, MANIFEST_FILE_NAMES, type DatanetManifest } from './manifest';

export interface GoverningDatanet {
  manifestPath: string;
  /** The folder `files` globs are relative to. */
  dir: string;
  manifest: DatanetManifest;
}

const MAX_WALK_UP = 32;
/** Bound on the files a daily-cap scan looks at, so a huge tree cannot stall the server. */
const MAX_SCANNED_ENTRIES = 20_000;
const SKIPPED_DIRS = new Set(['node_modules', '.git', '.venv', '__pycache__']);

/**
 * Today's use of one Datanet's caps as a hub counts it (its ledger), for a manifest with `hub:`. The
 * extension fetches it and hands it to the server (`modelfactory/hubLedger`).
 */
export interface HubLedgerEntry {
  /** The hub's address, as the manifest's `hub.url` names it. */
  url: string;
  /** The Datanet's name on the hub. */
  datanet: string;
  /** The hub's day (UTC, YYYY-MM-DD) these counts are for. */
  day: string;
  bytes: number;
  files: number;
  /** Names of the files submitted today: such a file is already counted. */
  fileNames: string[];
}

const sameHub = (a: string, b: string) => a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

export class DatanetIndex {
  private hubLedger: HubLedgerEntry[] = [];

  /** Replaces what the hubs said about today's contributions. */
  setHubLedger(entries: HubLedgerEntry[]): void {
    this.hubLedger = entries;
  }

  private hubCapFindings(
    filePath: string,
    sizeBytes: number,
    datanet: GoverningDatanet,
    now: number,
    push: (rule: string, message: string) => void,
  ): void {
    hubCapFindingsOf(this.hubLedger, filePath, sizeBytes, datanet, now, push);
  }

  private readonly cache = new Map<string, { mtimeMs: number; manifest: DatanetManifest | undefined }>();

  constructor(private readonly env: Environment) {}

  /** The manifest at `path` when it parses into a manifest shape; cached by modification time. */
  async load(path: string): Promise<DatanetManifest | undefined> {
    const st = await this.env.fs.stat(path);
    if (!st?.isFile) return undefined;
    const hit = this.cache.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs) return hit.manifest;
    const bytes = await this.env.fs.readFile(path, 'yaml');
    let manifest: DatanetManifest | undefined;
    try {
      manifest = bytes ? asManifest(parseYaml(new TextDecoder().decode(bytes), { maxAliasCount: 100 })) : undefined;
    } catch {
      manifest = undefined;
    }
    this.cache.set(path, { mtimeMs: st.mtimeMs, manifest });
    return manifest;
  }

  invalidate(path?: string): void {
    if (path) this.cache.delete(path);
    else this.cache.clear();
  }

  async governing(filePath: string): Promise<GoverningDatanet | undefined> {
    let dir = dirName(filePath);
    for (let i = 0; i < MAX_WALK_UP; i++) {
      for (const name of MANIFEST_FILE_NAMES) {
        const manifestPath = joinPath(dir, name);
        const manifest = await this.load(manifestPath);
        if (manifest && matchesAny(relativeTo(dir, filePath), manifest.files)) return { manifestPath, dir, manifest };
      }
      const parent = dirName(dir);
      if (parent === dir) break;
      dir = parent;
    }
    return undefined;
  }

  /** Every file under the Datanet's folder that its globs match (bounded scan). */
  async governedFiles(datanet: GoverningDatanet): Promise<string[]> {
    const out: string[] = [];
    let budget = MAX_SCANNED_ENTRIES;
    const walk = async (dir: string): Promise<void> => {
      const entries = await this.env.fs.readDir(dir);
      for (const name of entries ?? []) {
        if (--budget < 0) return;
        if (name.startsWith('.') || SKIPPED_DIRS.has(name)) continue;
        const path = joinPath(dir, name);
        // Symbolic links are not followed (SECURITY.md, "Hostile workspace"): a link out of the Datanet or a
        // cycle of links would count files that are not contributions, or never end.
        const st = await (this.env.fs.lstat ? this.env.fs.lstat(path) : this.env.fs.stat(path));
        if (st?.isSymlink) continue;
        if (st?.isDirectory) await walk(path);
        else if (st?.isFile && matchesAny(relativeTo(datanet.dir, path), datanet.manifest.files)) out.push(path);
      }
    };
    await walk(datanet.dir);
    return out.sort();
  }

  /**
   * Findings on the contribution caps for one governed file: its type and size, and, when the file
   * was changed today, today's total against the daily caps. "Today" is the local calendar day and
   * a contribution is a governed file modified today: the editor has no notion of who submitted what,
   * so the caps are checked for the person at this keyboard.
   */
  async capFindings(
    filePath: string,
    sizeBytes: number,
    datanet: GoverningDatanet,
    severityOf: (rule: string) => Severity | undefined,
  ): Promise<Finding[]> {
    const findings: Finding[] = [];
    const at = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
    const push = (rule: string, message: string) => {
      const severity = severityOf(rule);
      if (severity) findings.push({ rule, severity, range: at, message });
    };
    const { limits, file_types } = datanet.manifest;
    const types = file_types ?? ['.jsonl'];
    const ext = filePath.slice(filePath.lastIndexOf('.')).toLowerCase();
    if (!types.includes(ext)) {
      push(
        'datanet/file-type',
        `Datanet '${datanet.manifest.name}' accepts ${types.join(', ')} files, not ${ext}. Convert the file or change file_types in ${datanet.manifestPath}.`,
      );
    }
    if (limits?.max_file_mb !== undefined && sizeBytes > limits.max_file_mb * 1e6) {
      push(
        'datanet/file-too-large',
        `This file is ${formatMb(sizeBytes)} MB; Datanet '${datanet.manifest.name}' takes at most ${limits.max_file_mb} MB per file. Split it into smaller contributions.`,
      );
    }
    if (limits?.daily_mb === undefined && limits?.daily_files === undefined) return findings;
    const now = this.env.now?.() ?? Date.now();
    if (datanet.manifest.hub) {
      this.hubCapFindings(filePath, sizeBytes, datanet, now, push);
      return findings;
    }
    const dayStart = new Date(now);
    dayStart.setHours(0, 0, 0, 0);
    let todayBytes = 0;
    let todayFiles = 0;
    let thisFileIsToday = false;
    for (const path of await this.governedFiles(datanet)) {
      const st = await (this.env.fs.lstat ? this.env.fs.lstat(path) : this.env.fs.stat(path));
      if (!st || st.mtimeMs < dayStart.getTime()) continue;
      todayFiles++;
      todayBytes += path === filePath ? sizeBytes : st.size;
      if (path === filePath) thisFileIsToday = true;
    }
    if (!thisFileIsToday) return findings;
    if (limits.daily_mb !== undefined && todayBytes > limits.daily_mb * 1e6) {
      push(
        'datanet/daily-cap',
        `Today's contributions to '${datanet.manifest.name}' add up to ${formatMb(todayBytes)} MB, over its daily cap of ${limits.daily_mb} MB. Hold some back until tomorrow.`,
      );
    }
    if (limits.daily_files !== undefined && todayFiles > limits.daily_files) {
      push(
        'datanet/daily-files',
        `${todayFiles} files were contributed to '${datanet.manifest.name}' today, over its cap of ${limits.daily_files}. Merge files or hold some back until tomorrow.`,
      );
    }
    return findings;
  }
}

/**
 * The daily caps of a Datanet linked to a hub, from the hub's ledger: what was submitted today plus this
 * file (unless a file of its name was submitted today). Without a ledger for today (no hub connection,
 * or the CLI) nothing is said: the hub enforces its caps at submit.
 */
function hubCapFindingsOf(
  ledger: HubLedgerEntry[],
  filePath: string,
  sizeBytes: number,
  datanet: GoverningDatanet,
  now: number,
  push: (rule: string, message: string) => void,
): void {
  const hub = datanet.manifest.hub!;
  const name = hub.name ?? datanet.manifest.name;
  const today = new Date(now).toISOString().slice(0, 10);
  const entry = ledger.find((e) => sameHub(e.url, hub.url) && e.datanet === name && e.day === today);
  if (!entry) return;
  const limits = datanet.manifest.limits ?? {};
  const base = filePath.slice(filePath.lastIndexOf('/') + 1);
  const counted = entry.fileNames.includes(base);
  const bytes = entry.bytes + (counted ? 0 : sizeBytes);
  const files = entry.files + (counted ? 0 : 1);
  const submitted = `you have submitted ${formatMb(entry.bytes)} MB in ${entry.files} file${entry.files === 1 ? '' : 's'} to '${name}' on ${hub.url} today (UTC)`;
  const what = counted ? 'this file is among them' : `this file would make it ${formatMb(bytes)} MB in ${files}`;
  if (limits.daily_mb !== undefined && bytes > limits.daily_mb * 1e6) {
    push(
      'datanet/daily-cap',
      `By the hub's ledger, ${submitted}; ${what}, over the daily cap of ${limits.daily_mb} MB. Hold it back until tomorrow.`,
    );
  }
  if (limits.daily_files !== undefined && files > limits.daily_files) {
    push(
      'datanet/daily-files',
      `By the hub's ledger, ${submitted}; ${what}, over the cap of ${limits.daily_files} files a day. Merge files or hold this one back until tomorrow.`,
    );
  }
}

export function relativeTo(dir: string, path: string): string {
  const prefix = dir.endsWith('/') ? dir : dir + '/';
  return path.startsWith(prefix) ? path.slice(prefix.length) : path;
}

function formatMb(bytes: number): string {
  return (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1);
}
