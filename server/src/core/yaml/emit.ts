// Writing YAML values by hand (for generated configs and quick fixes), in forms that both YAML 1.2
// (the `yaml` package) and PyYAML's YAML 1.1 (the trainer) read back as the same value.

const RESERVED = /^(?:y|n|yes|no|true|false|on|off|null|~|\.inf|-\.inf|\+\.inf|\.nan)$/i;
const NUMERIC = /^[-+]?(?:\.\d|\d)[\d_]*(?:\.\d*)?(?:[eE][-+]?\d+)?$|^0[xob][\da-f_]+$/i;
/** YAML 1.1 timestamps (PyYAML reads `2024-01-15` as a date). */
const DATE = /^\d{4}-\d\d?-\d\d?(?:[Tt ]|$)/;
/** Plain (unquoted) scalars we write: path-like words, no spaces, no `:` `#` `,` or brackets. */
const PLAIN = /^[A-Za-z0-9_./~][A-Za-z0-9_./@+~-]*$/;

/** A string as a plain scalar when that reads back as the same string, else double-quoted. */
export function formatString(text: string): string {
  if (PLAIN.test(text) && !RESERVED.test(text) && !NUMERIC.test(text) && !DATE.test(text)) return text;
  return JSON.stringify(text).replace(
    /[\u007f-\u009f\u2028\u2029\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * A number as a float or integer literal both parsers agree on: exponent forms get a `.` in the
 * mantissa and a sign in the exponent (PyYAML reads `1e-4` as a string).
 */
export function formatNumber(value: number): string {
  const text = String(value);
  const match = /^(-?\d+)(\.\d+)?e([+-]?)(\d+)$/.exec(text);
  if (!match) return text;
  return `${match[1]}${match[2] ?? '.0'}e${match[3] || '+'}${match[4]}`;
}

/** A scalar, or a list of scalars in flow style (`[a, b]`); other values as a JSON flow mapping. */
export function formatValue(value: unknown): string {
  if (typeof value === 'string') return formatString(value);
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(formatValue).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).map(
      ([k, v]) => `${formatString(k)}: ${formatValue(v)}`,
    );
    return `{${entries.join(', ')}}`;
  }
  return formatString(String(value));
}
