// The fine-tune config schema (schemas/finetune.schema.json, shared with the Python trainer),
// compiled once, and a typed, defensive view of a parsed config with the schema's defaults.
import Ajv from 'ajv';
import type { ValidateFunction } from 'ajv';
import finetuneSchema from '../../../../schemas/finetune.schema.json';
import type { YamlPath } from '../yaml/paths';
import { schemaAt as schemaAtIn } from '../yaml/schemaAssist';
import type { SchemaNode } from '../yaml/schemaAssist';

export type { SchemaNode };

export const FINETUNE_SCHEMA = finetuneSchema as SchemaNode;

let compiled: ValidateFunction | undefined;

/** The compiled validator (all errors, verbose so errors carry their schema for did-you-mean). */
export function finetuneValidator(): ValidateFunction {
  compiled ??= new Ajv({ allErrors: true, verbose: true, strict: false }).compile(finetuneSchema);
  return compiled;
}

/** The sub-schema of the fine-tune config describing the value at `path`. */
export function schemaAt(path: YamlPath): SchemaNode | undefined {
  return schemaAtIn(FINETUNE_SCHEMA, path);
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

function defaultOf<T>(path: YamlPath, check: (v: unknown) => T | undefined, fallback: T): T {
  return check(schemaAt(path)?.default) ?? fallback;
}

export interface ConfigView {
  baseModel?: string;
  method: 'lora' | 'qlora';
  methodGiven: boolean;
  trustRemoteCode: boolean;
  datasetPath?: string;
  datanet?: string;
  /** `dataset.registry` (a LLaMA-Factory dataset_info.json) and `dataset.name`, the entry in it. */
  registry?: string;
  registryName?: string;
  format: string;
  /** What training optimises: sft (the default), dpo, orpo or kto. */
  objective: string;
  loraRank: number;
  loraDropout: number;
  targetModules: string[] | 'all-linear';
  hasQuantization: boolean;
  doubleQuant: boolean;
  learningRate?: number;
  /** training.beta of the preference objectives, when given. */
  beta?: number;
  batchSize: number;
  maxSeqLength: number;
  precision: 'bf16' | 'fp16' | 'fp32';
  gradientCheckpointing: boolean;
}

/** What the config says, with the schema's defaults for what it leaves out; wrong types count as absent. */
export function viewConfig(data: unknown): ConfigView {
  const root = asRecord(data) ?? {};
  const dataset = asRecord(root['dataset']) ?? {};
  const lora = asRecord(root['lora']) ?? {};
  const quantization = asRecord(root['quantization']);
  const training = asRecord(root['training']) ?? {};
  const method = root['method'] === 'qlora' || root['method'] === 'lora' ? root['method'] : undefined;
  const targets = lora['target_modules'];
  const precision = training['precision'];
  const view: ConfigView = {
    method:
      method ?? defaultOf(['method'], (v) => (v === 'qlora' ? 'qlora' : v === 'lora' ? 'lora' : undefined), 'lora'),
    methodGiven: method !== undefined,
    trustRemoteCode: root['trust_remote_code'] === true,
    format: str(dataset['format']) ?? 'auto',
    objective: str(root['objective']) ?? 'sft',
    loraRank: num(lora['r']) ?? defaultOf(['lora', 'r'], num, 16),
    loraDropout: num(lora['dropout']) ?? defaultOf(['lora', 'dropout'], num, 0.05),
    targetModules:
      targets === 'all-linear'
        ? 'all-linear'
        : Array.isArray(targets)
          ? targets.filter((t): t is string => typeof t === 'string')
          : ['q_proj', 'v_proj'],
    hasQuantization: quantization !== undefined,
    doubleQuant: bool(quantization?.['double_quant']) ?? true,
    batchSize: num(training['batch_size']) ?? defaultOf(['training', 'batch_size'], num, 4),
    maxSeqLength: num(training['max_seq_length']) ?? defaultOf(['training', 'max_seq_length'], num, 2048),
    precision: precision === 'fp16' || precision === 'fp32' || precision === 'bf16' ? precision : 'bf16',
    gradientCheckpointing:
      bool(training['gradient_checkpointing']) ?? defaultOf(['training', 'gradient_checkpointing'], bool, true),
  };
  const baseModel = str(root['base_model']);
  if (baseModel !== undefined) view.baseModel = baseModel;
  const datasetPath = str(dataset['path']);
  if (datasetPath !== undefined) view.datasetPath = datasetPath;
  const datanet = str(dataset['datanet']);
  if (datanet !== undefined) view.datanet = datanet;
  const registry = str(dataset['registry']);
  if (registry !== undefined) view.registry = registry;
  const registryName = str(dataset['name']);
  if (registryName !== undefined) view.registryName = registryName;
  const learningRate = num(training['learning_rate']);
  if (learningRate !== undefined) view.learningRate = learningRate;
  const beta = num(training['beta']);
  if (beta !== undefined) view.beta = beta;
  return view;
}
