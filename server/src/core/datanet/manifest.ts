// The Datanet manifest (`datanet.yaml`): its typed form and how it turns into rule settings for the
// files it governs.
import type { RecordFormat } from '../dataset/formats';
import type { RuleOverrides } from '../rules';
import type { SeveritySetting } from '../types';

export interface DatanetManifest {
  name: string;
  description?: string;
  kind?: 'text' | 'chat' | 'preference';
  format?: RecordFormat | 'auto';
  files: string[];
  file_types?: string[];
  record_schema?: string;
  tokenizer?: string;
  limits?: { max_file_mb?: number; daily_mb?: number; daily_files?: number };
  /** On a Datanet hub: contributions wait for a curator's approval. */
  review?: { required?: boolean };
  /** The Datanet hub this folder contributes to: its daily caps are then counted by the hub's ledger. */
  hub?: { url: string; name?: string };
  rules?: {
    dedup?: { exact?: SeveritySetting; near?: SeveritySetting; threshold?: number };
    pii?: SeveritySetting;
    max_tokens?: number;
    min_chars?: number;
    severity?: Record<string, SeveritySetting>;
  };
}

export const MANIFEST_FILE_NAMES = ['datanet.yaml', 'datanet.yml'] as const;

export function isManifestPath(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return (MANIFEST_FILE_NAMES as readonly string[]).includes(base);
}

/** The severity overrides a manifest implies, in the order they apply (later wins). */
export function manifestRuleOverrides(manifest: DatanetManifest): RuleOverrides {
  const out: Record<string, SeveritySetting> = {};
  const rules = manifest.rules;
  if (!rules) return out;
  if (rules.pii !== undefined) {
    out['pii/*'] = rules.pii;
    out['secret/*'] = rules.pii;
  }
  if (rules.dedup?.exact !== undefined) out['dedup/exact'] = rules.dedup.exact;
  if (rules.dedup?.near !== undefined) out['dedup/near'] = rules.dedup.near;
  Object.assign(out, rules.severity ?? {});
  return out;
}

/** A parsed manifest value is only trusted after schema validation; this narrows the shape cheaply. */
export function asManifest(value: unknown): DatanetManifest | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v['name'] !== 'string' || !Array.isArray(v['files'])) return undefined;
  if (!v['files'].every((f) => typeof f === 'string')) return undefined;
  return v as unknown as DatanetManifest;
}
