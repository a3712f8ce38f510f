// I/O the core needs, injected by its host (LSP shell, CLI, tests). The core never touches `fs`.

export interface FileStat {
  size: number;
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
}

export interface FileSystem {
  /** Whole file, or undefined when it does not exist or cannot be read. */
  readFile(path: string): Promise<Uint8Array | undefined>;
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
  /** Now, injectable for tests of daily caps. */
  now?: () => number;
}
