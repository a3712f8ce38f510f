// A Node Environment for the config tests: real files through fs/promises, with the home folder
// (and so the Hugging Face cache) pointed wherever a test wants.
import { open, readFile, readdir, stat } from 'node:fs/promises';
import type { Environment, FileSystem } from '../../server/src/core/io';
import { DEFAULT_SETTINGS } from '../../server/src/core/settings';
import type { CoreSettings } from '../../server/src/core/settings';
import { effectiveSeverity } from '../../server/src/core/rules';
import type { ConfigContext } from '../../server/src/core/config';

export const testFileSystem: FileSystem = {
  async readFile(path) {
    try {
      return await readFile(path);
    } catch {
      return undefined;
    }
  },
  async readRange(path, start, end) {
    const handle = await open(path, 'r').catch(() => undefined);
    if (!handle) return undefined;
    try {
      const buffer = Buffer.alloc(Math.max(0, end - start));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  },
  async stat(path) {
    try {
      const s = await stat(path);
      return { size: s.size, mtimeMs: s.mtimeMs, isFile: s.isFile(), isDirectory: s.isDirectory() };
    } catch {
      return undefined;
    }
  },
  async readDir(path) {
    try {
      return await readdir(path);
    } catch {
      return undefined;
    }
  },
};

/** An environment whose home (and Hugging Face cache) is `homeDir`, empty unless a test fills it. */
export function testEnvironment(homeDir = '/nonexistent-home'): Environment {
  return { fs: testFileSystem, homeDir, now: () => Date.now() };
}

export function testContext(
  configDir: string,
  overrides: Partial<CoreSettings> = {},
  env: Environment = testEnvironment(),
): ConfigContext {
  const settings: CoreSettings = { ...DEFAULT_SETTINGS, ...overrides };
  return { env, settings, configDir, severityOf: (rule) => effectiveSeverity(rule, settings.rules) };
}
