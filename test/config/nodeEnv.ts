// A Node Environment for the config tests: the server's real file system, with the home folder
// (and so the Hugging Face cache) pointed wherever a test wants.
import type { Environment } from '../../server/src/core/io';
import { DEFAULT_SETTINGS } from '../../server/src/core/settings';
import type { CoreSettings } from '../../server/src/core/settings';
import { effectiveSeverity } from '../../server/src/core/rules';
import type { ConfigContext } from '../../server/src/core/config';
import { nodeFileSystem } from '../../server/src/nodeFs';

/** An environment whose home (and Hugging Face cache) is `homeDir`, empty unless a test fills it. */
export function testEnvironment(homeDir = '/nonexistent-home'): Environment {
  return { fs: nodeFileSystem, homeDir, now: () => Date.now() };
}

export function testContext(
  configDir: string,
  overrides: Partial<CoreSettings> = {},
  env: Environment = testEnvironment(),
): ConfigContext {
  const settings: CoreSettings = { ...DEFAULT_SETTINGS, ...overrides };
  // The models these tests name are not downloaded: that information (config/tokenizer-not-found) is
  // tested in test/dataset/chatTemplate.test.ts, and left out here unless a test asks for it.
  settings.rules = { 'config/tokenizer-not-found': 'off', ...settings.rules };
  return { env, settings, configDir, severityOf: (rule) => effectiveSeverity(rule, settings.rules) };
}
