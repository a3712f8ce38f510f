// Glob patterns of Datanet `files` (and the CLI's path arguments): `*`, `?`, `**`, `{a,b}`, `{1..9}` and
// `[...]`, matched against POSIX paths relative to the manifest by picomatch. A glob is untrusted input:
// before it is compiled it must pass the limits below, which keep the regular expression picomatch builds
// from backtracking for seconds (`**a` twelve times against a long name did, with a hand-written
// matcher); a glob that breaks a limit or does not parse is refused with a reason (a finding on the
// manifest, a usage error in the CLI) and matches nothing, never silently.
import picomatch from 'picomatch';

/** The limits a glob must keep (SECURITY.md, "Hostile workspace"). */
export const GLOB_LIMITS = {
  /** Characters in one glob. */
  length: 512,
  /** `*` runs in one path segment (`*a*b*` has three); a `**` segment counts as one. */
  starsPerSegment: 3,
  /** `**` segments in one glob. */
  globstars: 4,
  /** Wildcards (`*` runs, `**` segments, `?`) in the whole glob. */
  wildcards: 8,
  /** Alternatives in `{a,b,...}` groups, all groups together. */
  alternatives: 32,
  /** Nesting of `{...}` groups. */
  braceDepth: 2,
  /** Values in one `{1..9}` range. */
  rangeValues: 64,
  /** Characters of a path that is matched at all; a longer path matches no glob. */
  pathLength: 1024,
} as const;

const OPTIONS = { noextglob: true, dot: false } as const;

const cache = new Map<string, RegExp | string>();

/** Why `glob` cannot be used (in words for a finding), or undefined when it can. */
export function checkGlob(glob: string): string | undefined {
  const compiled = compile(glob);
  return typeof compiled === 'string' ? compiled : undefined;
}

function limitProblem(glob: string): string | undefined {
  const L = GLOB_LIMITS;
  if (glob.length > L.length) return `the glob is ${glob.length} characters long; at most ${L.length} are accepted.`;
  let depth = 0;
  let maxDepth = 0;
  let alternatives = 0;
  let escaped = false;
  for (const c of glob) {
    if (escaped) {
      escaped = false;
      continue;
    }
    if (c === '\\') escaped = true;
    else if (c === '{') {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      alternatives++;
    } else if (c === '}') {
      if (depth === 0) return `'}' without a matching '{'.`;
      depth--;
    } else if (c === ',' && depth > 0) alternatives++;
  }
  if (depth > 0) return `'{' without a matching '}' (a {a,b} group must be closed).`;
  if (maxDepth > L.braceDepth) return `{...} groups are nested ${maxDepth} deep; at most ${L.braceDepth} are accepted.`;
  if (alternatives > L.alternatives)
    return `the {...} groups hold ${alternatives} alternatives; at most ${L.alternatives} are accepted.`;
  for (const m of glob.matchAll(/\{(-?\d+)\.\.(-?\d+)(?:\.\.-?\d+)?\}/g)) {
    const span = Math.abs(Number(m[2]) - Number(m[1])) + 1;
    if (span > L.rangeValues) return `the range ${m[0]} has ${span} values; at most ${L.rangeValues} are accepted.`;
  }
  let globstars = 0;
  let wildcards = 0;
  for (const segment of glob.split('/')) {
    if (segment === '**') {
      globstars++;
      wildcards++;
      continue;
    }
    const stars = segment.match(/\*+/g)?.length ?? 0;
    if (stars > L.starsPerSegment) {
      return `the path segment '${segment.length > 40 ? segment.slice(0, 40) + '…' : segment}' has ${stars} * wildcards; at most ${L.starsPerSegment} per segment are accepted.`;
    }
    wildcards += stars + (segment.match(/\?/g)?.length ?? 0);
  }
  if (globstars > L.globstars) return `the glob has ${globstars} ** segments; at most ${L.globstars} are accepted.`;
  if (wildcards > L.wildcards) return `the glob has ${wildcards} wildcards; at most ${L.wildcards} are accepted.`;
  return undefined;
}

function compile(raw: string): RegExp | string {
  const glob = raw.replace(/^\.\//, '');
  const hit = cache.get(glob);
  if (hit !== undefined) return hit;
  let result: RegExp | string | undefined = limitProblem(glob);
  if (result === undefined) {
    try {
      const re = picomatch.makeRe(glob, OPTIONS);
      // picomatch answers a pattern it cannot parse ([z-a]) with a regular expression that matches nothing.
      result = re.source === '$^' ? `'${glob}' is not a valid glob (check its [...] and {...} parts).` : re;
    } catch (err) {
      result = `'${glob}' is not a valid glob: ${(err as Error).message}.`;
    }
  }
  if (cache.size > 1000) cache.clear();
  cache.set(glob, result);
  return result;
}

/** The regular expression of a glob; throws an Error saying why for a glob `checkGlob` refuses. */
export function globToRegExp(glob: string): RegExp {
  const compiled = compile(glob);
  if (typeof compiled === 'string') throw new Error(compiled);
  return compiled;
}

/** True when some usable glob matches the path; refused globs match nothing (the manifest says why). */
export function matchesAny(relativePath: string, globs: readonly string[]): boolean {
  const normalized = relativePath.replace(/\\/g, '/').replace(/^\.\//, '');
  if (normalized.length > GLOB_LIMITS.pathLength) return false;
  return globs.some((g) => {
    const compiled = compile(g);
    return typeof compiled !== 'string' && compiled.test(normalized);
  });
}
