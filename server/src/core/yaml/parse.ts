// Parsing a YAML document, keeping node ranges so findings point at exact spans. The language service
// (core/service.ts) keeps one parse per open document version.
import { isMap, isScalar, isSeq, parseDocument, YAMLParseError } from 'yaml';
import type { Document } from 'yaml';
import type { Finding, Severity } from '../types';
import { LineIndex } from './lineIndex';

export interface ParsedYaml {
  text: string;
  doc: Document.Parsed;
  lines: LineIndex;
  /** The document as plain data (`undefined` for an empty document or one that cannot be converted). */
  data: unknown;
  /** Why the document could not be converted to data (e.g. an alias bomb), when it could not. */
  dataError?: string;
}

/**
 * Bounds on a YAML document (SECURITY.md, "Hostile workspace"): a longer text is not parsed (a finding
 * says so); deeper nesting is refused before the recursive conversion to data.
 */
export const YAML_LIMITS = { chars: 4 * 1024 * 1024, depth: 64, aliases: 100 } as const;

/**
 * Parses without throwing: syntax errors stay in `doc.errors`, aliases are capped against bombs. Duplicate
 * keys are found here in one pass (the yaml package's own check compares every key with every other, which
 * took 12 s for 10,000 keys).
 */
export function parseYaml(text: string): ParsedYaml {
  if (text.length > YAML_LIMITS.chars) {
    const doc = parseDocument('', { keepSourceTokens: true, prettyErrors: false });
    const parsed: ParsedYaml = { text, doc, lines: new LineIndex(text), data: undefined };
    parsed.dataError = `the document is ${text.length} characters long, over the ${YAML_LIMITS.chars / (1024 * 1024)} MiB cap for a YAML file; it is not read.`;
    return parsed;
  }
  const doc = parseDocument(text, {
    keepSourceTokens: true,
    prettyErrors: false,
    uniqueKeys: false,
    logLevel: 'error',
  });
  const parsed: ParsedYaml = { text, doc, lines: new LineIndex(text), data: undefined };
  const depth = checkKeysAndDepth(doc);
  if (depth > YAML_LIMITS.depth) {
    parsed.dataError = `the document nests more than ${YAML_LIMITS.depth} levels deep; it is not read.`;
    return parsed;
  }
  try {
    parsed.data = doc.toJS({ maxAliasCount: YAML_LIMITS.aliases });
  } catch (error) {
    parsed.dataError = (error as Error).message;
  }
  return parsed;
}

/** YAML syntax errors (and a document that cannot be converted) as findings under the caller's rule id. */
export function syntaxFindings(parsed: ParsedYaml, rule: string, severity: Severity): Finding[] {
  const findings: Finding[] = [];
  if (parsed.dataError !== undefined && parsed.doc.errors.length === 0) {
    findings.push({
      rule,
      severity,
      range: parsed.lines.rangeOf(0, parsed.lines.lineEnd(0)),
      message: `YAML document cannot be read: ${firstLine(parsed.dataError)}`,
    });
  }
  for (const error of parsed.doc.errors) {
    const [start, end] = error.pos;
    findings.push({
      rule,
      severity,
      range: parsed.lines.rangeOf(start, Math.max(end, start)),
      message: `YAML syntax error: ${firstLine(error.message)}`,
      data: { code: error.code },
    });
  }
  return findings;
}

function firstLine(message: string): string {
  const newline = message.indexOf('\n');
  return newline < 0 ? message : message.slice(0, newline);
}

/** Adds a DUPLICATE_KEY error per repeated scalar key (linear) and returns the deepest nesting seen. */
function checkKeysAndDepth(doc: Document.Parsed): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[doc.contents, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > deepest) deepest = depth;
    if (depth > YAML_LIMITS.depth) break;
    if (isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = pair.key;
        if (isScalar(key)) {
          if (seen.has(key.value) && key.range) {
            doc.errors.push(
              new YAMLParseError([key.range[0], key.range[1]], 'DUPLICATE_KEY', 'Map keys must be unique'),
            );
          }
          seen.add(key.value);
        }
        stack.push([pair.value, depth + 1]);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push([item, depth + 1]);
    }
  }
  return deepest;
}
