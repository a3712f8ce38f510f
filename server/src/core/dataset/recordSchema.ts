// A Datanet's `record_schema` is workspace content: a JSON Schema someone else wrote, compiled by ajv and run
// on every record. One compiler for the manifest check and the dataset rules, so what the manifest accepts is
// what validates records, and a hostile schema is a finding on the manifest, never a hang or a crash:
// - only local references (`#…`): no `$ref` to a URL or a file is ever resolved (ajv is given no loader,
//   and such a reference is refused before ajv sees it);
// - every `pattern` and `patternProperties` key runs on RE2 (re2-wasm), whose matching time is linear in
//   the input: `^(a+)+$` cannot backtrack. A pattern RE2 does not support (backreferences, lookaround) is
//   a finding;
// - the schema's size is bounded before compilation (depth and node count), which bounds ajv's work and
//   the code it generates.
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import { RE2 } from 're2-wasm';

export const RECORD_SCHEMA_LIMITS = { depth: 32, nodes: 10_000, patterns: 256, patternLength: 1_000 };

const REF_KEYS = new Set(['$ref', '$dynamicRef', '$recursiveRef']);

/** ajv's `code.regExp`: RE2 behind RegExp's `test`, always in unicode mode (RE2 has no other). */
function re2RegExp(pattern: string, flags: string): { test(input: string): boolean } {
  return new RE2(pattern, flags.includes('u') ? flags : flags + 'u');
}
re2RegExp.code = 'new (require("re2-wasm").RE2)';

/** Why the schema is refused before compilation, or undefined. */
function precheck(schema: unknown): string | undefined {
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    return typeof schema === 'boolean' ? undefined : 'a JSON Schema is an object';
  }
  let nodes = 0;
  let patterns = 0;
  const stack: { value: unknown; depth: number; key: string | undefined; parent: string | undefined }[] = [
    { value: schema, depth: 0, key: undefined, parent: undefined },
  ];
  while (stack.length > 0) {
    const { value, depth, key, parent } = stack.pop()!;
    if (++nodes > RECORD_SCHEMA_LIMITS.nodes) {
      return `it has more than ${RECORD_SCHEMA_LIMITS.nodes} values (the limit for a record schema)`;
    }
    if (depth > RECORD_SCHEMA_LIMITS.depth) {
      return `it is nested more than ${RECORD_SCHEMA_LIMITS.depth} levels deep`;
    }
    if (key !== undefined && REF_KEYS.has(key) && parent !== 'properties' && typeof value === 'string') {
      if (!value.startsWith('#')) {
        return `${key} "${value.slice(0, 80)}" points outside the schema; only local references (#/...) are followed`;
      }
    }
    const isPattern = key === 'pattern' && parent !== 'properties' && typeof value === 'string';
    if (isPattern || parent === 'patternProperties') {
      const source = isPattern ? (value as string) : key!;
      if (++patterns > RECORD_SCHEMA_LIMITS.patterns) {
        return `it has more than ${RECORD_SCHEMA_LIMITS.patterns} patterns`;
      }
      if (source.length > RECORD_SCHEMA_LIMITS.patternLength) {
        return `a pattern is longer than ${RECORD_SCHEMA_LIMITS.patternLength} characters`;
      }
    }
    if (value !== null && typeof value === 'object') {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
      const self = Array.isArray(value) ? parent : key;
      for (const [childKey, child] of entries) {
        stack.push({ value: child, depth: depth + 1, key: Array.isArray(value) ? undefined : childKey, parent: self });
      }
    }
  }
  return undefined;
}

/** The compiled record schema, or why it is not used (a sentence for the manifest's finding). */
export function compileRecordSchema(schema: unknown): ValidateFunction | Error {
  const refused = precheck(schema);
  if (refused) return new Error(refused);
  try {
    const ajv = new Ajv({
      allErrors: true,
      unicode: false,
      strict: false,
      logger: false,
      code: { regExp: re2RegExp },
    });
    return ajv.compile(schema as object);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return new Error(message.slice(0, 300));
  }
}
