// The single source of truth for every `modelfactory.*` setting: those the language server reads
// (SERVER_SETTINGS) and those only the extension host reads (CLIENT_SETTINGS: the trainer's Python,
// endpoints). `package.json` `contributes.configuration` and `capabilities.untrustedWorkspaces
// .restrictedConfigurations` are generated from this (`npm run sync:settings`); a test fails on drift.
import { DEFAULT_SETTINGS, type CoreSettings } from './core/settings';
import type { SeveritySetting } from './core/types';

export interface SettingSpec {
  key: string;
  type: 'number' | 'string' | 'object' | 'boolean' | 'array';
  default: unknown;
  description: string;
  scope: 'application' | 'machine' | 'window' | 'resource';
  minimum?: number;
  maximum?: number;
  enum?: string[];
  additionalProperties?: unknown;
  items?: unknown;
  /** Not read in an untrusted workspace's settings (it names a program to run or a host to reach). */
  restricted?: boolean;
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

export const CLIENT_SETTINGS: SettingSpec[] = [
  {
    key: 'modelfactory.trainer.pythonPath',
    type: 'string',
    default: '',
    description:
      'Python interpreter with the trainer\'s dependencies (torch, transformers, peft). Empty: trainer/.venv in the workspace or the extension, else the environment made by "ModelFactory: Set Up Local Trainer".',
    scope: 'machine',
    restricted: true,
  },
  {
    key: 'modelfactory.trainer.endpoints',
    type: 'array',
    default: [],
    description:
      'Remote job servers (`python -m modelfactory_trainer serve` on a GPU machine). Tokens are kept in VS Code\'s secret storage, never here; add them with "ModelFactory: Add Remote Endpoint".',
    scope: 'machine',
    restricted: true,
    items: {
      type: 'object',
      required: ['name', 'url'],
      additionalProperties: false,
      properties: {
        name: {
          type: 'string',
          pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$',
          description: 'A label for the jobs view.',
        },
        url: { type: 'string', pattern: '^wss://', description: "The server's wss:// address." },
      },
    },
  },
  {
    key: 'modelfactory.openai.endpoints',
    type: 'array',
    default: [],
    description:
      "OpenAI-compatible endpoints for the chat playground (vLLM with --enable-lora, Ollama, llama.cpp's server, or the trainer's `serve --openai`). Keys are kept in VS Code's secret storage; add them with \"ModelFactory: Add OpenAI-Compatible Endpoint\".",
    scope: 'machine',
    restricted: true,
    items: {
      type: 'object',
      required: ['name', 'baseUrl'],
      additionalProperties: false,
      properties: {
        name: {
          type: 'string',
          pattern: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$',
          description: 'A label for the playground.',
        },
        baseUrl: {
          type: 'string',
          pattern: '^https?://',
          description: 'The base URL, e.g. https://host:8000/v1 (http only on loopback).',
        },
      },
    },
  },
  {
    key: 'modelfactory.trainer.defaultTarget',
    type: 'string',
    default: 'local',
    description: 'Where "ModelFactory: Train" sends a job without asking: "local" or a remote endpoint\'s name.',
    scope: 'window',
  },
  {
    key: 'modelfactory.trainer.trustRemoteCode',
    type: 'boolean',
    default: false,
    description:
      'Allow loading models whose code ships with their weights (trust_remote_code, for example ChatGLM). Off: such models are refused.',
    scope: 'machine',
    restricted: true,
  },
  {
    key: 'modelfactory.trainer.allowDownload',
    type: 'boolean',
    default: false,
    description:
      'Let the local trainer download a base model or dataset that is not in the Hugging Face cache from the Hub (with the token of "ModelFactory: Set Hugging Face Token" when set). Off by default: models weigh gigabytes, and a laptop should not start such a download unasked. Remote servers decide with `serve --allow-download`. Takes effect when the local trainer next starts ("ModelFactory: Stop Local Trainer").',
    scope: 'machine',
    restricted: true,
  },
  {
    key: 'modelfactory.hub.url',
    type: 'string',
    default: '',
    description:
      'The Datanet hub this editor submits to (`modelfactory hub serve`), e.g. https://hub.example.org (http only on localhost). The token is kept in VS Code\'s secret storage: "ModelFactory: Set Hub Token".',
    scope: 'machine',
    restricted: true,
  },
];

export const ALL_SETTINGS: SettingSpec[] = [...SERVER_SETTINGS, ...CLIENT_SETTINGS];

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
  for (const spec of ALL_SETTINGS) {
    properties[spec.key] = Object.fromEntries(
      Object.entries(spec).filter(([name]) => name !== 'key' && name !== 'restricted'),
    );
  }
  return { title: 'ModelFactory', properties };
}

/** The settings an untrusted workspace may not set (`capabilities.untrustedWorkspaces`). */
export function restrictedConfigurations(): string[] {
  return ALL_SETTINGS.filter((s) => s.restricted).map((s) => s.key);
}
