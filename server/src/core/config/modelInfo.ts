// Facts about a base model read from disk (a local directory or a cached Hugging Face snapshot):
// config.json and the safetensors headers. Only headers are read (8-byte little-endian length,
// then that many bytes of JSON); no weight is ever loaded. Disk facts win over the catalog.
import { resolveModelDir, joinPath } from '../hfCache';
import { formatCap, READ_CAPS, readChecked, type Environment } from '../io';
import { lookupModel, moduleNames } from './catalog';
import type { LinearModule, ModelDimensions, ModelSpec } from './catalog';

/** Headers larger than this are refused: a real one for a 400B model is a few MB (READ_CAPS.safetensorsHeader). */
export const MAX_SAFETENSORS_HEADER_BYTES = READ_CAPS.safetensorsHeader;
/** Shards read per model (a 405B model has 191); the rest are named in a problem, not read. */
const MAX_SHARDS = 1024;

/**
 * The largest plausible value of each dimension read from config.json. A value that is not a positive
 * whole number up to its bound (1e308, -5, "NaN") is a problem, never a fact: no "context window of -5
 * tokens", no "Infinity GiB".
 */
const DIMENSION_BOUNDS = {
  contextLength: 2 ** 24,
  hiddenSize: 2 ** 20,
  numLayers: 4096,
  numHeads: 4096,
  numKvHeads: 4096,
  headDim: 2 ** 16,
  intermediateSize: 2 ** 22,
  vocabSize: 2 ** 24,
} as const;

export interface DiskModelInfo extends Partial<ModelDimensions> {
  dir: string;
  architecture?: string;
  modelType?: string;
  /** config.json has an `auto_map`: the repository ships its own modeling code. */
  hasAutoMap: boolean;
  /** Sum of all tensor sizes in the safetensors headers; undefined without weights. */
  parameters?: number;
  /** The dtype most parameters are stored in (`BF16`, `F16`, `F32`...). */
  dtype?: string;
  /** 2-D weights other than embeddings and the output head, grouped by leaf name and shape. */
  linearModules: LinearModule[];
  /** Why some facts are missing: unreadable or hostile files. Never thrown. */
  problems: string[];
}

/** The facts the checks and the memory estimate work from, disk first, then catalog. */
export interface ModelFacts extends Partial<ModelDimensions> {
  id: string;
  source: 'disk' | 'catalog' | 'disk+catalog';
  family?: string;
  architecture?: string;
  parameters?: number;
  linearModules: LinearModule[];
  /** Valid LoRA target names (leaf names of linear layers). */
  moduleNames: string[];
  defaultTargets: string[];
  remoteCode: boolean;
  chatTemplate?: boolean;
  gated?: boolean;
}

export interface ResolvedModel {
  id: string;
  spec?: ModelSpec;
  /** Set when the catalog matched by name only. */
  catalogNote?: string;
  disk?: DiskModelInfo;
  /** Undefined when neither the catalog nor the disk knows the model. */
  facts?: ModelFacts;
}

const EMBEDDING_OR_HEAD =
  /(^|\.)(embed_tokens|wte|wpe|word_embeddings|embedding|embeddings|lm_head|output_layer|embed_out)(\.|$)/;

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function firstNumber(config: Record<string, unknown>, ...keys: string[]): number | undefined {
  for (const key of keys) {
    const value = num(config[key]);
    if (value !== undefined) return value;
  }
  return undefined;
}

async function readJson(env: Environment, path: string, problems: string[]): Promise<unknown> {
  const read = await readChecked(env, path, 'modelConfig');
  if ('refused' in read) {
    if (!read.missing) problems.push(read.refused + '.');
    return undefined;
  }
  const bytes = read.bytes;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    problems.push(`${path}: not valid JSON (${(error as Error).message}).`);
    return undefined;
  }
}

interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
}

/** The tensor entries of one safetensors file's header, or a problem description. */
export async function readSafetensorsHeader(
  env: Environment,
  path: string,
): Promise<{ tensors: TensorEntry[] } | { problem: string }> {
  const stat = await env.fs.stat(path);
  if (!stat?.isFile) return { problem: `${path}: not found.` };
  const prefix = await env.fs.readRange(path, 0, 8);
  if (!prefix || prefix.length < 8) return { problem: `${path}: too short for a safetensors header.` };
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const length = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  const cap = env.readCaps?.safetensorsHeader ?? MAX_SAFETENSORS_HEADER_BYTES;
  if (length > cap) {
    return {
      problem: `${path}: header length ${length} bytes is over the ${formatCap(cap)} cap for a safetensors header; it is not read.`,
    };
  }
  if (8 + length > stat.size) return { problem: `${path}: header length ${length} runs past the end of the file.` };
  const header = await env.fs.readRange(path, 8, 8 + length);
  if (!header || header.length < length) return { problem: `${path}: header could not be read.` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(header));
  } catch (error) {
    return { problem: `${path}: header is not valid JSON (${(error as Error).message}).` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { problem: `${path}: header is not a JSON object.` };
  }
  const tensors: TensorEntry[] = [];
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__' || typeof entry !== 'object' || entry === null) continue;
    const { dtype, shape } = entry as { dtype?: unknown; shape?: unknown };
    if (typeof dtype !== 'string' || !Array.isArray(shape)) continue;
    if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) continue;
    tensors.push({ name, dtype, shape: shape as number[] });
  }
  return { tensors };
}

async function safetensorsFiles(env: Environment, dir: string, problems: string[]): Promise<string[]> {
  const index = await readJson(env, joinPath(dir, 'model.safetensors.index.json'), problems);
  const weightMap = (index as { weight_map?: unknown } | undefined)?.weight_map;
  if (typeof weightMap === 'object' && weightMap !== null) {
    const shards = new Set<string>();
    for (const file of Object.values(weightMap as Record<string, unknown>)) {
      // Shard names are plain file names; anything that walks out of the folder is ignored.
      if (typeof file === 'string' && /^[\w.-]+\.safetensors$/.test(file)) shards.add(file);
    }
    if (shards.size > MAX_SHARDS) {
      problems.push(`${dir}: ${shards.size} shards named by the index; only the first ${MAX_SHARDS} are read.`);
    }
    return [...shards].slice(0, MAX_SHARDS).map((file) => joinPath(dir, file));
  }
  return (await env.fs.stat(joinPath(dir, 'model.safetensors')))?.isFile ? [joinPath(dir, 'model.safetensors')] : [];
}

export async function readModelDir(dir: string, env: Environment): Promise<DiskModelInfo> {
  const problems: string[] = [];
  const info: DiskModelInfo = { dir, hasAutoMap: false, linearModules: [], problems };
  const raw = await readJson(env, joinPath(dir, 'config.json'), problems);
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const config = raw as Record<string, unknown>;
    const architectures = config['architectures'];
    if (Array.isArray(architectures) && typeof architectures[0] === 'string') info.architecture = architectures[0];
    if (typeof config['model_type'] === 'string') info.modelType = config['model_type'];
    setIfDefined(
      info,
      'contextLength',
      firstNumber(config, 'max_position_embeddings', 'n_positions', 'seq_length', 'max_sequence_length'),
    );
    setIfDefined(info, 'hiddenSize', firstNumber(config, 'hidden_size', 'n_embd', 'd_model'));
    setIfDefined(info, 'numLayers', firstNumber(config, 'num_hidden_layers', 'n_layer', 'num_layers'));
    setIfDefined(info, 'numHeads', firstNumber(config, 'num_attention_heads', 'n_head'));
    setIfDefined(
      info,
      'numKvHeads',
      firstNumber(config, 'num_key_value_heads', 'multi_query_group_num') ?? info.numHeads,
    );
    setIfDefined(
      info,
      'headDim',
      firstNumber(config, 'head_dim', 'kv_channels') ??
        (info.hiddenSize && info.numHeads ? info.hiddenSize / info.numHeads : undefined),
    );
    setIfDefined(info, 'intermediateSize', firstNumber(config, 'intermediate_size', 'ffn_hidden_size', 'n_inner'));
    setIfDefined(info, 'vocabSize', firstNumber(config, 'vocab_size', 'padded_vocab_size'));
    for (const [key, max] of Object.entries(DIMENSION_BOUNDS) as [keyof typeof DIMENSION_BOUNDS, number][]) {
      const value = info[key];
      if (value === undefined || (Number.isSafeInteger(value) && value > 0 && value <= max)) continue;
      problems.push(
        `${joinPath(dir, 'config.json')}: ${key} ${value} is not a whole number from 1 to ${max}; it is ignored.`,
      );
      delete info[key];
    }
    for (const [key, value] of Object.entries(config)) {
      if (
        typeof value === 'string' &&
        /^[-+]?(nan|inf(inity)?)$/i.test(value.trim()) &&
        /size|length|layers|heads|dim|vocab|positions/.test(key)
      )
        problems.push(
          `${joinPath(dir, 'config.json')}: ${key} is the string "${value.slice(0, 16)}", not a number; it is ignored.`,
        );
    }
    if (typeof config['tie_word_embeddings'] === 'boolean') info.tiedEmbeddings = config['tie_word_embeddings'];
    info.hasAutoMap = typeof config['auto_map'] === 'object' && config['auto_map'] !== null;
  } else if (raw !== undefined) {
    problems.push(`${joinPath(dir, 'config.json')}: not a JSON object.`);
  }

  const files = await safetensorsFiles(env, dir, problems);
  if (files.length === 0) return info;
  let parameters = 0;
  let hasHead = false;
  const byDtype = new Map<string, number>();
  const modules = new Map<string, LinearModule>();
  for (const file of files) {
    const header = await readSafetensorsHeader(env, file);
    if ('problem' in header) {
      problems.push(header.problem);
      continue;
    }
    for (const tensor of header.tensors) {
      const size = tensor.shape.reduce((a, b) => a * b, 1);
      parameters += size;
      byDtype.set(tensor.dtype, (byDtype.get(tensor.dtype) ?? 0) + size);
      if (/(^|\.)(lm_head|output_layer|embed_out)\.weight$/.test(tensor.name)) hasHead = true;
      if (tensor.shape.length !== 2 || !tensor.name.endsWith('.weight') || EMBEDDING_OR_HEAD.test(tensor.name))
        continue;
      const parts = tensor.name.split('.');
      const leaf = parts[parts.length - 2];
      if (!leaf) continue;
      const [out, inFeatures] = tensor.shape as [number, number];
      const key = `${leaf}|${inFeatures}|${out}`;
      const existing = modules.get(key);
      if (existing) existing.count++;
      else modules.set(key, { name: leaf, inFeatures, outFeatures: out, count: 1 });
    }
  }
  if (byDtype.size > 0) {
    info.parameters = parameters;
    info.dtype = [...byDtype.entries()].sort((a, b) => b[1] - a[1])[0]![0];
    info.linearModules = [...modules.values()];
    if (info.tiedEmbeddings === undefined) info.tiedEmbeddings = !hasHead;
  }
  return info;
}

function setIfDefined<K extends keyof DiskModelInfo>(
  info: DiskModelInfo,
  key: K,
  value: DiskModelInfo[K] | undefined,
): void {
  if (value !== undefined) info[key] = value;
}

const diskCache = new Map<string, { stamp: string; info: DiskModelInfo }>();

/** Reads a model folder once per change of its config.json and weight files (by size and mtime). */
async function readModelDirCached(dir: string, env: Environment): Promise<DiskModelInfo> {
  const stamps = await Promise.all(
    ['config.json', 'model.safetensors', 'model.safetensors.index.json'].map(async (name) => {
      const stat = await env.fs.stat(joinPath(dir, name));
      return stat ? `${stat.size}:${stat.mtimeMs}` : '-';
    }),
  );
  const stamp = stamps.join('|');
  const hit = diskCache.get(dir);
  if (hit && hit.stamp === stamp) return hit.info;
  const info = await readModelDir(dir, env);
  diskCache.set(dir, { stamp, info });
  if (diskCache.size > 64) diskCache.delete(diskCache.keys().next().value!);
  return info;
}

/** Catalog facts for `baseModel`, overlaid with whatever its folder on disk says. */
export async function resolveModel(baseModel: string, configDir: string, env: Environment): Promise<ResolvedModel> {
  const match = lookupModel(baseModel);
  const dir = await resolveModelDir(baseModel, configDir, env);
  const disk = dir ? await readModelDirCached(dir, env) : undefined;
  const result: ResolvedModel = { id: baseModel };
  if (match) {
    result.spec = match.spec;
    if (match.note) result.catalogNote = match.note;
  }
  if (disk) result.disk = disk;
  const facts = mergeFacts(baseModel, match?.spec, disk);
  if (facts) result.facts = facts;
  return result;
}

function mergeFacts(id: string, spec: ModelSpec | undefined, disk: DiskModelInfo | undefined): ModelFacts | undefined {
  const diskKnows = disk !== undefined && (disk.linearModules.length > 0 || disk.hiddenSize !== undefined);
  if (!spec && !diskKnows) return undefined;
  const linearModules = disk && disk.linearModules.length > 0 ? disk.linearModules : (spec?.linearModules ?? []);
  const names = moduleNames({ linearModules });
  const pick = <K extends keyof DiskModelInfo & keyof ModelSpec>(key: K): ModelSpec[K] | DiskModelInfo[K] | undefined =>
    (diskKnows ? disk?.[key] : undefined) ?? spec?.[key];
  const defaultTargets = (spec?.defaultTargets ?? []).filter((t) => names.includes(t));
  const facts: ModelFacts = {
    id,
    source: diskKnows ? (spec ? 'disk+catalog' : 'disk') : 'catalog',
    linearModules,
    moduleNames: names,
    defaultTargets: defaultTargets.length > 0 ? defaultTargets : guessTargets(names),
    remoteCode: spec?.remoteCode ?? disk?.hasAutoMap ?? false,
  };
  const assign = <K extends keyof ModelFacts>(key: K, value: ModelFacts[K] | undefined): void => {
    if (value !== undefined) facts[key] = value;
  };
  assign('family', spec?.family);
  assign('architecture', pick('architecture') as string | undefined);
  assign('contextLength', pick('contextLength') as number | undefined);
  assign('parameters', pick('parameters') as number | undefined);
  assign('hiddenSize', pick('hiddenSize') as number | undefined);
  assign('numLayers', pick('numLayers') as number | undefined);
  assign('numHeads', pick('numHeads') as number | undefined);
  assign('numKvHeads', pick('numKvHeads') as number | undefined);
  assign('headDim', pick('headDim') as number | undefined);
  assign('intermediateSize', pick('intermediateSize') as number | undefined);
  assign('vocabSize', pick('vocabSize') as number | undefined);
  assign('tiedEmbeddings', pick('tiedEmbeddings') as boolean | undefined);
  assign('chatTemplate', spec?.chatTemplate);
  assign('gated', spec?.gated);
  return facts;
}

/** For a model only known from disk: the attention projections PEFT would usually target. */
function guessTargets(names: string[]): string[] {
  for (const candidates of [['q_proj', 'v_proj'], ['c_attn'], ['query_key_value'], ['qkv_proj'], ['Wqkv']]) {
    if (candidates.every((c) => names.includes(c))) return candidates;
  }
  return names.slice(0, 2);
}
