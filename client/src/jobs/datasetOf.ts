// Which dataset file a fine-tune config trains on: pure, unit tested.
import * as path from 'node:path';
import { parseDocument } from 'yaml';

/** The dataset file a config trains on, resolved against the config's folder. */
export function datasetOf(configText: string, configPath: string): { path: string } | { problem: string } {
  const doc = parseDocument(configText);
  if (doc.errors.length > 0) return { problem: 'The config is not valid YAML.' };
  const rel = doc.getIn(['dataset', 'path']);
  if (typeof rel === 'string' && rel.trim()) return { path: path.resolve(path.dirname(configPath), rel) };
  if (doc.getIn(['dataset', 'datanet']) !== undefined) {
    return {
      problem:
        'A job trains on one dataset file: set dataset.path to a file the Datanet governs (the Datanet still checks it).',
    };
  }
  return { problem: 'The config names no dataset (dataset.path).' };
}
