// Exact token counts without building the token list: the same pipeline as @huggingface/tokenizers'
// Tokenizer.encode (added-token split, normalizer, pre-tokenizer, model, post-processor), counting
// instead of collecting, with a cache from pre-token to token count. Natural text repeats its words,
// so after a few thousand records almost every pre-token is a cache hit and a text costs one regex
// split and a map lookup per word (Rust's `tokenizers` caches BPE words the same way).
//
// The count is a sum over pre-tokens only where that is exact: the pre-tokenizer's first stage splits
// the text (a Split, or a ByteLevel with its regex) and every later stage and the model work on one
// piece at a time without context (no Metaspace, which looks at the section index; no model that fuses
// unknown tokens across pieces). Any other tokenizer gets the library's own encode, and so does a text
// with special tokens when the post-processor is not one whose additions are content-independent.
// test/dataset/tokenCount.test.ts holds this equal to the library's encode and to Python `tokenizers`.

/** The parts of @huggingface/tokenizers' Tokenizer (0.2.x) this counter reads. */
interface LibTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  normalizer: ((text: string) => string) | null;
  pre_tokenizer: LibPreTokenizer | null;
  model: LibModel;
  post_processor: LibPostProcessor | null;
  added_tokens_map: Map<string, { lstrip?: boolean; rstrip?: boolean }>;
  splitter_unnormalized: LibSplitter;
  splitter_normalized: LibSplitter;
  remove_space?: unknown;
  do_lowercase_and_remove_accent?: unknown;
}

/** A node of the added tokens' trie: a child per next character, `end` where a token ends. */
interface TrieNode {
  [char: string]: TrieNode | string | undefined;
  end?: string;
}

/** Splits a text around the added tokens it holds (a trie of their characters). */
interface LibSplitter {
  split(text: string): string[];
  trie?: object;
}

interface LibPreTokenizer {
  config?: { type?: string; use_regex?: boolean; add_prefix_space?: boolean; invert?: boolean; behavior?: string };
  tokenizers?: (LibPreTokenizer | null)[];
  pattern?: RegExp | null;
  add_prefix_space?: boolean;
  use_regex?: boolean;
  pre_tokenize(text: string | string[], options?: object): string[];
  pre_tokenize_text(text: string, options?: object): string[];
}

interface LibModel {
  (tokens: string[]): string[];
  fuse_unk?: boolean;
}

interface LibPostProcessor {
  (tokens: string[], pair: string[] | null, addSpecialTokens: boolean): { tokens: unknown[] };
  config?: { type?: string };
}

/** Pre-tokens cached at most (then the table starts afresh, bounding a worker's memory). */
const MAX_CACHED = 1 << 16;
/** Pre-tokens longer than this are counted each time (rare, and they would hold their text alive). */
const MAX_CACHED_LENGTH = 64;
/** Post-processors whose special tokens do not depend on the text. */
const CONTENT_FREE_POST = new Set(['TemplateProcessing', 'ByteLevel', 'BertProcessing', 'RobertaProcessing']);

export interface FastCounter {
  /** Tokens of `text` with the post-processor's special tokens when `addSpecialTokens`. */
  count(text: string, addSpecialTokens: boolean): number;
  /** True when counts take the cached path (false: every count is the library's encode). */
  readonly cached: boolean;
}

/** A counter over a loaded @huggingface/tokenizers Tokenizer; `library` is that object. */
export function fastCounter(library: unknown): FastCounter {
  const tok = library as LibTokenizer;
  const plain = (text: string, add: boolean) => tok.encode(text, { add_special_tokens: add }).ids.length;
  const split = splitter(tok);
  if (!split) return { count: plain, cached: false };
  const { first, rest } = split;
  const model = tok.model;
  const post = tok.post_processor;
  let specialExtra: number | undefined;
  if (!post) specialExtra = 0;
  else if (postIsContentFree(post)) specialExtra = post(['x'], null, true).tokens.length - 1;

  const cache = new Map<string, number>();
  const pieceCount = (piece: string, options: object): number => {
    let tokens = [piece];
    for (const stage of rest) tokens = stage.pre_tokenize(tokens, options);
    return tokens.length === 0 ? 0 : model(tokens).length;
  };
  const countPieces = (text: string, options: object): number => {
    let n = 0;
    for (const piece of first(text, options)) {
      if (piece.length === 0) continue;
      if (piece.length > MAX_CACHED_LENGTH) {
        n += pieceCount(piece, options);
        continue;
      }
      let c = cache.get(piece);
      if (c === undefined) {
        c = pieceCount(piece, options);
        if (cache.size >= MAX_CACHED) cache.clear();
        // A flat copy of the key, so that the cache does not keep the whole text alive.
        cache.set(piece.length > 12 ? [...piece].join('') : piece, c);
      }
      n += c;
    }
    return n;
  };
  const added = tok.added_tokens_map;
  const splitUnnormalized = splitWith(tok.splitter_unnormalized);
  const splitNormalized = splitWith(tok.splitter_normalized);
  const stripAround = (parts: string[]) => {
    for (let i = 0; i < parts.length; i++) {
      const token = added.get(parts[i]!);
      if (!token) continue;
      if (token.lstrip && i > 0) parts[i - 1] = parts[i - 1]!.trimEnd();
      if (token.rstrip && i < parts.length - 1) parts[i + 1] = parts[i + 1]!.trimStart();
    }
  };
  const countText = (text: string): number => {
    const sections = splitUnnormalized(text);
    stripAround(sections);
    let n = 0;
    for (let s = 0; s < sections.length; s++) {
      let section = sections[s]!;
      if (section.length === 0) continue;
      if (added.has(section)) {
        n++;
        continue;
      }
      if (tok.normalizer) section = tok.normalizer(section);
      if (section.length === 0) continue;
      const options = { section_index: s };
      const subsections = splitNormalized(section);
      stripAround(subsections);
      for (const sub of subsections) {
        if (sub.length === 0) continue;
        n += added.has(sub) ? 1 : countPieces(sub, options);
      }
    }
    return n;
  };
  return {
    cached: true,
    count(text, addSpecialTokens) {
      if (!addSpecialTokens) return countText(text);
      if (specialExtra === undefined) return plain(text, true);
      return countText(text) + specialExtra;
    },
  };
}

/**
 * The splitter's split, looking only where an added token can start: the library walks its trie from
 * every character; this jumps between the characters that begin a token (indexOf) and walks from there,
 * the same longest match at the leftmost position. Nothing to split around when it holds no token.
 */
function splitWith(splitter: LibSplitter): (text: string) => string[] {
  const trie = splitter.trie as Record<string, TrieNode> | undefined;
  if (!trie || typeof trie !== 'object') return (text) => splitter.split(text);
  const firsts = Object.keys(trie);
  if (firsts.length === 0) return (text) => [text];
  if (firsts.length > 8 || firsts.some((c) => c.length !== 1)) return (text) => splitter.split(text);
  const next = (text: string, from: number): number => {
    let at = -1;
    for (const c of firsts) {
      const i = text.indexOf(c, from);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    return at;
  };
  return (text) => {
    const out: string[] = [];
    let start = 0;
    let i = next(text, 0);
    while (i >= 0) {
      let node: TrieNode | undefined = trie;
      let match: string | undefined;
      for (let j = i; j < text.length; j++) {
        node = node[text[j]!] as TrieNode | undefined;
        if (!node) break;
        if (typeof node.end === 'string') match = node.end;
      }
      if (match === undefined) {
        i = next(text, i + 1);
        continue;
      }
      if (i > start) out.push(text.slice(start, i));
      out.push(match);
      start = i + match.length;
      i = next(text, start);
    }
    if (start < text.length) out.push(text.slice(start));
    return out;
  };
}

function postIsContentFree(post: LibPostProcessor): boolean {
  const type = post.config?.type;
  if (type === 'Sequence') {
    const processors = (post as unknown as { processors?: LibPostProcessor[] }).processors;
    return Array.isArray(processors) && processors.every(postIsContentFree);
  }
  return type !== undefined && CONTENT_FREE_POST.has(type);
}

/**
 * The pre-tokenizer as a first, splitting stage over the whole text and the stages that follow it,
 * each working on one piece alone; undefined when the tokenizer is not of that shape.
 */
function splitter(
  tok: LibTokenizer,
): { first: (text: string, options: object) => string[]; rest: LibPreTokenizer[] } | undefined {
  if (tok.remove_space === true || tok.do_lowercase_and_remove_accent === true) return undefined;
  if (tok.model.fuse_unk) return undefined;
  const pre = tok.pre_tokenizer;
  if (!pre || typeof pre.pre_tokenize !== 'function') return undefined;
  const stages = Array.isArray(pre.tokenizers) ? pre.tokenizers : [pre];
  if (!Array.isArray(stages) || stages.length === 0 || stages.some((s) => !s || typeof s.pre_tokenize !== 'function'))
    return undefined;
  const [head, ...tail] = stages as LibPreTokenizer[];
  // Metaspace reads the section index, which differs between equal pieces.
  if (tail.some((s) => s.config?.type === 'Metaspace' || s.config?.type === undefined)) return undefined;
  const type = head!.config?.type;
  if (type === 'Split') {
    const split = head!;
    const config = split.config ?? {};
    const pattern = split.pattern;
    const isolated = !config.invert && config.behavior?.toLowerCase() !== 'removed' && pattern instanceof RegExp;
    if (!isolated || !pattern.global)
      return { first: (text, options) => split.pre_tokenize_text(text, options), rest: tail };
    // The matches alone, without a match object each, when they cover the whole text (the usual case:
    // the patterns of byte-level BPEs match every character); otherwise the library's split, which
    // keeps the text between matches too.
    return {
      first: (text, options) => {
        const matches = text.match(pattern) ?? [];
        let covered = 0;
        for (const m of matches) covered += m.length;
        return covered === text.length ? matches : split.pre_tokenize_text(text, options);
      },
      rest: tail,
    };
  }
  if (type === 'ByteLevel' && head!.use_regex && head!.pattern instanceof RegExp) {
    // Its regex split is the first stage; its byte mapping, one piece at a time, the second.
    const pattern = head!.pattern;
    const prefix = head!.add_prefix_space === true;
    const mapping = Object.assign(Object.create(Object.getPrototypeOf(head)) as LibPreTokenizer, head, {
      use_regex: false,
      add_prefix_space: false,
    });
    return {
      first: (text) => (prefix && !text.startsWith(' ') ? ' ' + text : text).match(pattern) ?? [],
      rest: [mapping, ...tail],
    };
  }
  return undefined;
}
