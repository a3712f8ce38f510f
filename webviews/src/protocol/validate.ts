// Small, dependency-free shape checks shared by both sides of every webview's message protocol.
// Each panel's protocol module builds its `parse…` functions from these: a message that does not match
// exactly (unknown type, wrong field types, extra keys) is refused, never half-used.

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isStr(v: unknown, maxLength = 1_000_000): v is string {
  return typeof v === 'string' && v.length <= maxLength;
}

export function isNum(v: unknown, min = -Infinity, max = Infinity): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
}

export function isInt(v: unknown, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): v is number {
  return isNum(v, min, max) && Number.isInteger(v);
}

export function isBool(v: unknown): v is boolean {
  return typeof v === 'boolean';
}

export function isOneOf<T extends string>(v: unknown, values: readonly T[]): v is T {
  return typeof v === 'string' && (values as readonly string[]).includes(v);
}

export function isArrayOf<T>(v: unknown, item: (x: unknown) => x is T, maxItems = 100_000): v is T[] {
  return Array.isArray(v) && v.length <= maxItems && v.every(item);
}

/** True when `o` has only keys from `allowed` (and so no smuggled extras). */
export function hasOnlyKeys(o: Obj, allowed: readonly string[]): boolean {
  return Object.keys(o).every((k) => allowed.includes(k));
}

/** A message envelope: `{ type, ...fields }` with a string type from the allowed list. */
export function messageType<T extends string>(v: unknown, types: readonly T[]): T | null {
  return isObj(v) && isOneOf(v['type'], types) ? (v['type'] as T) : null;
}
