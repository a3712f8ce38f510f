// pii/email and pii/phone. Detectors run over raw line text (or a decoded string); each is gated on
// a cheap pre-check so that lines without '@' or digit groups cost one indexOf or one short scan.

export interface TextMatch {
  rule: 'pii/email' | 'pii/phone' | 'secret/api-key' | 'secret/private-key';
  start: number;
  end: number;
  message: string;
  /** Short, non-sensitive description (e.g. the key's provider), for data and tests. */
  kind: string;
}

// Local part and domain; the TLD must be alphabetic (2+ letters), so `@decorator`, `a@b` (matrix
// product), `@` alone and `name@host` without a dot are not addresses.
// Sticky: tried only where an address can start (findEmails), not at every position of the line.
export const EMAIL =
  /(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.([A-Za-z]{2,24})(?![A-Za-z0-9-])/y;
// Asset names like `icon@2x.png` look like addresses; these "TLDs" are file extensions.
const FILE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'pdf', 'js', 'ts', 'css']);
// Names reserved for documentation and testing (RFC 2606, RFC 6761): no one receives mail there, so an
// address at them is an example, not personal data (our own messages suggest user@example.com).
const RESERVED_TLDS = new Set(['example', 'test', 'invalid', 'localhost']);
const RESERVED_DOMAINS = ['example.com', 'example.org', 'example.net'];

/** True for example.com/.org/.net and their subdomains, and any name under .example, .test, .invalid, .localhost. */
export function isReservedDomain(domain: string): boolean {
  const d = domain.toLowerCase();
  if (RESERVED_TLDS.has(d.slice(d.lastIndexOf('.') + 1))) return true;
  for (const r of RESERVED_DOMAINS) {
    if (d.endsWith(r) && (d.length === r.length || d.charCodeAt(d.length - r.length - 1) === 0x2e)) return true;
  }
  return false;
}

/** A character of an address's local part (EMAIL's lookbehind and local-part class). */
function isLocalChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x25 ||
    c === 0x2b ||
    c === 0x2d
  );
}

/**
 * The addresses in `text`, as EMAIL run globally over it would find them. An address can only start
 * where the run of local-part characters before an '@' starts (EMAIL's lookbehind refuses any start
 * inside the run), so the regex is tried there alone: run over the whole line, a regex that opens with
 * a lookbehind cannot skip ahead, and it cost about 13 µs a line with an '@'.
 */
export function findEmails(text: string, out: TextMatch[]): void {
  // Where the last address ended: a global search would go on from there.
  let searchFrom = 0;
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > 0 && isLocalChar(text.charCodeAt(start - 1))) start--;
    if (start === at || start < searchFrom) continue;
    EMAIL.lastIndex = start;
    const m = EMAIL.exec(text);
    if (!m) continue;
    searchFrom = start + m[0].length;
    const tld = (m[1] ?? '').toLowerCase();
    if (FILE_EXTENSIONS.has(tld)) continue;
    if (isReservedDomain(m[0].slice(m[0].lastIndexOf('@') + 1))) continue;
    out.push({
      rule: 'pii/email',
      start,
      end: searchFrom,
      message:
        'An email address: personal data should not be trained on. Replace it with a placeholder such as user@example.com.',
      kind: 'email',
    });
  }
}

// A phone number needs structure: a leading `+` with a country code, or the 3-3-4 grouping with
// separators. Dates (2024-01-15), versions (1.2.3.4), IPs, ISBNs, times and bare long ids (order
// numbers in JSON) have neither. Boundaries refuse digits, dots, dashes or word characters around.
export const PHONE_HINT = /\+\d|\d{3}\)?[ .-]\d{3}/;
const PHONE =
  /(?<![\w.+/:-])(?:\+\d{1,3}(?:[ .-]?\(\d{1,4}\)|[ .-]?\d{1,5}){2,5}|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}([ .-])\d{3}\1\d{4})(?![\w/]|[.:-]\d)/g;

/**
 * 555-0100 through 555-0199 in any North American area code are reserved for fiction and examples
 * (NANPA): `(202) 555-0143`, `+1 202 555 0199`, `1-800-555-0100`. Shorter spellings such as `555-0123`
 * have too few digits to be reported at all.
 */
export function isFictionalNanp(number: string): boolean {
  let digits = '';
  for (let i = 0; i < number.length; i++) {
    const c = number.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) digits += number[i];
  }
  if (digits.length === 11 && digits[0] === '1') digits = digits.slice(1);
  else if (digits.length !== 10 || number.trimStart().startsWith('+')) return false;
  return digits.slice(3, 6) === '555' && digits.slice(6, 8) === '01';
}

export function findPhones(text: string, out: TextMatch[]): void {
  if (!PHONE_HINT.test(text)) return;
  PHONE.lastIndex = 0;
  for (let m = PHONE.exec(text); m; m = PHONE.exec(text)) {
    let digits = 0;
    for (let i = 0; i < m[0].length; i++) {
      const c = m[0].charCodeAt(i);
      if (c >= 0x30 && c <= 0x39) digits++;
    }
    // E.164 allows at most 15 digits; fewer than 10 is a short code, an extension or a number.
    if (digits < 10 || digits > 15) continue;
    if (isFictionalNanp(m[0])) continue;
    out.push({
      rule: 'pii/phone',
      start: m.index,
      end: m.index + m[0].length,
      message:
        'A phone number: personal data should not be trained on. Replace it with a placeholder such as +1-555-0100.',
      kind: 'phone',
    });
  }
}
