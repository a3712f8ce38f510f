// Messages between the hyperparameter panel's host (extension) and its webview. Both sides import
// this file; every message is checked by the `parse…` function of its direction before it is used.
//
// host -> webview: `state` (the form's values read from the YAML, the choices, diagnostics, memory).
// webview -> host: `ready`, `set` (one field from the allow list, typed per field), `train`, `reveal`.
import finetuneSchema from '../../../schemas/finetune.schema.json';
import { hasOnlyKeys, isArrayOf, isBool, isInt, isNum, isObj, isOneOf, isStr, messageType } from './validate';
import type { Obj } from './validate';

export type FieldKind = 'string' | 'enum' | 'integer' | 'number' | 'boolean' | 'modules';
export type FieldGroup = 'Model' | 'Dataset' | 'LoRA' | 'Quantization' | 'Training' | 'Output';

export interface FieldSpec {
  /** The dotted YAML path: the `data-field` hook and the `set` message's `path`. */
  path: string;
  kind: FieldKind;
  group: FieldGroup;
  label: string;
  /** The schema requires the key, so the form never removes it. */
  required?: boolean;
}

/** The fields the form edits, in display order. A `set` for any other path is refused. */
export const FIELDS = [
  { path: 'base_model', kind: 'string', group: 'Model', label: 'Base model', required: true },
  { path: 'method', kind: 'enum', group: 'Model', label: 'Method', required: true },
  { path: 'trust_remote_code', kind: 'boolean', group: 'Model', label: 'Trust remote code' },
  { path: 'dataset.format', kind: 'enum', group: 'Dataset', label: 'Record format' },
  { path: 'dataset.eval_split', kind: 'number', group: 'Dataset', label: 'Eval split' },
  { path: 'lora.r', kind: 'integer', group: 'LoRA', label: 'Rank (r)' },
  { path: 'lora.alpha', kind: 'number', group: 'LoRA', label: 'Alpha' },
  { path: 'lora.dropout', kind: 'number', group: 'LoRA', label: 'Dropout' },
  { path: 'lora.target_modules', kind: 'modules', group: 'LoRA', label: 'Target modules' },
  { path: 'quantization.bits', kind: 'integer', group: 'Quantization', label: 'Bits' },
  { path: 'quantization.type', kind: 'enum', group: 'Quantization', label: 'Type' },
  { path: 'quantization.double_quant', kind: 'boolean', group: 'Quantization', label: 'Double quantization' },
  { path: 'training.epochs', kind: 'number', group: 'Training', label: 'Epochs' },
  { path: 'training.max_steps', kind: 'integer', group: 'Training', label: 'Max steps' },
  { path: 'training.learning_rate', kind: 'number', group: 'Training', label: 'Learning rate' },
  { path: 'training.batch_size', kind: 'integer', group: 'Training', label: 'Batch size' },
  {
    path: 'training.gradient_accumulation_steps',
    kind: 'integer',
    group: 'Training',
    label: 'Gradient accumulation steps',
  },
  { path: 'training.max_seq_length', kind: 'integer', group: 'Training', label: 'Max sequence length' },
  { path: 'training.lr_scheduler', kind: 'enum', group: 'Training', label: 'LR scheduler' },
  { path: 'training.warmup_ratio', kind: 'number', group: 'Training', label: 'Warmup ratio' },
  { path: 'training.weight_decay', kind: 'number', group: 'Training', label: 'Weight decay' },
  { path: 'training.precision', kind: 'enum', group: 'Training', label: 'Precision' },
  { path: 'training.gradient_checkpointing', kind: 'boolean', group: 'Training', label: 'Gradient checkpointing' },
  { path: 'training.packing', kind: 'boolean', group: 'Training', label: 'Packing' },
  { path: 'training.seed', kind: 'integer', group: 'Training', label: 'Seed' },
  { path: 'output_dir', kind: 'string', group: 'Output', label: 'Output folder' },
  { path: 'target', kind: 'string', group: 'Output', label: 'Target' },
] as const satisfies readonly FieldSpec[];

export type FieldPath = (typeof FIELDS)[number]['path'];
export const FIELD_PATHS: readonly FieldPath[] = FIELDS.map((f) => f.path);

export type FieldValue = string | number | boolean | string[];

export function fieldSpec(path: FieldPath): FieldSpec {
  return FIELDS.find((f) => f.path === path)!;
}

export function isFieldPath(v: unknown): v is FieldPath {
  return isOneOf(v, FIELD_PATHS);
}

interface SchemaPart {
  enum?: unknown[];
  pattern?: string;
  properties?: Record<string, SchemaPart>;
}

function schemaPart(path: string): SchemaPart | undefined {
  let node: SchemaPart | undefined = finetuneSchema as SchemaPart;
  for (const key of path.split('.')) node = node?.properties?.[key];
  return node;
}

/** The allowed values of every enum field, read from the schema (its single source). */
export const FIELD_ENUMS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  FIELDS.filter((f) => f.kind === 'enum').map((f) => [
    f.path,
    (schemaPart(f.path)?.enum ?? []).filter((v): v is string => typeof v === 'string'),
  ]),
);

const FIELD_PATTERNS: Readonly<Record<string, RegExp>> = Object.fromEntries(
  FIELDS.flatMap((f) => {
    const pattern = schemaPart(f.path)?.pattern;
    return pattern ? [[f.path, new RegExp(pattern)]] : [];
  }),
);

/** Longest string a field takes: a model id, a path, a target name. */
export const MAX_STRING_LENGTH = 500;
/** A module name as models spell them (`q_proj`, `query_key_value`, `self_attn.o_proj`). */
const MODULE_NAME = /^[A-Za-z0-9_.-]{1,100}$/;
const MAX_MODULES = 256;
/** C0/C1 controls, line and paragraph separators, BOM and unpaired surrogates: none belongs in a field. */
const UNSAFE_CHARS =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function isSafeText(v: unknown, maxLength = MAX_STRING_LENGTH): v is string {
  return isStr(v, maxLength) && !UNSAFE_CHARS.test(v);
}

/** Whether `value` is a value the field can hold (its type, enum, pattern; ranges are the schema's to judge). */
export function isFieldValue(path: FieldPath, value: unknown): value is FieldValue {
  const spec = fieldSpec(path);
  switch (spec.kind) {
    case 'string':
      return isSafeText(value) && value.length > 0 && (FIELD_PATTERNS[path]?.test(value) ?? true);
    case 'enum':
      return isOneOf(value, FIELD_ENUMS[path] ?? []);
    case 'integer':
      return isInt(value, -(2 ** 53) + 1, 2 ** 53 - 1);
    case 'number':
      return isNum(value, -1e300, 1e300);
    case 'boolean':
      return isBool(value);
    case 'modules':
      return (
        value === 'all-linear' ||
        (isArrayOf(value, (m): m is string => isStr(m) && MODULE_NAME.test(m), MAX_MODULES) &&
          value.length > 0 &&
          new Set(value).size === value.length)
      );
  }
}

// ---- host -> webview ----------------------------------------------------------------------------

export type FieldStatus = 'ok' | 'absent' | 'invalid';

export interface FieldState {
  /** The value when `ok`; null when absent or invalid. */
  value: FieldValue | null;
  status: FieldStatus;
  /** The source text of an invalid value (shown so the user sees what the YAML says). */
  raw: string | null;
}

export type FormValues = Record<FieldPath, FieldState>;

export interface BaseModelChoice {
  id: string;
  /** The catalog's family, or null for a local folder. */
  family: string | null;
  source: 'catalog' | 'local';
}

export interface FormChoices {
  baseModels: BaseModelChoice[];
  /** Module names of the chosen base model (plus any the config already names). */
  targetModules: string[];
  enums: Record<string, string[]>;
  /** `local` and `remote:<name>` for each configured endpoint. */
  targets: string[];
}

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface DiagnosticView {
  /** The form field the finding is about, or null when it is about no field the form shows. */
  path: FieldPath | null;
  /** 0-based line in the YAML document. */
  line: number;
  severity: Severity;
  message: string;
  ruleId: string | null;
}

export interface MemoryView {
  model: string;
  totalBytes: number;
  gpuMemoryBytes: number;
  loraParameterCount: number;
  breakdown: { label: string; bytes: number }[];
}

export interface StateMessage {
  type: 'state';
  /** The config's URI: kept in the webview's state so the panel can be restored after a reload. */
  uri: string;
  fileName: string;
  values: FormValues;
  /** The YAML's first syntax error, when it has one (the form then reads what it can and edits nothing). */
  parseError: string | null;
  choices: FormChoices;
  diagnostics: DiagnosticView[];
  memory: MemoryView | null;
}

export type HostMessage = StateMessage;

const SEVERITIES: readonly Severity[] = ['error', 'warning', 'information', 'hint'];
const MAX_TEXT = 10_000;

function isFieldState(path: FieldPath, v: unknown): v is FieldState {
  if (!isObj(v) || !hasOnlyKeys(v, ['value', 'status', 'raw'])) return false;
  if (!(v['raw'] === null || isStr(v['raw'], MAX_TEXT))) return false;
  if (v['status'] === 'ok') return isFieldValue(path, v['value']);
  return isOneOf(v['status'], ['absent', 'invalid'] as const) && v['value'] === null;
}

function isFormValues(v: unknown): v is FormValues {
  return (
    isObj(v) && Object.keys(v).length === FIELD_PATHS.length && FIELD_PATHS.every((path) => isFieldState(path, v[path]))
  );
}

const isModelId = (v: unknown): v is string => isSafeText(v);
const isModuleName = (v: unknown): v is string => isStr(v) && MODULE_NAME.test(v);

function isBaseModelChoice(v: unknown): v is BaseModelChoice {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['id', 'family', 'source']) &&
    isModelId(v['id']) &&
    (v['family'] === null || isStr(v['family'], 100)) &&
    isOneOf(v['source'], ['catalog', 'local'] as const)
  );
}

function isChoices(v: unknown): v is FormChoices {
  if (!isObj(v) || !hasOnlyKeys(v, ['baseModels', 'targetModules', 'enums', 'targets'])) return false;
  const enums = v['enums'];
  return (
    isArrayOf(v['baseModels'], isBaseModelChoice, 10_000) &&
    isArrayOf(v['targetModules'], isModuleName, MAX_MODULES) &&
    isObj(enums) &&
    Object.entries(enums).every(([key, values]) => isFieldPath(key) && isArrayOf(values, (x) => isStr(x, 100), 100)) &&
    isArrayOf(v['targets'], (x): x is string => isSafeText(x, 200), 1000)
  );
}

function isDiagnostic(v: unknown): v is DiagnosticView {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['path', 'line', 'severity', 'message', 'ruleId']) &&
    (v['path'] === null || isFieldPath(v['path'])) &&
    isInt(v['line'], 0) &&
    isOneOf(v['severity'], SEVERITIES) &&
    isStr(v['message'], MAX_TEXT) &&
    (v['ruleId'] === null || isStr(v['ruleId'], 200))
  );
}

export function isMemoryView(v: unknown): v is MemoryView {
  return (
    isObj(v) &&
    hasOnlyKeys(v, ['model', 'totalBytes', 'gpuMemoryBytes', 'loraParameterCount', 'breakdown']) &&
    isStr(v['model'], MAX_STRING_LENGTH) &&
    isNum(v['totalBytes'], 0) &&
    isNum(v['gpuMemoryBytes'], 0) &&
    isNum(v['loraParameterCount'], 0) &&
    isArrayOf(
      v['breakdown'],
      (p): p is { label: string; bytes: number } =>
        isObj(p) && hasOnlyKeys(p, ['label', 'bytes']) && isStr(p['label'], 200) && isNum(p['bytes'], 0),
      50,
    )
  );
}

/** The webview's check of a host message: a `state` that matches exactly, or null. */
export function parseHostMessage(raw: unknown): HostMessage | null {
  if (messageType(raw, ['state'] as const) === null) return null;
  const m = raw as Obj;
  const ok =
    hasOnlyKeys(m, ['type', 'uri', 'fileName', 'values', 'parseError', 'choices', 'diagnostics', 'memory']) &&
    isSafeText(m['uri'], 4096) &&
    isStr(m['fileName'], 1000) &&
    isFormValues(m['values']) &&
    (m['parseError'] === null || isStr(m['parseError'], MAX_TEXT)) &&
    isChoices(m['choices']) &&
    isArrayOf(m['diagnostics'], isDiagnostic, 10_000) &&
    (m['memory'] === null || isMemoryView(m['memory']));
  return ok ? (m as unknown as StateMessage) : null;
}

// ---- webview -> host ----------------------------------------------------------------------------

export interface ReadyMessage {
  type: 'ready';
}
export interface SetMessage {
  type: 'set';
  path: FieldPath;
  /** The new value, or null to remove the key (the schema's default then applies). */
  value: FieldValue | null;
}
export interface TrainMessage {
  type: 'train';
}
export interface RevealMessage {
  type: 'reveal';
  line: number;
}

export type WebviewMessage = ReadyMessage | SetMessage | TrainMessage | RevealMessage;

const WEBVIEW_TYPES = ['ready', 'set', 'train', 'reveal'] as const;

/** The host's check of a webview message: an allow-listed type with exactly its fields, typed per field. */
export function parseWebviewMessage(raw: unknown): WebviewMessage | null {
  const type = messageType(raw, WEBVIEW_TYPES);
  if (type === null) return null;
  const m = raw as Obj;
  switch (type) {
    case 'ready':
    case 'train':
      return hasOnlyKeys(m, ['type']) ? { type } : null;
    case 'reveal':
      return hasOnlyKeys(m, ['type', 'line']) && isInt(m['line'], 0, 10_000_000) ? { type, line: m['line'] } : null;
    case 'set': {
      if (!hasOnlyKeys(m, ['type', 'path', 'value']) || !isFieldPath(m['path']) || !('value' in m)) return null;
      const path = m['path'];
      const value = m['value'];
      if (value === null) return fieldSpec(path).required ? null : { type, path, value: null };
      return isFieldValue(path, value) ? { type, path, value } : null;
    }
  }
}
