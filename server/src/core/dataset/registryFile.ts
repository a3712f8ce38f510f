// A LLaMA-Factory dataset registry (dataset_info.json) read through the injected Environment: one entry
// resolved to its local file, as the trainer resolves it (trainer/modelfactory_trainer/registry.py
// `resolve_registered`), and the first records of that file for a bounded look. Used by the config linter
// (`dataset: {registry, name}`) and the registry linter (registryLint.ts).
import { dirName, joinPath } from '../hfCache';
import { readChecked, type Environment } from '../io';
import { closestMatch } from '../yaml/didYouMean';
import { REGISTRY_SOURCES, registryReading } from './registryEntry';
import type { RegistryReading } from './registryEntry';

/** How much of an entry's file is read to look at its first records. */
export const REGISTRY_SAMPLE_BYTES = 16 * 1024;

export type RegistryInfo = Record<string, unknown>;

/** The registry's entries, or why there are none to read. */
export async function readRegistry(
  env: Environment,
  path: string,
): Promise<{ info: RegistryInfo } | { problem: string; missing?: boolean }> {
  const stat = await env.fs.stat(path);
  if (!stat?.isFile)
    return { problem: stat?.isDirectory ? 'is a folder, not a file' : 'does not exist', missing: true };
  const read = await readChecked(env, path, 'modelConfig');
  if ('refused' in read)
    return { problem: read.missing ? 'cannot be read' : read.refused.replace(path, '').trim(), missing: true };
  const bytes = read.bytes;
  let info: unknown;
  try {
    info = JSON.parse(new TextDecoder().decode(bytes).replace(/^\uFEFF/, ''));
  } catch {
    return { problem: 'is not valid JSON' };
  }
  if (typeof info !== 'object' || info === null || Array.isArray(info))
    return { problem: 'is not a dataset registry (a JSON object of named entries)' };
  return { info: info as RegistryInfo };
}

export type EntryResolution =
  { ok: true; file: string; size: number; reading: RegistryReading } | { ok: false; problem: string; key?: string };

/** The file of one entry, inside the registry's folder, with how its records are read; or why not. */
export async function resolveEntry(env: Environment, registryPath: string, entry: unknown): Promise<EntryResolution> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return { ok: false, problem: 'an entry must be an object' };
  const fields = entry as Record<string, unknown>;
  const fileName = fields['file_name'];
  if (typeof fileName !== 'string' || fileName === '') {
    const hub = REGISTRY_SOURCES.find((key) => key !== 'file_name' && key in fields);
    if (hub) {
      return {
        ok: false,
        key: hub,
        problem: `is read from ${hub} (${String(fields[hub])}): this trainer reads local files only (nothing is downloaded); save the records as JSONL and give the entry a file_name`,
      };
    }
    return { ok: false, problem: 'names no file_name (the records file, relative to the registry)' };
  }
  const folder = dirName(registryPath);
  const file = joinPath(folder, fileName);
  if (!(file + '/').startsWith(joinPath(folder) + '/') || file === joinPath(folder)) {
    return { ok: false, key: 'file_name', problem: `file_name ${fileName} is outside the registry's folder` };
  }
  if (!/\.jsonl?$/i.test(file)) {
    return {
      ok: false,
      key: 'file_name',
      problem: `file_name ${fileName} is not a .jsonl or .json file: this trainer reads JSONL or JSON arrays of records`,
    };
  }
  const stat = await env.fs.stat(file);
  if (!stat?.isFile) {
    return {
      ok: false,
      key: 'file_name',
      problem: `file_name ${fileName} ${stat?.isDirectory ? 'is a folder, not a file' : 'does not exist'} (${file})`,
    };
  }
  const reading = registryReading(entry);
  if (typeof reading === 'string') return { ok: false, key: 'formatting', problem: reading };
  return { ok: true, file, size: stat.size, reading };
}

/** `name` in the registry, or the problem with a did-you-mean over its names. */
export function lookUpEntry(info: RegistryInfo, name: string): { entry: unknown } | { problem: string } {
  if (Object.prototype.hasOwnProperty.call(info, name)) return { entry: info[name] };
  const suggestion = closestMatch(name, Object.keys(info));
  return { problem: `has no entry named '${name}'.${suggestion ? ` Did you mean '${suggestion}'?` : ''}` };
}
