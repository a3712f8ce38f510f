// Which dataset file a fine-tune config trains on: pure, unit tested.
import * as path from 'node:path';
import { parseDocument } from 'yaml';

/** The dataset file a config trains on, resolved against the config's folder. */
export function datasetOf(
  configText: string,
  configPath: string,
): { path: string } | { hub: string } | { problem: string } {
  const doc = parseDocument(configText);
  if (doc.errors.length > 0) return { problem: 'The config is not valid YAML.' };
  const hub = doc.getIn(['dataset', 'hub']);
  // A Hub dataset is loaded by the trainer, whose pre-flight (check) runs the record contract on it.
  if (typeof hub === 'string' && hub.trim()) return { hub: hub.trim() };
  const rel = doc.getIn(['dataset', 'path']);
  if (typeof rel === 'string' && rel.trim()) return { path: path.resolve(path.dirname(configPath), rel) };
  if (doc.getIn(['dataset', 'datanet']) !== undefined) {
    return {
      problem:
        'A job trains on one dataset file: set dataset.path to a file the Datanet governs (the Datanet still checks it).',
    };
  }
  if (doc.getIn(['dataset', 'registry']) !== undefined) {
    return {
      problem:
        'A job sent from the editor trains on one uploaded dataset file (dataset.path); a LLaMA-Factory registry entry trains from the command line for now: python -m modelfactory_trainer train CONFIG (check CONFIG shows what it would load).',
    };
  }
  return { problem: 'The config names no dataset (dataset.path).' };
}

/**
 * The system prompt a dataset's records carry (the first one found among its first lines): messages
 * (`role: system`, in `messages` or a prompt-completion record's `prompt`), sharegpt (`from: system`) or a
 * top-level `system` field. An adapter answers as trained only under that prompt, so the playground offers
 * it. Null when the records have none.
 */
export function systemPromptOf(jsonlHead: string, maxLines = 50): string | null {
  const lines = jsonlHead.split(/\r?\n/).slice(0, maxLines);
  for (const line of lines) {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof record !== 'object' || record === null) continue;
    const r = record as Record<string, unknown>;
    if (typeof r['system'] === 'string' && r['system'].trim()) return r['system'];
    for (const turns of [r['messages'], r['conversations'], r['prompt']]) {
      if (!Array.isArray(turns)) continue;
      for (const t of turns as Record<string, unknown>[]) {
        const role = t?.['role'] ?? t?.['from'];
        const content = t?.['content'] ?? t?.['value'];
        if (role === 'system' && typeof content === 'string' && content.trim()) return content;
      }
    }
  }
  return null;
}

/** True when the config asks to run code shipped with the model (`trust_remote_code: true`). */
export function wantsRemoteCode(configText: string): boolean {
  const doc = parseDocument(configText);
  return doc.errors.length === 0 && doc.get('trust_remote_code') === true;
}
