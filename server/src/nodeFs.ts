// The Node implementation of the core's injected I/O, shared by the language server and the CLI.
import { Buffer, isAscii } from 'node:buffer';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { lstatPath, readBounded, readCaps, readRangeBounded, statPath } from './boundedRead';
import type { Environment, FileSystem } from './core/io';

/** Every read goes through boundedRead.ts: regular files only, capped per kind, with a timeout. */
export const nodeFileSystem: FileSystem = {
  async readFile(path, kind = 'text') {
    const outcome = await readBounded(path, kind);
    return 'bytes' in outcome ? outcome.bytes : undefined;
  },
  readChecked: (path, kind, within) => readBounded(path, kind, within),
  readRange: (path, start, end) => readRangeBounded(path, start, end),
  stat: statPath,
  lstat: lstatPath,
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

/** Environment.decodeAscii on Node: an ASCII check, then a copy of the bytes as Latin-1 (for ASCII, the same text). */
export function decodeAsciiOnNode(bytes: Uint8Array): string | undefined {
  if (!isAscii(bytes)) return undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
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
    readCaps: readCaps(),
    now: () => Date.now(),
    decodeAscii: decodeAsciiOnNode,
  };
}
