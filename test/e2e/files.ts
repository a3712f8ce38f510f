// Files of a folder tree, for the e2e checks that a secret reached none of them.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every regular file under `dir` (an unreadable folder is passed over). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile()) out.push(path);
    }
  };
  walk(dir);
  return out;
}
