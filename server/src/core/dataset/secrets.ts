// secret/api-key and secret/private-key. One pre-check regex of literal prefixes gates all detectors;
// random-looking bodies are confirmed by structure (fixed lengths, JWT header) or by entropy, so hex
// hashes, UUIDs and words that merely start with a prefix are not keys.
import type { TextMatch } from './pii';

/**
 * The cheap pre-check: every pattern below contains '_', '-' after "sk" or "xox?", "A" followed by
 * "KIA", "SIA" or "Iza", "eyJ", or "PRIVATE KEY". A few native indexOf scans cost far less than one
 * regex alternation over every line. The scans look for one rare character each ('J', 'K'): a search
 * for a string starting with a common letter ("eyJ") stops at every 'e' and costs ten times more.
 */
export function mayContainSecret(text: string): boolean {
  if (text.indexOf('_') >= 0) return true;
  for (let i = text.indexOf('J', 2); i >= 0; i = text.indexOf('J', i + 1)) {
    if (text.charCodeAt(i - 1) === 0x79 /* y */ && text.charCodeAt(i - 2) === 0x65 /* e */) return true;
  }
  // "PRIVATE KEY": its K is the ninth character.
  for (let i = text.indexOf('K', 8); i >= 0; i = text.indexOf('K', i + 1)) {
    if (text.startsWith('PRIVATE KEY', i - 8)) return true;
  }
  for (let i = text.indexOf('-'); i >= 0; i = text.indexOf('-', i + 1)) {
    if (i >= 2 && text.charCodeAt(i - 1) === 0x6b /* k */ && text.charCodeAt(i - 2) === 0x73 /* s */) return true;
    if (i >= 4 && text.startsWith('xox', i - 4)) return true;
  }
  for (let i = text.indexOf('A'); i >= 0; i = text.indexOf('A', i + 1)) {
    const next = text.charCodeAt(i + 1);
    if (next === 0x4b /* K */ || next === 0x53 /* S */ || next === 0x49 /* I */) {
      if (text.startsWith('KIA', i + 1) || text.startsWith('SIA', i + 1) || text.startsWith('Iza', i + 1)) return true;
    }
  }
  return false;
}

// A key starts at a word boundary, or right after a JSON escape such as \n.
const START = String.raw`(?:(?<![A-Za-z0-9_])|(?<=\\[nrtbf]))`;
const END = String.raw`(?![A-Za-z0-9_-])`;

interface KeyPattern {
  provider: string;
  regex: RegExp;
  /** Extra confirmation of the matched token. */
  confirm?: (token: string) => boolean;
}

const KEY_PATTERNS: KeyPattern[] = [
  {
    provider: 'AWS access key id',
    regex: new RegExp(`${START}(?:AKIA|ASIA)[A-Z2-7]{16}(?![A-Za-z0-9])`, 'g'),
    confirm: (t) => !t.endsWith('EXAMPLE') && entropy(t.slice(4)) >= 2.5,
  },
  {
    provider: 'GitHub token',
    regex: new RegExp(`${START}gh[pousr]_[A-Za-z0-9]{36}${END}`, 'g'),
    confirm: (t) => entropy(t.slice(4)) >= 3,
  },
  {
    provider: 'GitHub fine-grained token',
    regex: new RegExp(`${START}github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}${END}`, 'g'),
  },
  {
    provider: 'Anthropic API key',
    regex: new RegExp(`${START}sk-ant-[a-z]+\\d*-[A-Za-z0-9_-]{80,}${END}`, 'g'),
    confirm: (t) => entropy(t) >= 3.5,
  },
  {
    provider: 'OpenAI API key',
    regex: new RegExp(`${START}sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}${END}`, 'g'),
    confirm: (t) => mixesLettersAndDigits(t) && entropy(t) >= 3.5,
  },
  {
    provider: 'Stripe live key',
    regex: new RegExp(`${START}[sr]k_live_[0-9A-Za-z]{24,}${END}`, 'g'),
    confirm: (t) => entropy(t.slice(8)) >= 3,
  },
  {
    provider: 'Hugging Face token',
    regex: new RegExp(`${START}hf_[A-Za-z0-9]{30,40}${END}`, 'g'),
    confirm: (t) => /[a-z]/.test(t.slice(3)) && /[A-Z]/.test(t.slice(3)) && entropy(t.slice(3)) >= 3.5,
  },
  {
    provider: 'Slack token',
    regex: new RegExp(`${START}xox[abprs]-[0-9]{6,}-[0-9A-Za-z-]{8,}${END}`, 'g'),
  },
  { provider: 'Google API key', regex: new RegExp(`${START}AIza[0-9A-Za-z_-]{35}${END}`, 'g') },
  {
    provider: 'JSON Web Token',
    regex: new RegExp(`${START}eyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{16,}${END}`, 'g'),
    confirm: isJwt,
  },
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

export function findSecrets(text: string, out: TextMatch[]): void {
  if (!mayContainSecret(text)) return;
  for (const pattern of KEY_PATTERNS) {
    pattern.regex.lastIndex = 0;
    for (let m = pattern.regex.exec(text); m; m = pattern.regex.exec(text)) {
      if (pattern.confirm && !pattern.confirm(m[0])) continue;
      out.push({
        rule: 'secret/api-key',
        start: m.index,
        end: m.index + m[0].length,
        message: `A ${pattern.provider}: revoke it, then replace it with a placeholder. Secrets in training data can be reproduced by the model.`,
        kind: pattern.provider,
      });
    }
  }
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
