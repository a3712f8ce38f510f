// Offline resolution of Hugging Face model ids against the local hub cache
// (`~/.cache/huggingface/hub/models--ORG--NAME/snapshots/REV/`). Nothing is downloaded, ever.
import type { Environment } from './io';

export function hubCacheDir(env: Environment): string {
  return env.huggingFaceHubCache ?? joinPath(env.homeDir, '.cache', 'huggingface', 'hub');
}

/** True when `id` looks like a Hugging Face repo id (`org/name` or a bare legacy name like `gpt2`). */
export function looksLikeHubId(id: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(id) && !id.startsWith('.') && !id.includes('..');
}

/**
 * The snapshot folder of `id` in the local cache: the revision `refs/main` points at, else the
 * newest snapshot present. Undefined when the model is not cached.
 */
export async function resolveCachedSnapshot(id: string, env: Environment): Promise<string | undefined> {
  if (!looksLikeHubId(id)) return undefined;
  const repoDir = joinPath(hubCacheDir(env), 'models--' + id.replace(/\//g, '--'));
  const snapshots = joinPath(repoDir, 'snapshots');
  const ref = await env.fs.readFile(joinPath(repoDir, 'refs', 'main'));
  if (ref) {
    const rev = new TextDecoder().decode(ref).trim();
    const dir = joinPath(snapshots, rev);
    if (/^[0-9a-f]{6,64}$/i.test(rev) && (await env.fs.stat(dir))?.isDirectory) return dir;
  }
  const revs = await env.fs.readDir(snapshots);
  if (!revs || revs.length === 0) return undefined;
  let best: { dir: string; mtime: number } | undefined;
  for (const rev of revs) {
    const dir = joinPath(snapshots, rev);
    const st = await env.fs.stat(dir);
    if (st?.isDirectory && (!best || st.mtimeMs > best.mtime)) best = { dir, mtime: st.mtimeMs };
  }
  return best?.dir;
}

/**
 * Where a `base_model` value lives on disk: a directory path (absolute, or relative to `baseDir`)
 * or a cached hub snapshot. Undefined when neither exists.
 */
export async function resolveModelDir(model: string, baseDir: string, env: Environment): Promise<string | undefined> {
  if (model.startsWith('builtin:')) return undefined;
  const candidate = isAbsolutePath(model) ? model : joinPath(baseDir, model);
  if (model.startsWith('/') || model.startsWith('.') || model.startsWith('~') || !looksLikeHubId(model)) {
    const expanded = model.startsWith('~/') ? joinPath(env.homeDir, model.slice(2)) : candidate;
    return (await env.fs.stat(expanded))?.isDirectory ? expanded : undefined;
  }
  if ((await env.fs.stat(candidate))?.isDirectory) return candidate;
  return resolveCachedSnapshot(model, env);
}

export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p);
}

/** POSIX-style join that also normalises `.` and `..`; the core handles paths as strings. */
export function joinPath(...parts: string[]): string {
  const joined = parts.filter((p) => p.length > 0).join('/');
  const absolute = joined.startsWith('/');
  const out: string[] = [];
  for (const seg of joined.split(/[\\/]+/)) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!absolute) out.push('..');
    } else out.push(seg);
  }
  return (absolute ? '/' : '') + out.join('/');
}

export function dirName(p: string): string {
  const i = p.replace(/[\\/]+$/, '').lastIndexOf('/');
  return i <= 0 ? (p.startsWith('/') ? '/' : '.') : p.slice(0, i);
}
