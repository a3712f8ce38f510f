// I/O the core needs, injected by its host (LSP shell, CLI, tests). The core never touches `fs`.

export interface FileStat {
  size: number;
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
  /** Set by lstat only. */
  isSymlink?: boolean;
}

/**
 * What a read is for, which sets its size cap (SECURITY.md, "Hostile workspace"). Every read of workspace
 * content names its kind; the host refuses anything that is not a regular file or is over the cap.
 */
export type ReadKind =
  'schema' | 'modelConfig' | 'tokenizer' | 'template' | 'yaml' | 'jsonDataset' | 'safetensorsHeader' | 'line' | 'text';

const MiB = 1024 * 1024;

/** Size caps per kind of read, in bytes. A host may lower them (MODELFACTORY_READ_CAPS, for tests). */
export const READ_CAPS: Readonly<Record<ReadKind, number>> = {
  schema: 4 * MiB,
  modelConfig: 16 * MiB,
  tokenizer: 256 * MiB,
  template: 1 * MiB,
  yaml: 4 * MiB,
  jsonDataset: 256 * MiB,
  safetensorsHeader: 16 * MiB,
  line: 64 * MiB,
  text: 16 * MiB,
};

/** A bounded read: the bytes, or why there are none (`missing` when nothing is there at all). */
export type ReadOutcome = { bytes: Uint8Array } | { refused: string; missing?: boolean };

export interface FileSystem {
  /**
   * Whole file, or undefined when it does not exist, cannot be read, or is refused (not a regular file,
   * over the cap of its kind, too slow). `kind` defaults to `text`.
   */
  readFile(path: string, kind?: ReadKind): Promise<Uint8Array | undefined>;
  /**
   * Like readFile, but says why a file was refused. `within`: the file must resolve (symlinks included)
   * inside this folder. Hosts without it fall back to readFile (see `readChecked`).
   */
  readChecked?(path: string, kind: ReadKind, within?: string): Promise<ReadOutcome>;
  /** Like stat, but a symbolic link is described rather than followed (`isSymlink`). */
  lstat?(path: string): Promise<FileStat | undefined>;
  /** Bytes [start, end) of a file (for safetensors headers); undefined when unreadable. */
  readRange(path: string, start: number, end: number): Promise<Uint8Array | undefined>;
  stat(path: string): Promise<FileStat | undefined>;
  /** Entry names (not paths) of a directory, or undefined. */
  readDir(path: string): Promise<string[] | undefined>;
}

export interface Environment {
  fs: FileSystem;
  /** The user's home directory, for `~/.cache/huggingface/hub`. */
  homeDir: string;
  /** HF_HUB_CACHE / HF_HOME from the environment when set. */
  huggingFaceHubCache?: string;
  /**
   * The folder of the built-in chat templates (schemas/chat-templates/: `chatml.jinja`, `fallback.jinja`),
   * which the trainer reads too. Without it, records are rendered only with a model's own template.
   */
  chatTemplatesDir?: string;
  /** The read caps in force, when the host lowers READ_CAPS (the line cap of streamed datasets). */
  readCaps?: Readonly<Record<ReadKind, number>>;
  /** Now, injectable for tests of daily caps. */
  now?: () => number;
  /**
   * The host's fast path for decoding streamed dataset bytes: them as a string when every byte is ASCII,
   * else undefined (the core then decodes UTF-8 itself). Node's ASCII check and Latin-1 copy take about a
   * tenth of TextDecoder's time.
   */
  decodeAscii?: (bytes: Uint8Array) => string | undefined;
}

/** A bounded read through the host's readChecked, or its readFile when it has none. */
export async function readChecked(
  env: Environment,
  path: string,
  kind: ReadKind,
  within?: string,
): Promise<ReadOutcome> {
  if (env.fs.readChecked) return env.fs.readChecked(path, kind, within);
  const bytes = await env.fs.readFile(path, kind);
  return bytes ? { bytes } : { refused: `${path} does not exist or cannot be read`, missing: true };
}

/** `12 MiB`, `512 KiB`, `300 bytes`: a cap as a finding names it. */
export function formatCap(bytes: number): string {
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
