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
const EMAIL =
  /(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.([A-Za-z]{2,24})(?![A-Za-z0-9-])/g;
// Asset names like `icon@2x.png` look like addresses; these "TLDs" are file extensions.
const FILE_EXTENSIONS = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'pdf', 'js', 'ts', 'css']);

export function findEmails(text: string, out: TextMatch[]): void {
  if (text.indexOf('@') < 0) return;
  EMAIL.lastIndex = 0;
  for (let m = EMAIL.exec(text); m; m = EMAIL.exec(text)) {
    const tld = (m[1] ?? '').toLowerCase();
    if (FILE_EXTENSIONS.has(tld)) continue;
    out.push({
      rule: 'pii/email',
      start: m.index,
      end: m.index + m[0].length,
      message:
        'An email address: personal data should not be trained on. Replace it with a placeholder such as user@example.com.',
      kind: 'email',
    });
  }
}

// A phone number needs structure: a leading `+` with a country code, or the 3-3-4 grouping with
// separators. Dates (2024-01-15), versions (1.2.3.4), IPs, ISBNs, times and bare long ids (order
// numbers in JSON) have neither. Boundaries refuse digits, dots, dashes or word characters around.
const PHONE_HINT = /\+\d|\d{3}\)?[ .-]\d{3}/;
const PHONE =
  /(?<![\w.+/:-])(?:\+\d{1,3}(?:[ .-]?\(\d{1,4}\)|[ .-]?\d{1,5}){2,5}|\(\d{3}\) ?\d{3}[ .-]\d{4}|\d{3}([ .-])\d{3}\1\d{4})(?![\w/]|[.:-]\d)/g;

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
