// Runs the PII and secret detectors over one record line. Matches are found in the raw line text, so
// ranges are exact UTF-16 columns; strings that hide text behind \uXXXX escapes are decoded and
// scanned again, and what only shows after decoding is reported on the whole string value.
import type { LineFindings } from './context';
import { ALL_HINTS, HINT_AT, HINT_ESCAPE, HINT_PHONE } from './dedupExact';
import type { JsonPath, LineLocator } from './locate';
import { findEmails, findPhones } from './pii';
import type { TextMatch } from './pii';
import { findSecrets } from './secrets';

export interface SensitiveRules {
  email: boolean;
  phone: boolean;
  secrets: boolean;
}

export function sensitiveRulesOf(out: LineFindings): SensitiveRules {
  return {
    email: out.isOn('pii/email'),
    phone: out.isOn('pii/phone'),
    secrets: out.isOn('secret/api-key') || out.isOn('secret/private-key'),
  };
}

function scan(text: string, rules: SensitiveRules, out: TextMatch[], hints = ALL_HINTS): void {
  if (rules.email && (hints & HINT_AT) !== 0) findEmails(text, out);
  if (rules.phone && (hints & HINT_PHONE) !== 0) findPhones(text, out);
  if (rules.secrets) findSecrets(text, out);
}

/** Length of a JSON escape that ends right before `start` and whose letters the match swallowed. */
function escapePrefixLength(text: string, start: number, end: number): number {
  if (start === 0 || text.charCodeAt(start - 1) !== 0x5c) return 0;
  let backslashes = 0;
  for (let i = start - 1; i >= 0 && text.charCodeAt(i) === 0x5c; i--) backslashes++;
  if (backslashes % 2 === 0) return 0;
  if (
    text.charCodeAt(start) === 0x75 /* u */ &&
    end - start > 5 &&
    /^u[0-9A-Fa-f]{4}/.test(text.slice(start, start + 5))
  ) {
    return 5;
  }
  return 1;
}

/**
 * Calls `fn` with each string of `value`, in order, and its path: one stack for the whole walk, valid
 * during the call (copy what you keep). A path array made for every string was most of this walk's cost.
 */
function eachString(value: unknown, path: (string | number)[], fn: (text: string, path: JsonPath) => void): void {
  if (typeof value === 'string') fn(value, path);
  else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      eachString(value[i], path, fn);
      path.pop();
    }
  } else if (value && typeof value === 'object') {
    for (const k of Object.keys(value)) {
      path.push(k);
      eachString((value as Record<string, unknown>)[k], path, fn);
      path.pop();
    }
  }
}

/**
 * Reports PII and secrets in `line`; `value` is the parsed record (read only when the line has \u
 * escapes). `rules`: which detectors are on, when the caller has resolved them once for many lines.
 * `hints`: what the exact hash's pass over the line found (dedupExact.ts HINT_*), when it ran.
 */
export function checkSensitive(
  line: string,
  value: unknown,
  out: LineFindings,
  loc: LineLocator,
  rules: SensitiveRules = sensitiveRulesOf(out),
  hints = ALL_HINTS,
): void {
  if (!rules.email && !rules.phone && !rules.secrets) return;
  const matches: TextMatch[] = [];
  scan(line, rules, matches, hints);
  const hasEscape = (hints & HINT_ESCAPE) !== 0 && line.indexOf('\\u') >= 0;
  if (matches.length === 0 && !hasEscape) return;
  const reported = new Set<string>();
  for (const m of matches) {
    const skip = escapePrefixLength(line, m.start, m.end);
    const start = m.start + skip;
    // An address or key that is only escape letters after trimming is not a match.
    if (m.end - start < 5) continue;
    const matched = line.slice(start, m.end);
    if (m.rule === 'pii/email' && matched.indexOf('@') < 1) continue;
    reported.add(matched);
    out.add(m.rule, start, m.end, m.message, { kind: m.kind });
  }
  if (!hasEscape) return;
  eachString(value, [], (text, path) => {
    // A string the line holds as it is has no match the line's own scan missed.
    if (line.includes(text)) return;
    const decodedMatches: TextMatch[] = [];
    scan(text, rules, decodedMatches);
    for (const m of decodedMatches) {
      const matched = text.slice(m.start, m.end);
      if (reported.has(matched) || line.includes(matched)) continue;
      reported.add(matched);
      const [start, end] = loc.value([...path]);
      out.add(m.rule, start, end, m.message, { kind: m.kind });
    }
  });
}
