// Base models a user has on this machine, for the hyperparameter panel's and the playground's pickers:
// Hugging Face cache entries with a downloaded snapshot (as hub ids) and model folders in the workspace
// (config.json beside *.safetensors). Pure Node, read-only, bounded.
import { readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { hubCacheDir } from '../../server/src/core/hfCache';
import { nodeEnvironment } from '../../server/src/nodeFs';

const MAX_MODELS = 200;

/** `models--Qwen--Qwen2.5-0.5B` with at least one snapshot -> `Qwen/Qwen2.5-0.5B`. */
export async function cachedHubModels(hubDir = hubCacheDir(nodeEnvironment())): Promise<string[]> {
  const entries = await readdir(hubDir, { withFileTypes: true }).catch(() => []);
  const ids: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || !e.name.startsWith('models--')) continue;
    const snapshots = await readdir(path.join(hubDir, e.name, 'snapshots')).catch(() => []);
    if (snapshots.length === 0) continue;
    ids.push(e.name.slice('models--'.length).split('--').join('/'));
    if (ids.length >= MAX_MODELS) break;
  }
  return ids.sort();
}

/** Folders under `root` (to `depth` levels, skipping dot folders and node_modules) that hold a model. */
export async function modelFolders(root: string, depth = 3): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, left: number): Promise<void> => {
    if (found.length >= MAX_MODELS) return;
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    const names = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    if (names.has('config.json') && [...names].some((n) => n.endsWith('.safetensors'))) found.push(dir);
    if (left === 0) return;
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules')
        await walk(path.join(dir, e.name), left - 1);
    }
  };
  await walk(root, depth);
  return found.sort();
}
