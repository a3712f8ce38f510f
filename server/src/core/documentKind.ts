// What kind of file a path names, from its name alone. A module of its own so that the extension
// client can ask without bundling the whole service.
import { isManifestPath } from './datanet/manifest';

/** Whether a path names a dataset registry (LLaMA-Factory reads `dataset_info.json` from its dataset_dir). */
export function isRegistryPath(path: string): boolean {
  return /(^|[\\/])dataset_info\.json$/i.test(path);
}

const baseName = (path: string) => path.slice(path.lastIndexOf('/') + 1).toLowerCase();

/**
 * What the trainer writes into a workspace that looks like a dataset but is not one: each record's loss
 * (`record-loss.jsonl`) and an evaluation's answers (`results.jsonl` in its default `eval/` folder). Linting
 * them as training data would bury real findings under format errors.
 */
export function isTrainerOutput(path: string): boolean {
  return baseName(path) === 'record-loss.jsonl' || /(^|[\\/])eval[\\/]results\.jsonl$/i.test(path);
}

/**
 * The document kinds by the names of their files, first match wins. Each kind's checks are its handler in
 * `DOCUMENT_KINDS` (documentModels.ts), which the compiler requires for every kind named here.
 */
const KIND_NAMES = {
  manifest: isManifestPath,
  /** LLaMA-Factory's dataset registry, a `.json` file named dataset_info.json. */
  registry: isRegistryPath,
  /** Golden prompts (`*.evals.yaml`) beside a config: `python -m modelfactory_trainer golden`. */
  evals: (path: string) => /\.evals\.ya?ml$/.test(baseName(path)),
  config: (path: string) => {
    const base = baseName(path);
    return /\.finetune\.ya?ml$/.test(base) || base === 'modelfactory.yaml' || base === 'modelfactory.yml';
  },
  dataset: (path: string) => /\.jsonl?$/.test(baseName(path)) && !isTrainerOutput(path),
} as const;

export type DocumentKind = keyof typeof KIND_NAMES;

export function documentKindOf(path: string): DocumentKind | undefined {
  for (const [kind, matches] of Object.entries(KIND_NAMES)) if (matches(path)) return kind as DocumentKind;
  return undefined;
}
