// Writes a downloaded adapter into a folder so that the folder only ever holds complete, verified
// files: each file goes to a temp file in the same folder, is checked for size and sha256 and
// fsynced; only after the server's adapter_end (whose digests must agree) are they renamed into place.
// A cut, a flipped byte or a hostile name leaves the target folder as it was.
import { createHash, randomBytes } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** A bare file name: no folder, no leading dot, nothing a path could be built from. */
const SAFE_FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

export interface DownloadedFile {
  name: string;
  path: string;
  size: number;
  sha256: string;
}

export interface AdapterFileAnnouncement {
  name: string;
  size: number;
  sha256: string;
}

interface StagedFile extends AdapterFileAnnouncement {
  tempPath: string;
  handle: FileHandle | undefined;
  received: number;
  hash: Hash;
}

export class AdapterDownloadError extends Error {}

export class AdapterDownload {
  private readonly staged: StagedFile[] = [];
  private current: StagedFile | undefined;

  constructor(private readonly destDir: string) {}

  async beginFile(file: AdapterFileAnnouncement): Promise<void> {
    await this.finishCurrent();
    if (!SAFE_FILE_NAME.test(file.name) || file.name.includes('..')) {
      throw new AdapterDownloadError(`the server named an adapter file ${JSON.stringify(file.name.slice(0, 80))}`);
    }
    if (this.staged.some((staged) => staged.name === file.name)) {
      throw new AdapterDownloadError(`the server sent ${file.name} twice`);
    }
    await mkdir(this.destDir, { recursive: true });
    const tempPath = join(this.destDir, `.${file.name}.part-${randomBytes(6).toString('hex')}`);
    const staged: StagedFile = { ...file, tempPath, handle: undefined, received: 0, hash: createHash('sha256') };
    this.staged.push(staged);
    staged.handle = await open(tempPath, 'wx', 0o644);
    this.current = staged;
  }

  /** Appends bytes at `offset`, which must be the bytes received so far. Returns that count. */
  async write(name: string, offset: number, data: Buffer): Promise<number> {
    const file = this.current;
    if (file === undefined || file.handle === undefined || file.name !== name) {
      throw new AdapterDownloadError(`bytes of ${name.slice(0, 80)} arrived without its announcement`);
    }
    if (offset !== file.received) {
      throw new AdapterDownloadError(`bytes of ${name} at offset ${offset}, expected ${file.received}`);
    }
    if (file.received + data.length > file.size) {
      throw new AdapterDownloadError(`${name} is longer than the ${file.size} bytes announced`);
    }
    await file.handle.write(data, 0, data.length);
    file.hash.update(data);
    file.received += data.length;
    return file.received;
  }

  /** Verifies every file against its announcement and the server's final digests, then moves them in. */
  async commit(finalDigests: Record<string, string>): Promise<DownloadedFile[]> {
    await this.finishCurrent();
    const names = Object.keys(finalDigests).sort();
    const announced = this.staged.map((file) => file.name).sort();
    if (names.join('\n') !== announced.join('\n')) {
      throw new AdapterDownloadError('the final list of adapter files differs from the files sent');
    }
    for (const file of this.staged) {
      if (finalDigests[file.name] !== file.sha256) {
        throw new AdapterDownloadError(`the final sha256 of ${file.name} differs from its announcement`);
      }
    }
    const files: DownloadedFile[] = [];
    for (const file of this.staged) {
      const path = join(this.destDir, file.name);
      await rename(file.tempPath, path);
      files.push({ name: file.name, path, size: file.size, sha256: file.sha256 });
    }
    this.staged.length = 0;
    await syncFolder(this.destDir);
    return files;
  }

  /** Removes every temp file; the target folder keeps what it had. */
  async abort(): Promise<void> {
    this.current = undefined;
    for (const file of this.staged) {
      await file.handle?.close().catch(() => undefined);
      file.handle = undefined;
      await unlink(file.tempPath).catch(() => undefined);
    }
    this.staged.length = 0;
  }

  private async finishCurrent(): Promise<void> {
    const file = this.current;
    if (file === undefined || file.handle === undefined) return;
    this.current = undefined;
    const handle = file.handle;
    if (file.received !== file.size) {
      throw new AdapterDownloadError(`${file.name} was cut short: ${file.received} of ${file.size} bytes`);
    }
    const digest = file.hash.digest('hex');
    if (digest !== file.sha256) {
      throw new AdapterDownloadError(`${file.name} does not match its sha256 (corrupted in transit)`);
    }
    await handle.sync();
    await handle.close();
    file.handle = undefined;
  }
}

async function syncFolder(folder: string): Promise<void> {
  // A rename is durable once its folder is synced; some platforms cannot open folders, which is fine.
  const handle = await open(folder, 'r').catch(() => undefined);
  if (handle === undefined) return;
  await handle.sync().catch(() => undefined);
  await handle.close();
}
