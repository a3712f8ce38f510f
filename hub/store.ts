// Content-addressed files beside the database: <data>/files/<aa>/<sha256>. An upload streams into
// <data>/incoming/<random> while its sha256 and size are counted (refused past the limit), and is
// moved to its address before the transaction that names it commits. A file that no row names (a
// crash between the move and the commit, a rejected cap) is an orphan: `collectOrphans` removes them.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

const SHA256 = /^[0-9a-f]{64}$/;

export class TooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the upload is larger than ${limit} bytes`);
  }
}

export interface StagedFile {
  tmpPath: string;
  sha256: string;
  bytes: number;
}

/** How much of a refused upload is read and dropped, at most, so that its sender reads the answer. */
const DRAIN_REFUSED_BYTES = 64 * 1024 * 1024;
const DRAIN_REFUSED_MS = 10_000;

/** Reads and drops the rest of `body` until it ends, errors, or passes `maxBytes` or `maxMs`. */
function drainRefused(body: Readable, maxBytes: number, maxMs: number): Promise<void> {
  if (body.readableEnded || body.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let seen = 0;
    const done = (): void => {
      clearTimeout(timer);
      body.off('data', onData).off('end', done).off('error', done).off('close', done);
      resolve();
    };
    const onData = (chunk: Buffer): void => {
      seen += chunk.length;
      if (seen > maxBytes) done();
    };
    const timer = setTimeout(done, maxMs);
    body.on('data', onData).once('end', done).once('error', done).once('close', done);
    body.resume();
  });
}

/** Writes all of `buf` at the handle's position (a write may take less than it was given). */
export async function writeAll(fh: FileHandle, buf: Uint8Array): Promise<void> {
  for (let off = 0; off < buf.length;) off += (await fh.write(buf, off)).bytesWritten;
}

export class FileStore {
  readonly filesDir: string;
  readonly incomingDir: string;

  constructor(dataDir: string) {
    this.filesDir = join(dataDir, 'files');
    this.incomingDir = join(dataDir, 'incoming');
  }

  async init(): Promise<void> {
    await mkdir(this.filesDir, { recursive: true });
    await mkdir(this.incomingDir, { recursive: true });
  }

  /** The path of a stored file; only a sha256 in hex names one, so nothing outside the store is reachable. */
  pathOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
    return join(this.filesDir, sha256.slice(0, 2), sha256);
  }

  /** Streams `body` to a staging file, at most `limit` bytes; throws TooLargeError (and removes it) past that. */
  async stage(body: Readable, limit: number): Promise<StagedFile> {
    const tmpPath = join(this.incomingDir, randomBytes(12).toString('hex'));
    const hash = createHash('sha256');
    let bytes = 0;
    // Awaited writes on a file handle rather than a write stream: a stream destroyed with a write still in
    // flight emits an 'error' nobody listens for, and that took the whole hub down on a refused upload.
    const fh = await open(tmpPath, 'wx');
    try {
      try {
        // destroyOnReturn: false: leaving the loop on a refusal must not destroy the request (see below).
        for await (const chunk of body.iterator({ destroyOnReturn: false })) {
          const buf = chunk as Buffer;
          bytes += buf.length;
          if (bytes > limit) throw new TooLargeError(limit);
          hash.update(buf);
          await writeAll(fh, buf);
        }
      } finally {
        await fh.close();
      }
    } catch (err) {
      // The rest of the body is read and dropped before the refusal is answered, not cut off: destroying a
      // request that is still arriving destroys its socket, and a client still sending gets a reset
      // connection instead of the 413. A body that goes on past the drain's bounds is cut off after all.
      await drainRefused(body, DRAIN_REFUSED_BYTES, DRAIN_REFUSED_MS);
      await rm(tmpPath, { force: true });
      throw err;
    }
    return { tmpPath, sha256: hash.digest('hex'), bytes };
  }

  /** Reads and drops what is left of a refused upload (bounded), so that its sender reads the answer. */
  async drainRefused(body: Readable): Promise<void> {
    await drainRefused(body, DRAIN_REFUSED_BYTES, DRAIN_REFUSED_MS);
  }

  /** Stages bytes already in memory (a published version). */
  async stageBytes(data: Uint8Array): Promise<StagedFile> {
    const tmpPath = join(this.incomingDir, randomBytes(12).toString('hex'));
    const fh = await open(tmpPath, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return { tmpPath, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
  }

  /** Moves a staged file to its address (fsynced first); an identical file already there is kept. */
  async commit(staged: StagedFile): Promise<string> {
    const dest = this.pathOf(staged.sha256);
    await mkdir(join(this.filesDir, staged.sha256.slice(0, 2)), { recursive: true });
    const fh = await open(staged.tmpPath, 'r+');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(staged.tmpPath, dest);
    return dest;
  }

  async discard(staged: StagedFile): Promise<void> {
    await rm(staged.tmpPath, { force: true });
  }

  read(sha256: string): Readable {
    return createReadStream(this.pathOf(sha256));
  }

  async size(sha256: string): Promise<number | undefined> {
    return (await stat(this.pathOf(sha256)).catch(() => undefined))?.size;
  }

  /**
   * Removes staging files and stored files that `referenced` does not name. Run at start, before
   * requests: with several hubs on one store, only staging files older than `graceMs` are removed.
   */
  async collectOrphans(referenced: Set<string>, graceMs = 0): Promise<{ removed: number }> {
    let removed = 0;
    const now = Date.now();
    for (const name of await readdir(this.incomingDir)) {
      const p = join(this.incomingDir, name);
      const st = await stat(p).catch(() => undefined);
      if (st && now - st.mtimeMs >= graceMs) {
        await rm(p, { force: true });
        removed++;
      }
    }
    for (const prefix of await readdir(this.filesDir)) {
      const dir = join(this.filesDir, prefix);
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (referenced.has(name)) continue;
        const st = await stat(join(dir, name)).catch(() => undefined);
        if (st && now - st.mtimeMs >= graceMs) {
          await rm(join(dir, name), { force: true });
          removed++;
        }
      }
    }
    return { removed };
  }
}
