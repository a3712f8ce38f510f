// secret/api-key and secret/private-key. Every key pattern starts with a literal ("AKIA", "ghp_",
// "sk-", "eyJ", ...) that holds one of four rare characters ('_', '-', 'A', 'J') at a fixed offset:
// one indexOf loop per character finds where keys may start, and only there is a key's regex tried
// (sticky). Random-looking bodies are confirmed by structure (fixed lengths, JWT header) or by entropy,
// so hex hashes, UUIDs and words that merely start with a prefix are not keys.
import type { TextMatch } from './pii';

// A key starts at a word boundary, or right after a JSON escape such as \n.
const START = String.raw`(?:(?<![A-Za-z0-9_])|(?<=\\[nrtbf]))`;
const END = String.raw`(?![A-Za-z0-9_-])`;

interface KeyPattern {
  provider: string;
  /** Sticky: tried where the key's literal start was found. */
  regex: RegExp;
  /** Extra confirmation of the matched token. */
  confirm?: (token: string) => boolean;
}

function keyPattern(provider: string, body: string, confirm?: (token: string) => boolean): KeyPattern {
  return { provider, regex: new RegExp(`${START}${body}`, 'y'), ...(confirm ? { confirm } : {}) };
}

const AWS = keyPattern(
  'AWS access key id',
  '(?:AKIA|ASIA)[A-Z2-7]{16}(?![A-Za-z0-9])',
  (t) => !t.endsWith('EXAMPLE') && entropy(t.slice(4)) >= 2.5,
);
const GITHUB = keyPattern('GitHub token', `gh[pousr]_[A-Za-z0-9]{36}${END}`, (t) => entropy(t.slice(4)) >= 3);
const GITHUB_PAT = keyPattern('GitHub fine-grained token', `github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}${END}`);
const ANTHROPIC = keyPattern(
  'Anthropic API key',
  `sk-ant-[a-z]+\\d*-[A-Za-z0-9_-]{80,}${END}`,
  (t) => entropy(t) >= 3.5,
);
const OPENAI = keyPattern(
  'OpenAI API key',
  `sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}${END}`,
  (t) => mixesLettersAndDigits(t) && entropy(t) >= 3.5,
);
const STRIPE = keyPattern('Stripe live key', `[sr]k_live_[0-9A-Za-z]{24,}${END}`, (t) => entropy(t.slice(8)) >= 3);
const HUGGING_FACE = keyPattern(
  'Hugging Face token',
  `hf_[A-Za-z0-9]{30,40}${END}`,
  (t) => /[a-z]/.test(t.slice(3)) && /[A-Z]/.test(t.slice(3)) && entropy(t.slice(3)) >= 3.5,
);
const SLACK = keyPattern('Slack token', `xox[abprs]-[0-9]{6,}-[0-9A-Za-z-]{8,}${END}`);
const GOOGLE = keyPattern('Google API key', `AIza[0-9A-Za-z_-]{35}${END}`);
const JWT = keyPattern(
  'JSON Web Token',
  `eyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{16,}${END}`,
  isJwt,
);

/**
 * Every key pattern, in the order findings are reported (each pattern's matches in text order). A new
 * pattern needs a start in `findKeys` too: one of the four characters at a fixed offset in its literal
 * (test/dataset/rules.test.ts finds an example key of each provider; sensitiveScan.test.ts holds the
 * search to the plain global regexes).
 */
export const KEY_PATTERNS: readonly KeyPattern[] = [
  AWS,
  GITHUB,
  GITHUB_PAT,
  ANTHROPIC,
  OPENAI,
  STRIPE,
  HUGGING_FACE,
  SLACK,
  GOOGLE,
  JWT,
];

const PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g;
const PRIVATE_KEY_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g;

/** Shannon entropy in bits per character. */
export function entropy(text: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / text.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

function mixesLettersAndDigits(text: string): boolean {
  return /[0-9]/.test(text) && /[A-Za-z]/.test(text);
}

function isJwt(token: string): boolean {
  const header = token.slice(0, token.indexOf('.'));
  try {
    const json = atob(header.replace(/-/g, '+').replace(/_/g, '/'));
    return /"alg"\s*:/.test(json);
  } catch {
    return false;
  }
}

/**
 * The keys in `text`, as each pattern's global regex would find them (its matches left to right, each
 * search going on after the last match), reported pattern by pattern. A regex that opens with a
 * lookbehind cannot skip ahead to its literal: all ten run over a line took about 57 µs, for any line
 * with an underscore in it, where the literals' characters are searched for in a few microseconds.
 */
export function findSecrets(text: string, out: TextMatch[]): void {
  const found = new KeyMatches(text);
  findKeys(text, found);
  found.report(out);
  findPrivateKeys(text, out);
}

/** Tries each key pattern where its literal start is. */
function findKeys(text: string, found: KeyMatches): void {
  for (let i = text.indexOf('_'); i >= 0; i = text.indexOf('_', i + 1)) {
    const before = text.charCodeAt(i - 1);
    if (i >= 3 && text.startsWith('gh', i - 3) && 'pousr'.includes(text.charAt(i - 1))) found.tryAt(GITHUB, i - 3);
    if (i >= 6 && text.startsWith('github', i - 6)) found.tryAt(GITHUB_PAT, i - 6);
    if (i >= 2 && before === 0x6b /* k */ && 'sr'.includes(text.charAt(i - 2))) found.tryAt(STRIPE, i - 2);
    if (i >= 2 && before === 0x66 /* f */ && text.charCodeAt(i - 2) === 0x68 /* h */) found.tryAt(HUGGING_FACE, i - 2);
  }
  for (let i = text.indexOf('-'); i >= 0; i = text.indexOf('-', i + 1)) {
    if (i >= 2 && text.charCodeAt(i - 1) === 0x6b /* k */ && text.charCodeAt(i - 2) === 0x73 /* s */) {
      found.tryAt(ANTHROPIC, i - 2);
      found.tryAt(OPENAI, i - 2);
    }
    if (i >= 4 && text.startsWith('xox', i - 4)) found.tryAt(SLACK, i - 4);
  }
  for (let i = text.indexOf('A'); i >= 0; i = text.indexOf('A', i + 1)) {
    const next = text.charCodeAt(i + 1);
    if (next === 0x4b /* K */ || next === 0x53 /* S */) found.tryAt(AWS, i);
    else if (next === 0x49 /* I */) found.tryAt(GOOGLE, i);
  }
  for (let i = text.indexOf('J', 2); i >= 0; i = text.indexOf('J', i + 1)) {
    if (text.charCodeAt(i - 1) === 0x79 /* y */ && text.charCodeAt(i - 2) === 0x65 /* e */) found.tryAt(JWT, i - 2);
  }
}

function findPrivateKeys(text: string, out: TextMatch[]): void {
  if (text.indexOf('PRIVATE KEY') < 0) return;
  PRIVATE_KEY.lastIndex = 0;
  for (let m = PRIVATE_KEY.exec(text); m; m = PRIVATE_KEY.exec(text)) {
    PRIVATE_KEY_END.lastIndex = m.index + m[0].length;
    const end = PRIVATE_KEY_END.exec(text);
    out.push({
      rule: 'secret/private-key',
      start: m.index,
      end: end ? end.index + end[0].length : m.index + m[0].length,
      message: 'A PEM private key block: revoke the key and remove the block. Use a placeholder if the text needs one.',
      kind: 'private key',
    });
    if (end) PRIVATE_KEY.lastIndex = end.index + end[0].length;
  }
}

/** Keys found at candidate starts: per pattern, in text order, none overlapping the one before. */
class KeyMatches {
  /** Made at the first candidate: most lines have none. */
  private byPattern: Map<KeyPattern, TextMatch[]> | undefined;
  /** Per pattern, where its last match ended: its global regex would go on searching from there. */
  private searchFrom: Map<KeyPattern, number> | undefined;

  constructor(private readonly text: string) {}

  tryAt(pattern: KeyPattern, start: number): void {
    const searchFrom = (this.searchFrom ??= new Map());
    if (start < (searchFrom.get(pattern) ?? 0)) return;
    pattern.regex.lastIndex = start;
    const m = pattern.regex.exec(this.text);
    if (!m) return;
    searchFrom.set(pattern, start + m[0].length);
    if (pattern.confirm && !pattern.confirm(m[0])) return;
    const byPattern = (this.byPattern ??= new Map());
    let list = byPattern.get(pattern);
    if (!list) byPattern.set(pattern, (list = []));
    list.push({
      rule: 'secret/api-key',
      start,
      end: start + m[0].length,
      message: `A ${pattern.provider}: revoke it, then replace it with a placeholder. Secrets in training data can be reproduced by the model.`,
      kind: pattern.provider,
    });
  }

  report(out: TextMatch[]): void {
    const byPattern = this.byPattern;
    if (!byPattern) return;
    for (const pattern of KEY_PATTERNS) for (const m of byPattern.get(pattern) ?? []) out.push(m);
  }
}
