// What `bench/dataset.ts full` and `families` time: full validation of a document in the editor's
// validator and in the stream, with the benchmark's options. A module of its own so that the bench can
// time it twice: as the product ships it (one esbuild bundle, the build of the language server and the
// CLI: see bench/shipped.ts) and as the sources run under tsx.
import { DatasetStream } from '../server/src/core/dataset/stream';
import { DatasetValidator } from '../server/src/core/dataset/validator';
import type { DatasetValidatorOptions } from '../server/src/core/dataset/validator';
import { decodeAsciiOnNode } from '../server/src/nodeFs';
import { validatorOptions } from '../test/dataset/options';

/** The tests' validator options (default severities, the token estimate), near duplicates from 0.8. */
export function benchOptions(): DatasetValidatorOptions {
  return validatorOptions({ nearThreshold: 0.8 });
}

/** benchOptions with every rule whose id starts with one of `prefixes` off ('dedup/near' is one rule, 'pii/' a family). */
export function optionsWithout(prefixes: readonly string[]): DatasetValidatorOptions {
  const opts = benchOptions();
  const severityOf = opts.severityOf;
  opts.severityOf = (rule) => (prefixes.some((p) => rule.startsWith(p)) ? undefined : severityOf(rule));
  return opts;
}

/** The editor path: the whole text into a fresh validator, then its findings; returns how many. */
export function validateInEditor(text: string, without: readonly string[] = []): number {
  const v = new DatasetValidator(without.length > 0 ? optionsWithout(without) : benchOptions());
  v.update(0, 0, text.split('\n'));
  return v.findings().length;
}

/**
 * The streamed path: `bytes` pushed in 1 MiB chunks, with the ASCII fast path the Node hosts give a
 * stream (nodeEnvironment); returns how many findings it reported.
 */
export function validateStreamed(bytes: Uint8Array): number {
  let findings = 0;
  const s = new DatasetStream({ ...benchOptions(), decodeAscii: decodeAsciiOnNode }, () => findings++);
  for (let i = 0; i < bytes.length; i += 1024 * 1024) s.push(bytes.subarray(i, i + 1024 * 1024));
  s.end();
  return findings;
}
