// Keys in the wrong place and keys in another tool's words: `learning_rate:` at the top level
// ("move it under `training:`"), `cutoff_len` (LLaMA-Factory's name for `training.max_seq_length`),
// `deepspeed` (a setting we have no equivalent of), and `dataset: FILE` (a string where an object
// goes). The messages for the linter and the quick fixes that move, rename or remove the key.
import { isMap, isScalar, isSeq } from 'yaml';
import type { Node, Pair, YAMLMap } from 'yaml';
import type { ErrorObject } from 'ajv';
import type { CodeAction, Finding, TextEdit } from '../types';
import { eolOf, indentUnit, nextLineStart, topIndent } from '../yaml/edits';
import { formatValue } from '../yaml/emit';
import type { ParsedYaml } from '../yaml/parse';
import { findPair, locatePath, nodeSpan } from '../yaml/paths';
import type { YamlPath } from '../yaml/paths';
import { aliasOf, dotted, foreignSettingOf, placesOfKey, whose } from './aliases';
import type { KeyAlias } from './aliases';

type Advice =
  | { kind: 'move'; key: string; parent: YamlPath; to: YamlPath; taken: boolean; message: string }
  | { kind: 'alias'; key: string; parent: YamlPath; to: YamlPath; taken: boolean; message: string; alias: KeyAlias }
  | { kind: 'foreign'; key: string; parent: YamlPath; message: string }
  | { kind: 'ambiguous'; message: string };

const samePath = (a: YamlPath, b: YamlPath) => a.length === b.length && a.every((s, i) => s === b[i]);

function has(parsed: ParsedYaml, path: YamlPath): boolean {
  return locatePath(parsed.doc, path).depth === path.length;
}

function valueAt(data: unknown, path: YamlPath): unknown {
  let current = data;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string | number, unknown>)[segment];
  }
  return current;
}

/** What to say about an unknown `key` under `parent`, when it is one of ours misplaced or another tool's. */
function adviceFor(parsed: ParsedYaml, key: string, parent: YamlPath): Advice | undefined {
  const here = parent.length === 0 ? 'at the top level' : `under \`${dotted(parent)}:\``;
  const alias = aliasOf(key);
  const places = placesOfKey(key).filter((p) => !samePath(p.slice(0, -1), parent));
  if (places.length > 1) {
    return {
      kind: 'ambiguous',
      message: `\`${key}\` does not belong ${here}: it goes ${places.map((p) => (p.length === 1 ? 'at the top level' : `under \`${dotted(p.slice(0, -1))}:\``)).join(' or ')}.`,
    };
  }
  if (places.length === 1) {
    const to = places[0]!;
    const taken = has(parsed, to);
    const dest = to.length === 1 ? 'move it to the top level' : `move it under \`${dotted(to.slice(0, -1))}:\``;
    const theirs =
      alias && alias.tools.length > 0 && parent.length === 0
        ? ` (${alias.tools.join(' and ')} keep it at the top level)`
        : '';
    return {
      kind: 'move',
      key,
      parent,
      to,
      taken,
      message: taken
        ? `\`${key}\` does not belong ${here}, and \`${dotted(to)}\` is already set: remove this one${theirs}.`
        : `\`${key}\` does not belong ${here}: ${dest}${theirs}.`,
    };
  }
  if (alias) {
    const to = alias.ours;
    const taken = has(parsed, to);
    const hint = alias.hint ? ` (${alias.hint})` : '';
    return {
      kind: 'alias',
      key,
      parent,
      to,
      taken,
      alias,
      message: `\`${key}\` is ${whose(alias.tools)} name: ours is \`${dotted(to)}\`${hint}${taken ? ', which is already set here: remove this one' : ''}.`,
    };
  }
  const foreign = parent.length === 0 ? foreignSettingOf(key) : undefined;
  if (foreign) {
    return {
      kind: 'foreign',
      key,
      parent,
      message: `\`${key}\` is ${foreign.tools[0] === 'axolotl' ? 'an' : 'a'} ${foreign.tools.join(' and ')} setting with no ModelFactory equivalent: ${foreign.reason}. Remove it.`,
    };
  }
  return undefined;
}

/**
 * A better message than the schema's for a config error, when there is one: unknown keys that are
 * ours in the wrong place or another tool's, and a dataset that is not an object.
 */
export function configSchemaMessage(parsed: ParsedYaml, error: ErrorObject, path: YamlPath): string | undefined {
  if (error.keyword === 'additionalProperties') {
    return adviceFor(parsed, String(error.params['additionalProperty']), path)?.message;
  }
  if (samePath(path, ['dataset']) && (error.keyword === 'type' || error.keyword === 'oneOf')) {
    return datasetShapeMessage(valueAt(parsed.data, path));
  }
  return undefined;
}

const DATASET_SHAPE =
  'dataset takes an object: `dataset: {path: FILE}`, `{datanet: datanet.yaml}`, `{registry: dataset_info.json, name: ENTRY}`, `{hub: org/name}` or `{datanet_version: HUB/NAME@VERSION}`';
const DATASET_SOURCES =
  '"path" (a file), "datanet" (a datanet.yaml), "datanet_version" (a version published on a Datanet hub), ' +
  '"registry" with "name" (an entry of LLaMA-Factory\'s ' +
  'dataset_info.json) or "hub" (a dataset repository on the Hugging Face Hub)';

/** Which of an object dataset's sources is wrong; the trainer says the same (config.py `_check_dataset_sources`). */
function datasetSourcesMessage(dataset: Record<string, unknown>): string | undefined {
  const given = ['path', 'datanet', 'datanet_version', 'registry', 'hub'].filter((key) => key in dataset);
  if (given.length > 1)
    return `dataset has more than one source (${given.map((k) => `"${k}"`).join(' and ')}): keep one of ${DATASET_SOURCES}.`;
  if (given[0] === 'registry' && !('name' in dataset))
    return 'dataset.registry needs "name": the entry of the registry to train on.';
  if ('name' in dataset && given[0] !== 'registry')
    return 'dataset.name picks an entry of a registry: add "registry" (a dataset_info.json, relative to this config).';
  if (given.length === 0) return `dataset needs one source: ${DATASET_SOURCES}.`;
  return undefined;
}

/** A string that names a file (rather than, say, LLaMA-Factory's dataset names). */
function looksLikePath(value: string): boolean {
  return !/[\s,]/.test(value.trim()) && (/[\\/]/.test(value) || /\.[A-Za-z0-9]{1,8}$/.test(value.trim()));
}

function isManifestName(value: string): boolean {
  return /(^|[\\/])datanet\.ya?ml$/i.test(value.trim());
}

function datasetShapeMessage(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    return datasetSourcesMessage(value as Record<string, unknown>);
  if (typeof value === 'string' && value.trim() !== '') {
    if (looksLikePath(value)) {
      const key = isManifestName(value) ? 'datanet' : 'path';
      return `${DATASET_SHAPE}, not a string: write \`dataset: {${key}: ${value.trim()}}\`.`;
    }
    return `${DATASET_SHAPE}, not a string. "${value.trim()}" looks like LLaMA-Factory dataset names: name one entry of its registry, \`dataset: {registry: data/dataset_info.json, name: ENTRY}\`, or set path to the JSONL or JSON file itself.`;
  }
  if (Array.isArray(value)) {
    return `${DATASET_SHAPE}, not a list: a config trains on one file, or on the files a Datanet governs.`;
  }
  return `${DATASET_SHAPE}.`;
}

// ---- quick fixes ----

/** Quick fixes for a `config/unknown-key` finding: move, rename or remove the key. */
export function placementActions(parsed: ParsedYaml, finding: Finding): CodeAction[] {
  const key = finding.data?.['key'];
  const parent = finding.data?.['path'];
  if (typeof key !== 'string' || !Array.isArray(parent)) return [];
  const advice = adviceFor(parsed, key, parent as YamlPath);
  if (!advice || advice.kind === 'ambiguous') return [];
  const source = pairLines(parsed, [...advice.parent, key]);
  if (!source) return [];
  const remove = (title: string): CodeAction => ({
    title,
    rule: finding.rule,
    edits: [{ range: parsed.lines.rangeOf(source.removeStart, source.end), newText: '' }],
    isPreferred: true,
  });
  if (advice.kind === 'foreign') return [remove(`Remove \`${key}\``)];
  if (advice.taken) return [remove(`Remove \`${key}\` (\`${dotted(advice.to)}\` is already set)`)];
  const newKey = String(advice.to[advice.to.length - 1]);
  let body: string[] | undefined;
  if (advice.kind === 'move') body = source.body;
  else {
    const value = valueAt(parsed.data, [...advice.parent, key]);
    const converted = advice.alias.convert?.(value);
    if (converted === undefined) return [];
    if (samePath(advice.to.slice(0, -1), advice.parent)) {
      return renameInPlace(parsed, [...advice.parent, key], newKey, converted, value, finding.rule);
    }
    body =
      JSON.stringify(converted) === JSON.stringify(value)
        ? source.body
        : [`${key}: ${formatValue(converted)}${source.comment}`];
  }
  const renamed = rename(body, key, newKey);
  const edits = renamed && moveEdits(parsed, source, renamed, advice.to.slice(0, -1));
  if (!edits) return [];
  const title =
    advice.kind === 'move'
      ? `Move \`${key}\` ${advice.to.length === 1 ? 'to the top level' : `under \`${dotted(advice.to.slice(0, -1))}:\``}`
      : `Change \`${key}\` to \`${dotted(advice.to)}\``;
  return [{ title, rule: finding.rule, edits, isPreferred: true }];
}

/** `lora_rank: 8` under `lora:` becomes `r: 8` where it stands (the value rewritten only when it changes). */
function renameInPlace(
  parsed: ParsedYaml,
  path: YamlPath,
  newKey: string,
  converted: unknown,
  value: unknown,
  rule: string,
): CodeAction[] {
  const { keyNode, valueNode } = locatePath(parsed.doc, path);
  const keySpan = keyNode ? nodeSpan(keyNode) : undefined;
  const valueSpan = valueNode ? nodeSpan(valueNode) : undefined;
  if (!keySpan) return [];
  const unchanged = JSON.stringify(converted) === JSON.stringify(value);
  const edit: TextEdit =
    unchanged || !valueSpan
      ? { range: parsed.lines.rangeOf(keySpan[0], keySpan[1]), newText: newKey }
      : { range: parsed.lines.rangeOf(keySpan[0], valueSpan[1]), newText: `${newKey}: ${formatValue(converted)}` };
  const title = `Change \`${String(path[path.length - 1])}\` to \`${dotted([...path.slice(0, -1), newKey])}\``;
  return [{ title, rule, edits: [edit], isPreferred: true }];
}

interface PairLines {
  /** Offset of the first line of the key (its indentation included). */
  start: number;
  /** Where a removal starts: `start`, or the parent key's line when the key is its only child. */
  removeStart: number;
  /** Offset just past the last line of the value. */
  end: number;
  /** The pair's lines without their common indentation. */
  body: string[];
  /** The comment at the end of a one-line pair (` # …`), else ''. */
  comment: string;
}

/** The whole lines a block-map pair covers, when it starts its line. */
function pairLines(parsed: ParsedYaml, path: YamlPath): PairLines | undefined {
  const parentPath = path.slice(0, -1);
  const parentNode = parentPath.length === 0 ? parsed.doc.contents : locatePath(parsed.doc, parentPath).valueNode;
  if (!isMap(parentNode) || parentNode.flow) return undefined;
  const pair = findPair(parentNode, String(path[path.length - 1]));
  const keySpan = pair?.key ? nodeSpan(pair.key) : undefined;
  if (!pair || !keySpan) return undefined;
  const { lines } = parsed;
  const firstLine = lines.positionAt(keySpan[0]).line;
  const start = lines.lineStart(firstLine);
  const column = keySpan[0] - start;
  if (parsed.text.slice(start, keySpan[0]).trim() !== '') return undefined;
  const valueSpan = pair.value ? nodeSpan(pair.value) : undefined;
  const last = Math.max(keySpan[1], valueSpan?.[1] ?? 0);
  const lastLine = lines.positionAt(last).line;
  const end = nextLineStart(parsed, last);
  const body: string[] = [];
  for (let line = firstLine; line <= lastLine; line++) {
    const text = lines.lineText(line);
    if (text.trim() === '') body.push('');
    else if (/^ */.exec(text)![0].length < column) return undefined;
    else body.push(text.slice(column));
  }
  const comment =
    firstLine === lastLine ? (/\s+#.*$/.exec(parsed.text.slice(last, lines.lineEnd(lastLine)))?.[0] ?? '') : '';
  let removeStart = start;
  if (parentPath.length > 0 && parentNode.items.length === 1) {
    const parentKey = locatePath(parsed.doc, parentPath).keyNode;
    const parentSpan = parentKey ? nodeSpan(parentKey) : undefined;
    if (parentSpan) {
      const parentLine = lines.positionAt(parentSpan[0]).line;
      const lineStart = lines.lineStart(parentLine);
      if (parentLine < firstLine && parsed.text.slice(lineStart, parentSpan[0]).trim() === '') removeStart = lineStart;
    }
  }
  return { start, removeStart, end, body, comment };
}

/** The pair's lines under the new key name; undefined when the key is not written plainly (quoted). */
function rename(body: string[], from: string, to: string): string[] | undefined {
  if (!body[0]?.startsWith(from) || !/^\s*:/.test(body[0].slice(from.length))) return undefined;
  return [to + body[0].slice(from.length), ...body.slice(1)];
}

/** The edits that delete `source` and write `body` under `parent` (created at the end when missing). */
function moveEdits(parsed: ParsedYaml, source: PairLines, body: string[], parent: YamlPath): TextEdit[] | undefined {
  const eol = eolOf(parsed.text);
  const unit = indentUnit(parsed);
  const top = topIndent(parsed);
  const block = (indent: number, lines: string[]) =>
    lines.map((l) => (l === '' ? '' : ' '.repeat(indent) + l)).join(eol) + eol;
  let at: number;
  let text: string;
  const atEnd = () => {
    const needsBreak = parsed.text.length > 0 && !/[\r\n]$/.test(parsed.text);
    return { at: parsed.text.length, prefix: needsBreak ? eol : '' };
  };
  if (parent.length === 0) {
    const end = atEnd();
    at = end.at;
    text = end.prefix + block(top, body);
  } else {
    const location = locatePath(parsed.doc, parent);
    if (location.depth === parent.length) {
      const node = location.valueNode;
      if (isMap(node) && !node.flow && node.items.length > 0) {
        const first = (node as YAMLMap<Node, Node | null>).items[0] as Pair<Node, Node | null>;
        const firstSpan = first.key ? nodeSpan(first.key) : undefined;
        const span = nodeSpan(node);
        if (!firstSpan || !span) return undefined;
        at = nextLineStart(parsed, span[1]);
        text = block(parsed.lines.positionAt(firstSpan[0]).character, body);
        if (at === parsed.text.length && !/[\r\n]$/.test(parsed.text)) text = eol + text;
      } else if (node === undefined || node === null || (isScalar(node) && node.value === null)) {
        const keySpan = location.keyNode ? nodeSpan(location.keyNode) : undefined;
        if (!keySpan) return undefined;
        at = nextLineStart(parsed, keySpan[1]);
        text = block(parsed.lines.positionAt(keySpan[0]).character + unit, body);
        if (at === parsed.text.length && !/[\r\n]$/.test(parsed.text)) text = eol + text;
      } else {
        return undefined;
      }
    } else if (parent.length === 1 && location.depth === 0) {
      const end = atEnd();
      at = end.at;
      text = end.prefix + block(top, [`${String(parent[0])}:`]) + block(top + unit, body);
    } else {
      return undefined;
    }
  }
  // An insertion that touches the removed lines becomes one replacement (edits must not overlap).
  // The removed lines start a line, so a line break put before the text for the file's end goes.
  if (at >= source.removeStart && at <= source.end) {
    const newText = text.startsWith(eol) ? text.slice(eol.length) : text;
    return [{ range: parsed.lines.rangeOf(source.removeStart, source.end), newText }];
  }
  return [
    { range: parsed.lines.rangeOf(source.removeStart, source.end), newText: '' },
    { range: parsed.lines.rangeOf(at, at), newText: text },
  ];
}

/** The quick fix for `dataset: FILE`: the same file as `dataset: {path: FILE}` (block style). */
export function datasetShapeActions(parsed: ParsedYaml, finding: Finding): CodeAction[] {
  const path = finding.data?.['path'];
  if (!Array.isArray(path) || !samePath(path as YamlPath, ['dataset'])) return [];
  const { keyNode, valueNode } = locatePath(parsed.doc, ['dataset']);
  if (!keyNode || !isScalar(valueNode) || typeof valueNode.value !== 'string') return [];
  const value = valueNode.value;
  const keySpan = nodeSpan(keyNode);
  const valueSpan = nodeSpan(valueNode);
  if (!keySpan || !valueSpan || !looksLikePath(value) || isSeq(valueNode)) return [];
  const child = isManifestName(value) ? 'datanet' : 'path';
  const column = parsed.lines.positionAt(keySpan[0]).character + indentUnit(parsed);
  const original = parsed.text.slice(valueSpan[0], valueSpan[1]);
  return [
    {
      title: `Change to \`dataset: {${child}: ${value.trim()}}\``,
      rule: finding.rule,
      edits: [
        {
          range: parsed.lines.rangeOf(keySpan[1], valueSpan[1]),
          newText: `:${eolOf(parsed.text)}${' '.repeat(column)}${child}: ${original}`,
        },
      ],
      isPreferred: true,
    },
  ];
}
