// The dataset validator's options as the tests use them: default severities, the token estimate, and
// the limits of the settings' defaults unless a test says otherwise.
import type { DatasetValidatorOptions } from '../../server/src/core/dataset/validator';
import { effectiveSeverity } from '../../server/src/core/rules';
import { estimateTokenCounter } from '../../server/src/core/tokenizer';

export function validatorOptions(extra: Partial<DatasetValidatorOptions> = {}): DatasetValidatorOptions {
  return {
    severityOf: (rule) => effectiveSeverity(rule),
    maxTokens: 4096,
    minChars: 1,
    nearThreshold: 0.85,
    tokenCounter: estimateTokenCounter(),
    ...extra,
  };
}
