// Shared helpers of the config tests.
import { join } from 'node:path';
import { validateConfig } from '../../server/src/core/config';
import type { Environment } from '../../server/src/core/io';
import type { CoreSettings } from '../../server/src/core/settings';
import type { Finding, TextEdit } from '../../server/src/core/types';
import { LineIndex, parseYaml } from '../../server/src/core/yaml';
import { testContext } from './nodeEnv';

export const FIXTURES = join(__dirname, '..', 'fixtures', 'configs');

export async function lint(
  text: string,
  options: { dir?: string; settings?: Partial<CoreSettings>; env?: Environment } = {},
): Promise<Finding[]> {
  return validateConfig(parseYaml(text), testContext(options.dir ?? FIXTURES, options.settings, options.env));
}

export function rules(findings: Finding[]): string[] {
  return findings.map((f) => f.rule).sort();
}

/** The text a finding's range covers. */
export function covered(text: string, finding: { range: Finding['range'] }): string {
  const lines = new LineIndex(text);
  return text.slice(lines.offsetAt(finding.range.start), lines.offsetAt(finding.range.end));
}

/** Applies non-overlapping edits, last first, as an editor would. */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const lines = new LineIndex(text);
  const sorted = edits
    .map((e) => ({ start: lines.offsetAt(e.range.start), end: lines.offsetAt(e.range.end), newText: e.newText }))
    .sort((a, b) => b.start - a.start);
  let result = text;
  for (const edit of sorted) result = result.slice(0, edit.start) + edit.newText + result.slice(edit.end);
  return result;
}

/** A minimal valid config for `model`, with extra top-level YAML appended. */
export function config(model: string, extra = ''): string {
  return `base_model: ${model}\nmethod: lora\ndataset:\n  path: data/chat-messages.jsonl\n${extra}`;
}
