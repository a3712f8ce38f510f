// Token counts for length/too-long and the dataset statistics: an exact count with the model's own
// tokenizer.json (pure JS, @huggingface/tokenizers) when one is on disk, else a documented estimate.
import { isAbsolutePath, joinPath, resolveModelDir } from './hfCache';
import type { Environment } from './io';

export interface TokenCounter {
  /** True when counts come from the model's tokenizer, false for an estimate. */
  readonly exact: boolean;
  /** Shown to users: the tokenizer's path, or "estimate". */
  readonly name: string;
  /** Tokens of `text`, without special tokens. */
  count(text: string): number;
}

/**
 * The estimate: one token per 4 ASCII characters (rounded up) plus one token per non-ASCII UTF-16
 * code unit. English BPE vocabularies average about 4 characters a token; CJK text and emoji cost
 * about one token per character or surrogate half, so non-ASCII text is not under-counted.
 */
const NON_ASCII = /[^\x00-\x7f]/;

export function estimateTokens(text: string): number {
  // Most training text is ASCII: one native scan decides, and the count is then arithmetic.
  if (!NON_ASCII.test(text)) return Math.ceil(text.length / 4);
  let ascii = 0;
  let other = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) < 0x80) ascii++;
    else other++;
  }
  return Math.ceil(ascii / 4) + other;
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

interface HfTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
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
  let tokenizerPath: string | undefined;
  if (modelOrPath.endsWith('.json')) {
    tokenizerPath = isAbsolutePath(modelOrPath) ? modelOrPath : joinPath(baseDir, modelOrPath);
  } else {
    const dir = await resolveModelDir(modelOrPath, baseDir, env);
    if (dir) tokenizerPath = joinPath(dir, 'tokenizer.json');
  }
  if (!tokenizerPath) return undefined;
  const cached = loaded.get(tokenizerPath);
  if (cached) return cached;

  const tokenizerBytes = await env.fs.readFile(tokenizerPath);
  if (!tokenizerBytes) return undefined;
  const configPath = joinPath(tokenizerPath, '..', 'tokenizer_config.json');
  const configBytes = await env.fs.readFile(configPath);
  try {
    const decoder = new TextDecoder();
    const tokenizerJson: unknown = JSON.parse(decoder.decode(tokenizerBytes));
    const configJson: unknown = configBytes ? JSON.parse(decoder.decode(configBytes)) : {};
    const { Tokenizer } = await import('@huggingface/tokenizers');
    const tokenizer = new Tokenizer(tokenizerJson as object, configJson as object) as unknown as HfTokenizer;
    const counter: TokenCounter = {
      exact: true,
      name: tokenizerPath,
      count: (text) => (text.length === 0 ? 0 : tokenizer.encode(text, { add_special_tokens: false }).ids.length),
    };
    loaded.set(tokenizerPath, counter);
    return counter;
  } catch {
    return undefined;
  }
}
