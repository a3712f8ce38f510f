// Parsing a YAML document once per version, keeping node ranges so findings point at exact spans.
import { parseDocument } from 'yaml';
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

/** Parses without throwing: syntax errors stay in `doc.errors`, aliases are capped against bombs. */
export function parseYaml(text: string): ParsedYaml {
  const doc = parseDocument(text, { keepSourceTokens: true, prettyErrors: false, uniqueKeys: true });
  const parsed: ParsedYaml = { text, doc, lines: new LineIndex(text), data: undefined };
  try {
    parsed.data = doc.toJS({ maxAliasCount: 100 });
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

/** A small cache of parses keyed by URI and version (and text, since hosts may reuse versions). */
export class YamlParseCache {
  private readonly entries = new Map<string, { version: number; parsed: ParsedYaml }>();

  constructor(private readonly capacity = 32) {}

  get(uri: string, version: number, text: string): ParsedYaml {
    const hit = this.entries.get(uri);
    if (hit && hit.version === version && hit.parsed.text === text) return hit.parsed;
    const parsed = parseYaml(text);
    this.entries.delete(uri);
    this.entries.set(uri, { version, parsed });
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    return parsed;
  }
}
