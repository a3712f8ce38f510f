// What the CLI's commands share about files: the folders a recursive walk leaves out, the walk itself,
// and the progress line for a large file on a terminal.
import { readdir } from 'node:fs/promises';
import { resolve } from 'node:path';

/** Folders of tools and builds, never datasets or configs of ours. Hidden entries are left out too. */
const SKIPPED_DIRS = new Set(['node_modules', '.git', '.venv', '__pycache__', 'dist', 'outputs']);

/**
 * Adds to `into` every regular file under `dir` that `accept` takes. Symbolic links are not followed (a
 * link out of the tree or a cycle of links would be walked forever); a folder that cannot be read and a
 * link that `accept` would take are passed to `onSkip` with the reason, never dropped silently.
 */
export async function walkFiles(
  dir: string,
  accept: (path: string) => boolean,
  into: Set<string>,
  onSkip?: (path: string, reason: string) => void,
): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    onSkip?.(dir, `folder cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return;
  }
  for (const e of entries) {
    if (e.name.startsWith('.') || SKIPPED_DIRS.has(e.name)) continue;
    const path = resolve(dir, e.name);
    if (e.isDirectory()) await walkFiles(path, accept, into, onSkip);
    else if (e.isFile() && accept(path)) into.add(path);
    else if (!e.isFile() && accept(path)) {
      onSkip?.(
        path,
        e.isSymbolicLink()
          ? 'a symbolic link, not followed; name its target to lint it'
          : 'not a regular file (a FIFO, socket or device)',
      );
    }
  }
}

/** A progress line on stderr for a file of `size` bytes: `label  what  42%  120/300 MB  95 MB/s`. */
export function progressLine(
  enabled: boolean,
  label: string,
  size: number,
  minBytes: number,
  what = '',
): { report(done: number): void; done(): void } {
  if (!enabled || size < minBytes) return { report: () => {}, done: () => {} };
  const started = Date.now();
  let last = 0;
  return {
    report(done: number) {
      const now = Date.now();
      if (now - last < 200) return;
      last = now;
      const mbps = done / 1e6 / Math.max(0.001, (now - started) / 1000);
      const parts = [label, what, `${Math.floor((100 * done) / size)}%`];
      parts.push(`${(done / 1e6).toFixed(0)}/${(size / 1e6).toFixed(0)} MB`, `${mbps.toFixed(0)} MB/s `);
      process.stderr.write('\r' + parts.filter(Boolean).join('  '));
    },
    done() {
      process.stderr.write('\r\x1b[K');
    },
  };
}
