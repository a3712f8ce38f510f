// JSON Schema (ajv) errors mapped onto a YAML document: unknown keys point at the key, wrong values
// at the value, missing keys at the parent's key. Compile the schema with `allErrors: true` and
// `verbose: true` so every error carries its schema (for allowed keys and did-you-mean).
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Finding, Range, Severity } from '../types';
import { closestMatch } from './didYouMean';
import type { ParsedYaml } from './parse';
import { rangeOfPath } from './paths';
import type { YamlPath } from './paths';

export interface YamlValidationOptions {
  /** The rule id of a schema error (e.g. unknown key vs wrong value). */
  ruleFor(error: ErrorObject): string;
  /** Severity of a rule; undefined turns it off. */
  severityOf(rule: string): Severity | undefined;
  /** A better message for an error than the generic one, when the caller has one. */
  messageFor?(error: ErrorObject, path: YamlPath): string | undefined;
}

export function validateYaml(
  parsed: ParsedYaml,
  validate: ValidateFunction,
  options: YamlValidationOptions,
): Finding[] {
  if (parsed.doc.errors.length > 0) return [];
  const data = parsed.data ?? {};
  if (validate(data)) return [];
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const error of simplifyErrors(validate.errors ?? [])) {
    const rule = options.ruleFor(error);
    const severity = options.severityOf(rule);
    if (!severity) continue;
    const path = instancePathToYamlPath(error.instancePath, data);
    const { range, message, extra } = describe(parsed, error, path, options);
    const dedupKey = `${rule}|${range.start.line}:${range.start.character}|${message}`;
    if (seen.has(dedupKey)) continue;
    seen.add(dedupKey);
    findings.push({ rule, severity, range, message, data: { keyword: error.keyword, path, ...extra } });
  }
  return findings;
}

/**
 * A failed `oneOf`/`anyOf` reports every alternative's errors too; keep one error per branch
 * point, unless only one alternative got past its type check (then its errors are the useful ones).
 */
function simplifyErrors(errors: ErrorObject[]): ErrorObject[] {
  const branchPoints = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  if (branchPoints.length === 0) return errors;
  // Alternatives that only require keys all pass on a value that is not an object ("matches more than
  // one alternative"); the value's type error is the one that says what is wrong.
  const wrongType = new Set(errors.filter((e) => e.keyword === 'type').map((e) => e.instancePath));
  const out: ErrorObject[] = [];
  for (const error of errors) {
    const branch = branchPoints.find((b) => b !== error && error.schemaPath.startsWith(branchSchemaPrefix(b)));
    if (branch) continue;
    if (branchPoints.includes(error) && wrongType.has(error.instancePath) && onlyRequires(error.schema)) continue;
    out.push(error);
  }
  return out;
}

function onlyRequires(schema: unknown): boolean {
  return Array.isArray(schema) && schema.every((s: object) => 'required' in s && Object.keys(s).length === 1);
}

function branchSchemaPrefix(branch: ErrorObject): string {
  return branch.schemaPath + '/';
}

function instancePathToYamlPath(pointer: string, data: unknown): YamlPath {
  if (pointer === '') return [];
  const path: YamlPath = [];
  let current: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      const index = Number(segment);
      path.push(index);
      current = current[index];
    } else {
      path.push(segment);
      current =
        typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}

function describe(
  parsed: ParsedYaml,
  error: ErrorObject,
  path: YamlPath,
  options: YamlValidationOptions,
): { range: Range; message: string; extra: Record<string, unknown> } {
  const where = path.length === 0 ? 'the document' : `"${path.join('.')}"`;
  const custom = options.messageFor?.(error, path);
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(error.params['additionalProperty']);
      const allowed = allowedKeys(error.parentSchema);
      const suggestion = closestMatch(key, allowed);
      const hint = suggestion
        ? ` Did you mean "${suggestion}"?`
        : allowed.length > 0
          ? ` Allowed keys in ${where}: ${allowed.join(', ')}.`
          : '';
      return {
        range: rangeOfPath(parsed.doc, parsed.lines, [...path, key], 'key'),
        message: custom ?? `Unknown key "${key}" in ${where}.${hint}`,
        // A caller's own message replaces the did-you-mean, and so does its fix.
        extra: suggestion && !custom ? { key, suggestion } : { key },
      };
    }
    case 'required': {
      const key = String(error.params['missingProperty']);
      return {
        range: rangeOfPath(parsed.doc, parsed.lines, path, 'key'),
        message: custom ?? `Missing required key "${key}" in ${where}.`,
        extra: { key },
      };
    }
    case 'oneOf':
    case 'anyOf': {
      const alternatives = describeAlternatives(error.schema);
      const several = error.params['passingSchemas'] != null;
      // Alternatives that differ only in which key is present are about keys: point at the parent key.
      const aboutKeys = Array.isArray(error.schema) && error.schema.every((s: object) => 'required' in s);
      return {
        range: rangeOfPath(parsed.doc, parsed.lines, path, aboutKeys ? 'key' : 'value'),
        message:
          custom ??
          (several
            ? `${where} matches more than one alternative (${alternatives}); keep exactly one.`
            : `${where} must be one of: ${alternatives}.`),
        extra: {},
      };
    }
    default: {
      // A misspelt enum value gets the same did-you-mean as a misspelt key.
      const allowed = error.params['allowedValues'];
      const suggestion =
        error.keyword === 'enum' && typeof error.data === 'string' && Array.isArray(allowed)
          ? closestMatch(
              error.data,
              allowed.filter((v): v is string => typeof v === 'string'),
            )
          : undefined;
      const hint = suggestion ? ` Did you mean "${suggestion}"?` : '';
      return {
        range: rangeOfPath(parsed.doc, parsed.lines, path, 'value'),
        message: custom ?? `${capitalize(where)} ${error.message ?? 'is invalid'}${allowedValues(error)}.${hint}`,
        extra: suggestion ? { value: error.data, suggestion } : {},
      };
    }
  }
}

function allowedKeys(parentSchema: unknown): string[] {
  if (typeof parentSchema !== 'object' || parentSchema === null) return [];
  const properties = (parentSchema as { properties?: unknown }).properties;
  return typeof properties === 'object' && properties !== null ? Object.keys(properties) : [];
}

function allowedValues(error: ErrorObject): string {
  const values = error.params['allowedValues'];
  return Array.isArray(values) ? `: ${values.map((v) => JSON.stringify(v)).join(', ')}` : '';
}

/** A one-line summary of oneOf/anyOf alternatives: consts, enums, `required` sets and types. */
function describeAlternatives(schema: unknown): string {
  if (!Array.isArray(schema)) return 'the allowed alternatives';
  return schema
    .map((alternative: Record<string, unknown>) => {
      if ('const' in alternative) return JSON.stringify(alternative['const']);
      if (Array.isArray(alternative['enum'])) return alternative['enum'].map((v) => JSON.stringify(v)).join(' | ');
      if (Array.isArray(alternative['required'])) return `a "${alternative['required'].join('", "')}" key`;
      if (typeof alternative['type'] === 'string') {
        const items = alternative['items'] as { type?: string } | undefined;
        return alternative['type'] === 'array' && items?.type ? `a list of ${items.type}s` : `a ${alternative['type']}`;
      }
      return 'another shape';
    })
    .join(' or ');
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
