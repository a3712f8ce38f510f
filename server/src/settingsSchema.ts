// The single source of truth for every `modelfactory.*` setting: those the language server reads
// (SERVER_SETTINGS) and those only the extension host reads (CLIENT_SETTINGS: the trainer's Python,
// endpoints). `package.json` `contributes.configuration` and `capabilities.untrustedWorkspaces
// .restrictedConfigurations` are generated from this (`npm run sync:settings`); a test fails on drift.
// The types follow from it too: the core's `CoreSettings` and `DEFAULT_SETTINGS` (core/settings.ts),
// `toCoreSettings`, and the extension's typed accessor (`getSetting` in client/src/settings.ts). Adding a
// setting is one entry here (then `npm run sync:settings`). Pure data: no vscode, no LSP, no I/O.
import type { SeveritySetting } from './core/types';

export interface SettingSpec {
  readonly key: `modelfactory.${string}`;
  readonly type: 'number' | 'string' | 'object' | 'boolean' | 'array';
  readonly default: unknown;
  readonly description: string;
  readonly scope: 'application' | 'machine' | 'window' | 'resource';
  readonly minimum?: number;
  readonly maximum?: number;
  readonly enum?: readonly string[];
  readonly additionalProperties?: unknown;
  readonly items?: unknown;
  /** Not read in an untrusted workspace's settings (it names a program to run or a host to reach). */
  readonly restricted?: boolean;
}

/** A setting the language server reads: `core` names its field in the core's `CoreSettings`. */
export interface ServerSettingSpec extends SettingSpec {
  readonly core: string;
}

const SEVERITIES = ['error', 'warning', 'information', 'hint', 'off'] as const satisfies readonly SeveritySetting[];

export const SERVER_SETTINGS = [
  {
    key: 'modelfactory.rules',
    core: 'rules',
    type: 'object',
    default: {},
    description:
      'Severity per rule id, or per family with a trailing /* (for example {"pii/email": "off", "dedup/*": "error"}). A Datanet manifest can override these for the files it governs.',
    scope: 'resource',
    additionalProperties: { enum: SEVERITIES },
  },
  {
    key: 'modelfactory.gpuMemoryGb',
    core: 'gpuMemoryGb',
    type: 'number',
    default: 24,
    minimum: 1,
    maximum: 4096,
    description: 'GPU memory available for training, in GiB. config/memory warns when the estimate exceeds it.',
    scope: 'resource',
  },
  {
    key: 'modelfactory.dataset.maxTokens',
    core: 'maxTokens',
    type: 'number',
    default: 4096,
    minimum: 1,
    description: 'Token limit for length/too-long when no Datanet manifest sets rules.max_tokens.',
    scope: 'resource',
  },
  {
    key: 'modelfactory.dataset.nearDuplicateThreshold',
    core: 'nearDuplicateThreshold',
    type: 'number',
    default: 0.85,
    minimum: 0.5,
    maximum: 1,
    description: 'Estimated Jaccard similarity at or above which two records are near-duplicates (dedup/near).',
    scope: 'resource',
  },
  {
    key: 'modelfactory.dataset.tokenizer',
    core: 'tokenizer',
    type: 'string',
    default: '',
    description:
      'Tokenizer for counting tokens in dataset files that no Datanet or fine-tune config names: a Hugging Face id in the local cache, a model folder, or a tokenizer.json. Empty: a documented estimate.',
    scope: 'resource',
  },
] as const satisfies readonly ServerSettingSpec[];

export const CLIENT_SETTINGS = [
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
    key: 'modelfactory.trainer.openai',
    type: 'boolean',
    default: false,
    description:
      'Start the local trainer with `serve --openai`: its base models and finished jobs\' adapters also answer on an OpenAI-compatible API on loopback (the local trainer\'s token as the key), and the playground offers it as the target "Local trainer (OpenAI API)". Takes effect when the local trainer next starts ("ModelFactory: Stop Local Trainer").',
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
] as const satisfies readonly SettingSpec[];

export const ALL_SETTINGS = [...SERVER_SETTINGS, ...CLIENT_SETTINGS] as const;

/** The value type a spec declares: its JSON type (a string enum as its union; an object whose values are
 * an enum as a record of it). Arrays and other objects are `unknown`: whoever reads them parses them. */
export type ValueOfSpec<S> = S extends { type: 'number' }
  ? number
  : S extends { type: 'boolean' }
    ? boolean
    : S extends { type: 'string'; enum: readonly (infer E)[] }
      ? E
      : S extends { type: 'string' }
        ? string
        : S extends { type: 'object'; additionalProperties: { enum: readonly (infer E)[] } }
          ? Readonly<Record<string, E>>
          : unknown;

export type SettingKey = (typeof ALL_SETTINGS)[number]['key'];
export type SettingValue<K extends SettingKey> = ValueOfSpec<Extract<(typeof ALL_SETTINGS)[number], { key: K }>>;

/** The core's settings: one field per server setting, named by its `core`, typed by its spec. */
export type CoreSettingsOf = {
  -readonly [S in (typeof SERVER_SETTINGS)[number] as S['core']]: ValueOfSpec<S>;
};

const BY_KEY = new Map<string, SettingSpec>(ALL_SETTINGS.map((spec) => [spec.key, spec]));

export function settingSpec(key: SettingKey): SettingSpec {
  const spec = BY_KEY.get(key);
  if (spec === undefined) throw new Error(`bug: no setting ${key}`);
  return spec;
}

/**
 * A value read from VS Code's settings as its spec types it. settings.json may hold anything: a value of
 * another type reads as the default; an object whose values are an enum keeps only the entries in it.
 */
export function settingValue(spec: SettingSpec, raw: unknown): unknown {
  switch (spec.type) {
    case 'number':
      return typeof raw === 'number' && Number.isFinite(raw) ? raw : spec.default;
    case 'boolean':
      return typeof raw === 'boolean' ? raw : spec.default;
    case 'string':
      return typeof raw === 'string' && (spec.enum === undefined || spec.enum.includes(raw)) ? raw : spec.default;
    case 'array':
      return Array.isArray(raw) ? raw : spec.default;
    case 'object': {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return spec.default;
      const allowed = (spec.additionalProperties as { enum?: readonly unknown[] } | undefined)?.enum;
      if (allowed === undefined) return raw;
      return Object.fromEntries(Object.entries(raw).filter(([, value]) => allowed.includes(value)));
    }
  }
}

/** The value at a setting's key in the section object VS Code sends for `modelfactory` (nested by dots). */
function valueInSection(section: unknown, key: string): unknown {
  let at: unknown = section;
  for (const part of key.split('.').slice(1)) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** Every server setting's default, as the core reads them. */
export function defaultCoreSettings(): CoreSettingsOf {
  return Object.fromEntries(SERVER_SETTINGS.map((spec) => [spec.core, spec.default])) as CoreSettingsOf;
}

/** Reads the settings object VS Code sends (`workspace/configuration` for section `modelfactory`). */
export function toCoreSettings(section: unknown): CoreSettingsOf {
  return Object.fromEntries(
    SERVER_SETTINGS.map((spec) => [spec.core, settingValue(spec, valueInSection(section, spec.key))]),
  ) as CoreSettingsOf;
}

/** The `contributes.configuration` block for package.json. */
export function configurationContribution(): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const spec of ALL_SETTINGS) {
    properties[spec.key] = Object.fromEntries(
      Object.entries(spec).filter(([name]) => name !== 'key' && name !== 'restricted' && name !== 'core'),
    );
  }
  return { title: 'ModelFactory', properties };
}

/** The settings an untrusted workspace may not set (`capabilities.untrustedWorkspaces`). */
export function restrictedConfigurations(): string[] {
  return (ALL_SETTINGS as readonly SettingSpec[]).filter((s) => s.restricted).map((s) => s.key);
}
