// media/missing-file: the files a multimodal record names (LLaMA-Factory's `images`, `videos` and
// `audios` lists) must exist. Relative paths are resolved against the dataset file's folder (LLaMA-
// Factory's default media_dir), absolute paths are taken as they are, and http(s) URLs are accepted
// without a finding: nothing downloads, so they cannot be checked, and a hint on every record of a
// URL dataset would drown the findings that matter.
//
// Per-record rules are synchronous, so the analyzer only notes each record's references (`mediaRefs`)
// and a host checks them afterwards through the injected file system (`MediaFileChecker`). A dataset
// is hostile input: a path is only ever stat()ed, never opened or listed; device trees are refused
// without a stat; only regular files count; and the number of paths and the time spent are bounded.
import type { Environment } from '../io';
import { isAbsolutePath, joinPath } from '../hfCache';
import type { Finding, Severity } from '../types';
import { makeFinding } from './context';
import type { Example } from './example';
import type { LineLocator } from './locate';

/** A file a record names, with the columns of its string on the line. */
export interface MediaRef {
  file: string;
  start: number;
  end: number;
}

/** A reference with its 0-based line in the dataset. */
export interface LineMediaRef extends MediaRef {
  line: number;
}

const MEDIA_KEYS = ['images', 'videos', 'audios'] as const;

/**
 * The files of a record the contract accepted with media (`example.media` set), in the order the
 * record lists them. Image parts of OpenAI content (`image_url`) are URLs or inline data, not files
 * of the dataset, and are not checked.
 */
export function mediaRefs(record: Record<string, unknown>, example: Example, loc: LineLocator): MediaRef[] {
  const out: MediaRef[] = [];
  if (!example.media) return out;
  for (const key of MEDIA_KEYS) {
    const list = record[key];
    if (!Array.isArray(list)) continue;
    list.forEach((file, i) => {
      if (typeof file !== 'string') return;
      const [start, end] = loc.value([key, i]);
      out.push({ file, start, end });
    });
  }
  return out;
}

/** What a reference points at: a URL (accepted as it is), a path to stat, or a path refused unseen. */
export type MediaTarget = { kind: 'url' } | { kind: 'path'; path: string } | { kind: 'refused'; why: string };

const URL_PATTERN = /^https?:\/\//i;
/** Trees of devices and kernel files: never stat()ed, whatever a dataset names. */
const DEVICE_TREES = /^(\/(dev|proc|sys)(\/|$)|\\\\[.?]\\)/;

export function mediaTarget(file: string, datasetDir: string): MediaTarget {
  if (URL_PATTERN.test(file)) return { kind: 'url' };
  if (file.trim() === '') return { kind: 'refused', why: 'the path is empty' };
  if (file.includes('\0')) return { kind: 'refused', why: 'the path holds a NUL character' };
  if (DEVICE_TREES.test(file)) return { kind: 'refused', why: 'it names a device, not a regular file' };
  const path = isAbsolutePath(file) ? joinPath(file) : joinPath(datasetDir, file);
  // `..` segments are resolved first, so a relative path cannot reach a device tree either.
  if (DEVICE_TREES.test(path)) return { kind: 'refused', why: 'it names a device, not a regular file' };
  return { kind: 'path', path };
}

export type MediaStatus = 'file' | 'missing' | 'not-file';

export interface MediaCheckLimits {
  /** Distinct paths stat()ed per run (default 10,000); the rest are left unchecked. */
  maxPaths: number;
  /** Milliseconds per run (default 10,000); paths not reached in time are left unchecked. */
  budgetMs: number;
  /** stat() calls in flight at once (default 16). */
  concurrency: number;
}

export const DEFAULT_MEDIA_LIMITS: MediaCheckLimits = { maxPaths: 10_000, budgetMs: 10_000, concurrency: 16 };

/** Existence of media files through the Environment, cached per resolved path until `clear()`. */
export class MediaFileChecker {
  private readonly cache = new Map<string, MediaStatus>();
  private readonly limits: MediaCheckLimits;

  constructor(
    private readonly env: Environment,
    limits: Partial<MediaCheckLimits> = {},
  ) {
    this.limits = { ...DEFAULT_MEDIA_LIMITS, ...limits };
  }

  /** Forgets every answer (the files may have changed: on open and save). */
  clear(): void {
    this.cache.clear();
  }

  status(path: string): MediaStatus | undefined {
    return this.cache.get(path);
  }

  /** Paths among `paths` not asked yet. */
  unknown(paths: Iterable<string>): string[] {
    const out = new Set<string>();
    for (const p of paths) if (!this.cache.has(p)) out.add(p);
    return [...out];
  }

  /**
   * stat()s the paths not asked yet, at most `maxPaths` of them and within `budgetMs`; returns how many
   * were left unchecked. Only a stat: nothing is opened, so a FIFO or a socket cannot block the check.
   */
  async check(paths: Iterable<string>): Promise<{ checked: number; unchecked: number }> {
    const todo = this.unknown(paths);
    const now = this.env.now ?? Date.now;
    const deadline = now() + this.limits.budgetMs;
    const allowed = todo.slice(0, this.limits.maxPaths);
    let next = 0;
    let checked = 0;
    const worker = async (): Promise<void> => {
      while (next < allowed.length && now() < deadline) {
        const path = allowed[next++] as string;
        const st = await this.env.fs.stat(path);
        this.cache.set(path, st === undefined ? 'missing' : st.isFile ? 'file' : 'not-file');
        checked++;
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.limits.concurrency) }, worker));
    return { checked, unchecked: todo.length - checked };
  }
}

/** The targets of references, resolved against the dataset's folder. */
export function mediaPaths(refs: Iterable<MediaRef>, datasetDir: string): string[] {
  const out: string[] = [];
  for (const ref of refs) {
    const target = mediaTarget(ref.file, datasetDir);
    if (target.kind === 'path') out.push(target.path);
  }
  return out;
}

/**
 * The media/missing-file finding of a reference, from what the checker knows; undefined when the file
 * is there, is a URL, or has not been checked (yet, or past the limits).
 */
export function mediaFinding(
  ref: LineMediaRef,
  datasetDir: string,
  checker: MediaFileChecker,
  severity: Severity,
): Finding | undefined {
  const target = mediaTarget(ref.file, datasetDir);
  if (target.kind === 'url') return undefined;
  const shown = JSON.stringify(ref.file);
  let message: string;
  if (target.kind === 'refused') {
    message = `The media file ${shown} cannot be used: ${target.why}.`;
  } else {
    const status = checker.status(target.path);
    if (status === undefined || status === 'file') return undefined;
    message =
      status === 'missing'
        ? `The media file ${shown} does not exist (looked for ${target.path}; relative paths are resolved against the dataset's folder).`
        : `The media file ${shown} is not a regular file (${target.path}).`;
  }
  const data: Record<string, unknown> = { file: ref.file };
  if (target.kind === 'path') data.resolved = target.path;
  return makeFinding('media/missing-file', severity, ref.line, ref.start, ref.end, message, data);
}

/** Checks the references (bounded) and returns their findings in line order. */
export async function checkMediaRefs(
  refs: readonly LineMediaRef[],
  datasetDir: string,
  checker: MediaFileChecker,
  severity: Severity,
): Promise<Finding[]> {
  await checker.check(mediaPaths(refs, datasetDir));
  const out: Finding[] = [];
  for (const ref of refs) {
    const f = mediaFinding(ref, datasetDir, checker, severity);
    if (f) out.push(f);
  }
  return out;
}
