// What kind of file a path names, from its name alone. A module of its own so that the extension
// client can ask without bundling the whole service.
import { isManifestPath } from './datanet/manifest';

export type DocumentKind = 'dataset' | 'config' | 'manifest';

export function documentKindOf(path: string): DocumentKind | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  if (isManifestPath(path)) return 'manifest';
  if (/\.finetune\.ya?ml$/.test(base) || base === 'modelfactory.yaml' || base === 'modelfactory.yml') return 'config';
  if (base.endsWith('.jsonl') || base.endsWith('.json')) return 'dataset';
  return undefined;
}
