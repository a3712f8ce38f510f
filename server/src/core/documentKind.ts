// What kind of file a path names, from its name alone. A module of its own so that the extension
// client can ask without bundling the whole service.
import { isManifestPath } from './datanet/manifest';

/** `registry`: LLaMA-Factory's dataset registry, a `.json` file named dataset_info.json. */
export type DocumentKind = 'dataset' | 'config' | 'manifest' | 'registry' | 'evals';

/** Whether a path names a dataset registry (LLaMA-Factory reads `dataset_info.json` from its dataset_dir). */
export function isRegistryPath(path: string): boolean {
  return /(^|[\\/])dataset_info\.json$/i.test(path);
}

export function documentKindOf(path: string): DocumentKind | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  if (isManifestPath(path)) return 'manifest';
  if (isRegistryPath(path)) return 'registry';
  if (/\.evals\.ya?ml$/.test(base)) return 'evals';
  if (/\.finetune\.ya?ml$/.test(base) || base === 'modelfactory.yaml' || base === 'modelfactory.yml') return 'config';
  if (base.endsWith('.jsonl') || base.endsWith('.json')) return 'dataset';
  return undefined;
}
