// The Node implementation of the core's injected I/O, shared by the language server and the CLI.
import { existsSync } from 'node:fs';
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Environment, FileSystem } from './core/io';

export const nodeFileSystem: FileSystem = {
  async readFile(path) {
    try {
      return await readFile(path);
    } catch {
      return undefined;
    }
  },
  async readRange(path, start, end) {
    let handle;
    try {
      handle = await open(path, 'r');
      const length = Math.max(0, end - start);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, start);
      return buffer.subarray(0, bytesRead);
    } catch {
      return undefined;
    } finally {
      await handle?.close();
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

/**
 * schemas/chat-templates/ of this installation: two folders up from this code, whether it runs from
 * its sources (server/src/), a bundle (dist/server/, dist/cli/) or the extension (extension/dist/server/).
 */
export function builtinChatTemplatesDir(): string | undefined {
  const dir = join(__dirname, '..', '..', 'schemas', 'chat-templates');
  return existsSync(dir) ? dir : undefined;
}

export function nodeEnvironment(): Environment {
  const hubCache =
    process.env['HF_HUB_CACHE'] ?? (process.env['HF_HOME'] ? join(process.env['HF_HOME'], 'hub') : undefined);
  const templates = builtinChatTemplatesDir();
  return {
    fs: nodeFileSystem,
    homeDir: homedir(),
    ...(hubCache ? { huggingFaceHubCache: hubCache } : {}),
    ...(templates ? { chatTemplatesDir: templates } : {}),
    now: () => Date.now(),
  };
}
