// The one place the language server, the CLI and the extension read workspace content from disk
// (SECURITY.md, "Hostile workspace"). Every read:
//   - opens without blocking (O_NONBLOCK), so a FIFO cannot tie up a libuv thread, and then checks the
//     opened descriptor (fstat): only regular files are read; devices (/dev/zero), FIFOs, sockets and
//     folders are refused;
//   - is capped by the kind of content (READ_CAPS), read up to the cap plus one byte, so a file that grows
//     or lies about its size (/proc) is refused too;
//   - when asked (`within`), resolves symbolic links and refuses a file that lands outside a folder;
//   - gives up after a timeout.
// A refusal says why and names the cap; nothing of the refused file's content is ever quoted.
import { constants, type ReadStream } from 'node:fs';
import { lstat, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { sep } from 'node:path';
import { formatCap, READ_CAPS, type FileStat, type ReadKind, type ReadOutcome } from './core/io';

/** How long one read may take before it is given up. */
export const READ_TIMEOUT_MS = 10_000;

let caps: Record<ReadKind, number> | undefined;

/**
 * The caps in force: READ_CAPS, each lowered (never raised) by MODELFACTORY_READ_CAPS, a JSON object of
 * kind -> bytes that the tests use to exercise a cap with a small file.
 */
export function readCaps(): Readonly<Record<ReadKind, number>> {
  if (caps) return caps;
  const merged: Record<ReadKind, number> = { ...READ_CAPS };
  const raw = process.env['MODELFACTORY_READ_CAPS'];
  if (raw) {
    try {
      for (const [kind, value] of Object.entries(JSON.parse(raw) as Record<string, unknown>)) {
        if (kind in merged && typeof value === 'number' && value >= 0)
          merged[kind as ReadKind] = Math.min(value, merged[kind as ReadKind]);
      }
    } catch {
      // A malformed override changes nothing.
    }
  }
  caps = merged;
  return caps;
}

export class ReadRefused extends Error {
  constructor(
    message: string,
    readonly missing = false,
  ) {
    super(message);
  }
}

function describeNonRegular(s: { isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean }): string {
  if (s.isDirectory()) return 'a folder';
  if (s.isFIFO()) return 'a FIFO (named pipe)';
  if (s.isSocket()) return 'a socket';
  return 'a device or other special file';
}

function errnoMessage(path: string, err: unknown): ReadRefused {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ReadRefused(`${path} does not exist`, true);
  if (code === 'EACCES' || code === 'EPERM') return new ReadRefused(`${path} cannot be read (permission denied)`);
  if (code === 'ELOOP') return new ReadRefused(`${path} is a loop of symbolic links`);
  if (code === 'EISDIR') return new ReadRefused(`${path} is a folder, not a file`);
  return new ReadRefused(`${path} cannot be read (${code ?? (err as Error)?.message ?? 'unknown error'})`);
}

/** True when `path` is `dir` or inside it (both already resolved). */
function inside(dir: string, path: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/** Refuses `path` when its real location (symbolic links resolved) is outside `within`. */
async function confine(path: string, within: string): Promise<void> {
  let real: string;
  try {
    real = await realpath(path);
  } catch (err) {
    throw errnoMessage(path, err);
  }
  const root = await realpath(within).catch(() => within);
  if (!inside(root, real)) {
    throw new ReadRefused(`${path} resolves outside ${within}; only files inside it are read`);
  }
}

/**
 * Opens `path` for reading if it is a regular file. The open cannot block (O_NONBLOCK: a FIFO opens at
 * once and is then refused by fstat); the descriptor is checked, not the name, so a swap between check
 * and open changes nothing.
 */
export async function openRegularFile(path: string, within?: string): Promise<{ handle: FileHandle; size: number }> {
  if (within !== undefined) await confine(path, within);
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw errnoMessage(path, err);
  }
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new ReadRefused(`${path} is ${describeNonRegular(s)}, not a regular file; it is not read`);
    return { handle, size: s.size };
  } catch (err) {
    await handle.close().catch(() => {});
    throw err instanceof ReadRefused ? err : errnoMessage(path, err);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ReadRefused(`${what} took longer than ${ms / 1000} s; it is not read`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Reads at most `cap` bytes of a regular file; a larger file is refused with a message naming the cap. */
async function readCapped(path: string, kind: ReadKind, cap: number, within?: string): Promise<Uint8Array> {
  const { handle, size } = await openRegularFile(path, within);
  try {
    const tooLarge = () =>
      new ReadRefused(`${path} is larger than the ${formatCap(cap)} cap for ${KIND_LABELS[kind]}; it is not read`);
    if (size > cap) throw tooLarge();
    // Read to the cap plus one byte whatever the size says: /proc files report 0, a file may grow.
    const buffer = Buffer.allocUnsafe(Math.min(cap + 1, Math.max(size + 1, 64 * 1024)));
    let filled = 0;
    let chunk = buffer;
    for (;;) {
      if (filled === chunk.length) {
        if (filled > cap) throw tooLarge();
        const grown = Buffer.allocUnsafe(Math.min(cap + 1, chunk.length * 2));
        chunk.copy(grown, 0, 0, filled);
        chunk = grown;
      }
      const { bytesRead } = await handle.read(chunk, filled, chunk.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled > cap) throw tooLarge();
    }
    return chunk.subarray(0, filled);
  } finally {
    await handle.close().catch(() => {});
  }
}

const KIND_LABELS: Record<ReadKind, string> = {
  schema: 'a JSON Schema',
  modelConfig: "a model's JSON files",
  tokenizer: 'a tokenizer',
  template: 'a chat template',
  yaml: 'a YAML file',
  jsonDataset: 'a .json dataset held in memory',
  safetensorsHeader: 'a safetensors header',
  line: 'one line of a dataset',
  text: 'a file read whole',
};

/** A bounded read of workspace content (see the top of this file). Never throws. */
export async function readBounded(path: string, kind: ReadKind, within?: string): Promise<ReadOutcome> {
  const cap = readCaps()[kind];
  try {
    return { bytes: await withTimeout(readCapped(path, kind, cap, within), READ_TIMEOUT_MS, `Reading ${path}`) };
  } catch (err) {
    if (err instanceof ReadRefused) return { refused: err.message, ...(err.missing ? { missing: true } : {}) };
    return { refused: errnoMessage(path, err).message };
  }
}

/** readBounded that throws ReadRefused, for the CLI's own files. */
export async function readBoundedText(path: string, kind: ReadKind): Promise<string> {
  const outcome = await readBounded(path, kind);
  if ('refused' in outcome) throw new ReadRefused(outcome.refused, outcome.missing);
  return new TextDecoder().decode(outcome.bytes);
}

/** Bytes [start, end) of a regular file, at most the safetensors-header cap of them. */
export async function readRangeBounded(path: string, start: number, end: number): Promise<Uint8Array | undefined> {
  const length = Math.max(0, Math.min(end - start, readCaps().safetensorsHeader + 8));
  const work = async () => {
    const { handle } = await openRegularFile(path);
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close().catch(() => {});
    }
  };
  try {
    return await withTimeout(work(), READ_TIMEOUT_MS, `Reading ${path}`);
  } catch {
    return undefined;
  }
}

/**
 * A read stream over a regular file (a JSONL dataset of any size), opened without blocking. Throws
 * ReadRefused for anything else.
 */
export async function openBoundedStream(path: string): Promise<{ stream: ReadStream; size: number }> {
  const { handle, size } = await openRegularFile(path);
  return { stream: handle.createReadStream({ highWaterMark: 1 << 20 }), size };
}

function toFileStat(s: Awaited<ReturnType<typeof stat>>, link = false): FileStat {
  return {
    size: Number(s.size),
    mtimeMs: Number(s.mtimeMs),
    isFile: s.isFile(),
    isDirectory: s.isDirectory(),
    ...(link ? { isSymlink: s.isSymbolicLink() } : {}),
  };
}

export async function statPath(path: string): Promise<FileStat | undefined> {
  try {
    return toFileStat(await stat(path));
  } catch {
    return undefined;
  }
}

export async function lstatPath(path: string): Promise<FileStat | undefined> {
  try {
    return toFileStat(await lstat(path), true);
  } catch {
    return undefined;
  }
}
