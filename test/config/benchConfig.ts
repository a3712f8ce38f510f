// A workload for the benchmark runner (bench/): linting a 200-line fine-tune config as after an
// edit (parsed afresh each call, as a new document version is). Not timed here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateConfig } from '../../server/src/core/config';
import type { Finding } from '../../server/src/core/types';
import { FIXTURES } from './helpers';
import { testContext } from './nodeEnv';
import { parseYaml } from '../../server/src/core/yaml';

/** A realistic 200-line config: the complete example, commented line by line, with a typo or two. */
export function twoHundredLineConfig(): string {
  const example = readFileSync(join(FIXTURES, 'llama.finetune.yaml'), 'utf8').trimEnd().split('\n');
  const lines: string[] = [];
  for (let i = 0; lines.length < 200; i++) {
    const line = example[i % example.length]!;
    if (i < example.length) {
      lines.push(`# ${i}: what the next setting does, and why it is set this way 😀`);
      lines.push(line.replace('learning_rate', 'learning_rte'));
    } else {
      lines.push(`# trailing note ${i}`);
    }
  }
  return lines.slice(0, 200).join('\n') + '\n';
}

/** Returns a function that parses and lints the 200-line config once per call, as a fresh document version. */
export function benchConfigLint(): () => Promise<Finding[]> {
  const text = twoHundredLineConfig();
  const ctx = testContext(FIXTURES);
  return () => validateConfig(parseYaml(text), ctx);
}
