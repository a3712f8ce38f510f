// The core's view of user settings. The single source of truth for the `modelfactory.*` settings
// that VS Code shows lives in server/src/settingsSchema.ts; this is the parsed, typed form.
import type { RuleOverrides } from './rules';

export interface CoreSettings {
  /** Per-rule severity overrides (`modelfactory.rules`). */
  rules: RuleOverrides;
  /** GPU memory the user trains on, in GiB (`modelfactory.gpuMemoryGb`), for `config/memory`. */
  gpuMemoryGb: number;
  /** Default token limit for `length/too-long` when no Datanet sets `rules.max_tokens`. */
  maxTokens: number;
  /** Default near-duplicate Jaccard threshold. */
  nearDuplicateThreshold: number;
  /**
   * Tokenizer for dataset files that no fine-tune config or Datanet names: a Hugging Face id
   * (looked up in the local cache) or a directory or a tokenizer.json path. Empty: estimate.
   */
  tokenizer: string;
}

export const DEFAULT_SETTINGS: CoreSettings = {
  rules: {},
  gpuMemoryGb: 24,
  maxTokens: 4096,
  nearDuplicateThreshold: 0.85,
  tokenizer: '',
};
