// Inline suppression comments:
//   # modelfactory-disable-next-line [rule ...]   the next line
//   # modelfactory-disable-line [rule ...]        this line
//   # modelfactory-disable [rule ...]             the whole file, in the comments before any content
// No rule listed means every rule. Rules are separated by spaces or commas.
import type { Finding } from '../types';
import type { LineIndex } from './lineIndex';

const DIRECTIVE = /(?:^|\s)#\s*modelfactory-(disable-next-line|disable-line|disable)(?=\s|$)([^#]*)/;
const ALL = '*';

export interface Suppressions {
  /** Rules off for the whole file ('*' = all). */
  file: Set<string>;
  /** Line -> rules off on that line ('*' = all). */
  lines: Map<number, Set<string>>;
}

export function collectSuppressions(lines: LineIndex): Suppressions {
  const result: Suppressions = { file: new Set(), lines: new Map() };
  let beforeContent = true;
  for (let line = 0; line < lines.lineCount; line++) {
    const text = lines.lineText(line);
    const trimmed = text.trim();
    const isComment = trimmed.startsWith('#');
    if (trimmed.length > 0 && !isComment && trimmed !== '---') beforeContent = false;
    if (!text.includes('modelfactory-disable')) continue;
    const match = DIRECTIVE.exec(text);
    if (!match) continue;
    const rules = parseRules(match[2] ?? '');
    if (match[1] === 'disable') {
      if (beforeContent && isComment) for (const rule of rules) result.file.add(rule);
      continue;
    }
    const target = match[1] === 'disable-next-line' ? line + 1 : line;
    const set = result.lines.get(target) ?? new Set<string>();
    for (const rule of rules) set.add(rule);
    result.lines.set(target, set);
  }
  return result;
}

function parseRules(list: string): string[] {
  const rules = list
    .split(/[\s,]+/)
    .map((r) => r.trim())
    .filter((r) => r.length > 0 && r !== '--');
  return rules.length > 0 ? rules : [ALL];
}

export function isSuppressed(finding: Finding, suppressions: Suppressions): boolean {
  if (matches(suppressions.file, finding.rule)) return true;
  const onLine = suppressions.lines.get(finding.range.start.line);
  return onLine !== undefined && matches(onLine, finding.rule);
}

function matches(rules: Set<string>, rule: string): boolean {
  if (rules.has(ALL) || rules.has(rule)) return true;
  const slash = rule.indexOf('/');
  return slash > 0 && rules.has(rule.slice(0, slash + 1) + '*');
}

export function filterSuppressed(findings: Finding[], lines: LineIndex): Finding[] {
  if (!lines.text.includes('modelfactory-disable')) return findings;
  const suppressions = collectSuppressions(lines);
  return findings.filter((f) => !isSuppressed(f, suppressions));
}
