// Whitespace as String.prototype.trim sees it (ECMAScript WhiteSpace and LineTerminator), read a
// character at a time. Every message's content is asked whether it is blank, and every record's content
// for its trimmed length: `trim()` and its kin cost a call into the engine each (about 25 ns), where a
// text that starts and ends with a letter answers here at its first character.

/** Whether UTF-16 unit `c` is one that `trim()` removes. */
export function isTrimSpace(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return (
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** `s.trim() === ''`. */
export function isBlankText(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isTrimSpace(s.charCodeAt(i))) return false;
  return true;
}

/** `s.length - s.trimStart().length`. */
export function leadingSpace(s: string): number {
  let i = 0;
  while (i < s.length && isTrimSpace(s.charCodeAt(i))) i++;
  return i;
}

/** `s.length - s.trimEnd().length`. */
export function trailingSpace(s: string): number {
  let i = s.length;
  while (i > 0 && isTrimSpace(s.charCodeAt(i - 1))) i--;
  return s.length - i;
}
