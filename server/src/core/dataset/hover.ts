// Hover on a dataset record: its format, its length in tokens (and whether that count is exact),
// and which record it repeats. Text from the data never reaches the markdown unescaped.
import type { Hover } from '../types';
import { FORMAT_LABELS } from './record';
import type { DatasetValidator } from './validator';

export function datasetHover(
  validator: DatasetValidator,
  line: number,
  uri: string,
  tokenizerName: string,
): Hover | undefined {
  const info = validator.recordInfo(line);
  if (!info) return undefined;
  const rows: string[] = [];
  rows.push(`**Record ${line + 1}**` + (info.format ? ` · ${FORMAT_LABELS[info.format]}` : ' · unknown format'));
  if (info.tokens !== undefined) {
    rows.push(
      info.tokensExact
        ? `${info.tokens} tokens (${tokenizerName})`
        : `≈ ${info.tokens} tokens (estimate: no tokenizer found; set \`tokenizer\` in the Datanet or \`modelfactory.dataset.tokenizer\`)`,
    );
  }
  if (info.duplicateOf !== undefined) {
    rows.push(`Exact duplicate of [line ${info.duplicateOf + 1}](${uri}#L${info.duplicateOf + 1})`);
  }
  if (info.nearDuplicateOf) {
    const { line: other, similarity } = info.nearDuplicateOf;
    rows.push(`Near duplicate of [line ${other + 1}](${uri}#L${other + 1}) (similarity ≈ ${similarity.toFixed(2)})`);
  }
  const text = validator.lineText(line);
  return {
    contents: rows.join('\n\n'),
    range: { start: { line, character: 0 }, end: { line, character: text.length } },
  };
}
