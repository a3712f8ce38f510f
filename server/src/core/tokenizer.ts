// Token counts for length/too-long and the dataset statistics: an exact count with the model's own
// tokenizer.json (pure JS, @huggingface/tokenizers) when one is on disk, else a documented estimate.
import { hubCacheDir, isAbsolutePath, joinPath, looksLikeHubId, resolveModelDir } from './hfCache';
import type { Environment } from './io';
import { fastCounter } from './tokenCount';

export interface TokenCounter {
  /** True when counts come from the model's tokenizer, false for an estimate. */
  readonly exact: boolean;
  /** Shown to users: the tokenizer's path, or "estimate". */
  readonly name: string;
  /** Tokens of `text`, without special tokens. */
  count(text: string): number;
  /**
   * Tokens of `text` as the tokenizer encodes it, with the special tokens its post-processor adds
   * (a BOS, an EOS) when `addSpecialTokens`. Absent on the estimate.
   */
  encodeCount?(text: string, addSpecialTokens: boolean): number;
  /** The parsed tokenizer_config.json beside the tokenizer.json (chat template, special tokens). */
  tokenizerConfig?: Record<string, unknown>;
  /** The text of a chat_template.jinja beside it, which replaces the config's default template. */
  chatTemplateFile?: string;
}

/**
 * The estimate: one token per 4 ASCII characters (rounded up) plus one token per non-ASCII UTF-16
 * code unit. English BPE vocabularies average about 4 characters a token; CJK text and emoji cost
 * about one token per character or surrogate half, so non-ASCII text is not under-counted.
 */
const NON_ASCII = /[^\x00-\x7f]/;

export function estimateTokens(text: string): number {
  return estimateOfCounts(text.length, nonAsciiUnits(text));
}

/** The estimate of a text of `length` UTF-16 units, `nonAscii` of them above U+007F. */
export function estimateOfCounts(length: number, nonAscii: number): number {
  return Math.ceil((length - nonAscii) / 4) + nonAscii;
}

/** The UTF-16 units of `text` above U+007F. */
export function nonAsciiUnits(text: string): number {
  // Most training text is ASCII: one native scan decides.
  if (!NON_ASCII.test(text)) return 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) other++;
  return other;
}

export function estimateTokenCounter(): TokenCounter {
  return { exact: false, name: 'estimate', count: estimateTokens };
}

/** UTF-8 length of a string without encoding it. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 2; // four bytes for the pair's two code units
        i++;
      } else bytes += 2;
    } else bytes += 2;
  }
  return bytes;
}

/**
 * An upper bound on the tokens any tokenizer of the usual kinds produces for `text`: a byte-level BPE
 * never emits more tokens than UTF-8 bytes, SentencePiece with byte fallback at most one per byte
 * plus a prefix space, WordPiece at most one per character. Records under the limit by this bound
 * need no exact count.
 */
export function tokenUpperBound(text: string): number {
  return utf8Length(text) + 2;
}

const loaded = new Map<string, TokenCounter>();

/**
 * A counter for `modelOrPath`: a tokenizer.json file, a model directory, or a Hugging Face id found
 * in the local cache (relative paths against `baseDir`). Undefined when no tokenizer.json is found
 * or it cannot be loaded. Loaded tokenizers are cached per path for the life of the process.
 */
export async function loadTokenCounter(
  modelOrPath: string,
  baseDir: string,
  env: Environment,
): Promise<TokenCounter | undefined> {
  const tokenizerPath = await tokenizerFile(modelOrPath, baseDir, env);
  if (!tokenizerPath) return undefined;
  const cached = loaded.get(tokenizerPath);
  if (cached) return cached;

  const tokenizerBytes = await env.fs.readFile(tokenizerPath, 'tokenizer');
  if (!tokenizerBytes) return undefined;
  const configPath = joinPath(tokenizerPath, '..', 'tokenizer_config.json');
  const configBytes = await env.fs.readFile(configPath, 'modelConfig');
  try {
    const decoder = new TextDecoder();
    const tokenizerJson: unknown = JSON.parse(decoder.decode(tokenizerBytes));
    const configJson: unknown = configBytes ? JSON.parse(decoder.decode(configBytes)) : {};
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const tokenizer = new Tokenizer(tokenizerJson as object, configJson as object);
    // Counts, not token lists, with a per-process cache of pre-token counts (tokenCount.ts).
    const fast = fastCounter(tokenizer);
    const counter: TokenCounter = {
      exact: true,
      name: tokenizerPath,
      count: (text) => (text.length === 0 ? 0 : fast.count(text, false)),
      encodeCount: (text, addSpecialTokens) => fast.count(text, addSpecialTokens),
    };
    if (configJson && typeof configJson === 'object' && !Array.isArray(configJson)) {
      counter.tokenizerConfig = configJson as Record<string, unknown>;
    }
    const templateBytes = await env.fs.readFile(joinPath(tokenizerPath, '..', 'chat_template.jinja'), 'template');
    if (templateBytes) counter.chatTemplateFile = decoder.decode(templateBytes);
    loaded.set(tokenizerPath, counter);
    return counter;
  } catch {
    return undefined;
  }
}

/** The tokenizer.json that `modelOrPath` names, when it exists (nothing is loaded). */
export async function tokenizerFile(
  modelOrPath: string,
  baseDir: string,
  env: Environment,
): Promise<string | undefined> {
  let path: string | undefined;
  if (modelOrPath.endsWith('.json')) {
    path = isAbsolutePath(modelOrPath) ? modelOrPath : joinPath(baseDir, modelOrPath);
  } else {
    const dir = await resolveModelDir(modelOrPath, baseDir, env);
    if (dir) path = joinPath(dir, 'tokenizer.json');
  }
  if (!path) return undefined;
  return loaded.has(path) || (await env.fs.stat(path))?.isFile ? path : undefined;
}

/**
 * Where `loadTokenCounter` looks for `modelOrPath`'s tokenizer.json, in words for a diagnostic: the
 * file or folder it names (relative to `baseDir`), and for a Hugging Face id the local hub cache.
 */
export function tokenizerSearchPlaces(modelOrPath: string, baseDir: string, env: Environment): string[] {
  const path = modelOrPath.startsWith('~/')
    ? joinPath(env.homeDir, modelOrPath.slice(2))
    : isAbsolutePath(modelOrPath)
      ? modelOrPath
      : joinPath(baseDir, modelOrPath);
  const places = [modelOrPath.endsWith('.json') ? path : joinPath(path, 'tokenizer.json')];
  if (!modelOrPath.endsWith('.json') && looksLikeHubId(modelOrPath) && !modelOrPath.startsWith('.')) {
    places.push(
      joinPath(hubCacheDir(env), 'models--' + modelOrPath.replace(/\//g, '--'), 'snapshots', '*', 'tokenizer.json'),
    );
  }
  return places;
}
