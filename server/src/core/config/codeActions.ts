// Quick fixes for config findings. Each is a minimal set of text edits, so comments and the
// user's formatting around the change survive.
import type { CodeAction, Finding, TextEdit } from '../types';
import { eolOf, indentUnit, nextLineStart, topIndent } from '../yaml/edits';
import type { ParsedYaml } from '../yaml/parse';
import { locatePath, nodeSpan } from '../yaml/paths';
import { datasetShapeActions, placementActions } from './placement';

export function configCodeActions(parsed: ParsedYaml, findings: readonly Finding[]): CodeAction[] {
  const actions: CodeAction[] = [];
  for (const finding of findings) {
    switch (finding.rule) {
      case 'config/unknown-key':
        actions.push(...placementActions(parsed, finding), ...applySuggestion(finding));
        break;
      case 'config/schema':
        actions.push(...datasetShapeActions(parsed, finding), ...applySuggestion(finding));
        break;
      case 'config/target-module':
        actions.push(...setTargets(parsed, finding));
        break;
      case 'config/qlora-requires-quantization':
        actions.push(...addQuantization(parsed));
        break;
      case 'config/lora-with-quantization':
        actions.push(...switchToQlora(parsed), ...removeQuantization(parsed));
        break;
    }
  }
  return actions;
}

/** Replaces a misspelt key or enum value with the did-you-mean suggestion the finding carries. */
function applySuggestion(finding: Finding): CodeAction[] {
  const suggestion = finding.data?.['suggestion'];
  const original = finding.data?.['key'] ?? finding.data?.['value'];
  if (typeof suggestion !== 'string') return [];
  return [
    {
      title: `Change "${String(original)}" to "${suggestion}"`,
      rule: finding.rule,
      edits: [{ range: finding.range, newText: suggestion }],
      isPreferred: true,
    },
  ];
}

function insertLinesAfter(parsed: ParsedYaml, key: string, block: string): TextEdit {
  const { valueNode, keyNode } = locatePath(parsed.doc, [key]);
  const anchor = valueNode ? nodeSpan(valueNode) : keyNode ? nodeSpan(keyNode) : undefined;
  const at = anchor ? nextLineStart(parsed, anchor[1]) : parsed.text.length;
  const needsBreak = at === parsed.text.length && parsed.text.length > 0 && !/[\r\n]$/.test(parsed.text);
  const eol = eolOf(parsed.text);
  return { range: parsed.lines.rangeOf(at, at), newText: (needsBreak ? eol : '') + block };
}

function setTargets(parsed: ParsedYaml, finding: Finding): CodeAction[] {
  const defaults = finding.data?.['defaults'];
  const { keyNode, valueNode } = locatePath(parsed.doc, ['lora', 'target_modules']);
  const keySpan = keyNode ? nodeSpan(keyNode) : undefined;
  const valueSpan = valueNode ? nodeSpan(valueNode) : undefined;
  if (!Array.isArray(defaults) || defaults.length === 0 || !keySpan || !valueSpan) return [];
  // Replace from the end of the key to the end of the list: ": [a, b]" whatever the list's style.
  const range = parsed.lines.rangeOf(keySpan[1], valueSpan[1]);
  return [
    {
      title: `Set target_modules to the model's defaults: ${defaults.join(', ')}`,
      rule: finding.rule,
      edits: [{ range, newText: `: [${defaults.join(', ')}]` }],
      isPreferred: true,
    },
    {
      title: 'Set target_modules to all-linear',
      rule: finding.rule,
      edits: [{ range, newText: ': all-linear' }],
    },
  ];
}

function quantizationBlock(parsed: ParsedYaml): string[] {
  const outer = ' '.repeat(topIndent(parsed));
  const inner = outer + ' '.repeat(indentUnit(parsed));
  return [`${outer}quantization:`, `${inner}bits: 4`, `${inner}type: nf4`, `${inner}double_quant: true`];
}

function addQuantization(parsed: ParsedYaml): CodeAction[] {
  const eol = eolOf(parsed.text);
  const block = quantizationBlock(parsed);
  const existing = locatePath(parsed.doc, ['quantization']);
  let edit: TextEdit;
  if (existing.keyNode) {
    // A quantization key with no usable value: replace the key and whatever value it has.
    const keySpan = nodeSpan(existing.keyNode)!;
    const valueSpan = existing.valueNode ? nodeSpan(existing.valueNode) : undefined;
    const end =
      valueSpan && valueSpan[1] > keySpan[1]
        ? valueSpan[1]
        : parsed.lines.lineEnd(parsed.lines.positionAt(keySpan[0]).line);
    edit = { range: parsed.lines.rangeOf(keySpan[0], end), newText: block.join(eol).trimStart() };
  } else {
    edit = insertLinesAfter(parsed, 'method', block.join(eol) + eol);
  }
  return [
    {
      title: 'Add a 4-bit quantization block (nf4, double quantization)',
      rule: 'config/qlora-requires-quantization',
      edits: [edit],
      isPreferred: true,
    },
  ];
}

function switchToQlora(parsed: ParsedYaml): CodeAction[] {
  const { valueNode } = locatePath(parsed.doc, ['method']);
  const span = valueNode ? nodeSpan(valueNode) : undefined;
  const edit: TextEdit =
    span && span[1] > span[0]
      ? { range: parsed.lines.rangeOf(span[0], span[1]), newText: 'qlora' }
      : insertLinesAfter(parsed, 'base_model', `${' '.repeat(topIndent(parsed))}method: qlora${eolOf(parsed.text)}`);
  return [{ title: 'Switch method to qlora', rule: 'config/lora-with-quantization', edits: [edit], isPreferred: true }];
}

function removeQuantization(parsed: ParsedYaml): CodeAction[] {
  const { keyNode, valueNode } = locatePath(parsed.doc, ['quantization']);
  const keySpan = keyNode ? nodeSpan(keyNode) : undefined;
  if (!keySpan) return [];
  const valueSpan = valueNode ? nodeSpan(valueNode) : undefined;
  const lastOffset = valueSpan && valueSpan[1] > keySpan[1] ? valueSpan[1] : keySpan[1];
  const start = parsed.lines.lineStart(parsed.lines.positionAt(keySpan[0]).line);
  const end = nextLineStart(parsed, lastOffset);
  return [
    {
      title: 'Remove the quantization block (train with plain LoRA)',
      rule: 'config/lora-with-quantization',
      edits: [{ range: parsed.lines.rangeOf(start, end), newText: '' }],
    },
  ];
}
