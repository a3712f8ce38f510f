// The single source of truth for the `modelfactory.*` settings the language server reads.
// `package.json` `contributes.configuration` is generated from this (`npm run sync:settings`) and a
// test fails when the two drift apart.
import { DEFAULT_SETTINGS, type CoreSettings } from './core/settings';
import type { SeveritySetting } from './core/types';

export interface SettingSpec {
  key: string;
  type: 'number' | 'string' | 'object' | 'boolean';
  default: unknown;
  description: string;
  scope: 'application' | 'machine' | 'window' | 'resource';
  minimum?: number;
  maximum?: number;
  enum?: string[];
  additionalProperties?: unknown;
}

const SEVERITIES: SeveritySetting[] = ['error', 'warning', 'information', 'hint', 'off'];

export const SERVER_SETTINGS: SettingSpec[] = [
  {
    key: 'modelfactory.rules',
    type: 'object',
    default: {},
    description:
      'Severity per rule id, or per family with a trailing /* (for example {"pii/email": "off", "dedup/*": "error"}). A Datanet manifest can override these for the files it governs.',
    scope: 'resource',
    additionalProperties: { enum: SEVERITIES },
  },
  {
    key: 'modelfactory.gpuMemoryGb',
    type: 'number',
    default: DEFAULT_SETTINGS.gpuMemoryGb,
    minimum: 1,
    maximum: 4096,
    description: 'GPU memory available for training, in GiB. config/memory warns when the estimate exceeds it.',
    scope: 'resource',
  },
  {
    key: 'modelfactory.dataset.maxTokens',
    type: 'number',
    default: DEFAULT_SETTINGS.maxTokens,
    minimum: 1,
    description: 'Token limit for length/too-long when no Datanet manifest sets rules.max_tokens.',
    scope: 'resource',
  },
  {
    key: 'modelfactory.dataset.nearDuplicateThreshold',
    type: 'number',
    default: DEFAULT_SETTINGS.nearDuplicateThreshold,
    minimum: 0.5,
    maximum: 1,
    description: 'Estimated Jaccard similarity at or above which two records are near-duplicates (dedup/near).',
    scope: 'resource',
  },
  {
    key: 'modelfactory.dataset.tokenizer',
    type: 'string',
    default: DEFAULT_SETTINGS.tokenizer,
    description:
      'Tokenizer for counting tokens in dataset files that no Datanet or fine-tune config names: a Hugging Face id in the local cache, a model folder, or a tokenizer.json. Empty: a documented estimate.',
    scope: 'resource',
  },
];

/** Reads the settings object VS Code sends (`workspace/configuration` for section `modelfactory`). */
export function toCoreSettings(section: unknown): CoreSettings {
  const s = (typeof section === 'object' && section !== null ? section : {}) as Record<string, unknown>;
  const dataset = (typeof s['dataset'] === 'object' && s['dataset'] !== null ? s['dataset'] : {}) as Record<
    string,
    unknown
  >;
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const rules: Record<string, SeveritySetting> = {};
  if (typeof s['rules'] === 'object' && s['rules'] !== null) {
    for (const [id, sev] of Object.entries(s['rules'] as Record<string, unknown>)) {
      if (typeof sev === 'string' && (SEVERITIES as string[]).includes(sev)) rules[id] = sev as SeveritySetting;
    }
  }
  return {
    rules,
    gpuMemoryGb: num(s['gpuMemoryGb'], DEFAULT_SETTINGS.gpuMemoryGb),
    maxTokens: num(dataset['maxTokens'], DEFAULT_SETTINGS.maxTokens),
    nearDuplicateThreshold: num(dataset['nearDuplicateThreshold'], DEFAULT_SETTINGS.nearDuplicateThreshold),
    tokenizer: typeof dataset['tokenizer'] === 'string' ? dataset['tokenizer'] : DEFAULT_SETTINGS.tokenizer,
  };
}

/** The `contributes.configuration` block for package.json. */
export function configurationContribution(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const spec of SERVER_SETTINGS) {
    const { key, ...rest } = spec;
    properties[key] = rest;
  }
  return { title: 'ModelFactory', properties };
}
