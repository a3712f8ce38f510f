// The counting path of the token counter (core/tokenCount.ts) against the library's own encode and
// against Python's `tokenizers`, on the real Qwen3 and Llama 3 tokenizers and on a GPT-2 style byte-level
// BPE trained on the spot: every text twice (the second count is a cache hit), with and without the
// special tokens the post-processor adds, on texts that stress the pre-tokenizer (special tokens inline,
// whitespace runs, an added token that strips the spaces around it, digits, contractions, CRLF, long words, emoji and CJK) and on chat-template renderings.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import fc from 'fast-check';
import { templateSetFor } from '../../server/src/core/chatTemplate';
import { toExample } from '../../server/src/core/dataset/contract';
import { detectRecordFormat } from '../../server/src/core/dataset/formats';
import { fastCounter } from '../../server/src/core/tokenCount';
import { loadTokenCounter } from '../../server/src/core/tokenizer';
import { nodeEnvironment } from '../../server/src/nodeFs';
import { needTrainer, TRAINER_PYTHON } from '../needs';
import { modelFolder, RECORDS, type RealModel } from './realTokenizers';

const temp = mkdtempSync(join(tmpdir(), 'mf-token-count-'));
after(() => rmSync(temp, { recursive: true, force: true }));

const TEXTS: readonly string[] = [
  '',
  ' ',
  'The quick brown fox jumps over the lazy dog.',
  "I'll say it's what you'd've THOUGHT: DON'T panic.",
  'Numbers 1 12 123 1234 12345 3.14159 and 2026-11-30T14:37:00Z',
  '   leading spaces, trailing spaces   ',
  'tabs\tand\t\ttabs, CRLF\r\nline\r\n\r\nbreaks\n\n\nend',
  '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
  'inline <|endoftext|> special <|begin_of_text|> tokens<|eot_id|>  spaced <|im_end|>',
  '<think>\n\n</think>\n\nreasoning then an answer',
  'Émile a vu 3 chats — naïve café, 日本語のテキスト, emoji 😀🎉👩‍👩‍👧!',
  'x'.repeat(200) + ' ' + 'supercalifragilisticexpialidocious'.repeat(3),
  '{"city": "Paris", "unit": "C"}\n```python\ndef f(x):\n    return x ** 2\n```',
  '    indented\n        deeper\n\t\tmixed \t \n',
  'é (composed) vs é (decomposed), Ω vs Ω',
  'a stripping special token:  <mask>  fills the gap, <mask>',
];

/** The texts the trainer encodes for the shared records, rendered with `model`'s chat template. */
async function rendered(folder: string): Promise<string[]> {
  const env = nodeEnvironment();
  const counter = await loadTokenCounter(folder, temp, env);
  assert.ok(counter, `cannot load ${folder}`);
  const templates = await templateSetFor(counter, undefined, env);
  assert.ok(templates, 'the model has a chat template');
  const out: string[] = [];
  for (const line of RECORDS) {
    const value: unknown = JSON.parse(line);
    const conversion = toExample(value, detectRecordFormat(value)!);
    assert.ok(conversion.ok);
    const texts = templates.renderExample(conversion.example);
    // A record the template refuses (Llama 3's does not render tool calls) has no count to compare.
    if (Array.isArray(texts)) out.push(...texts);
  }
  assert.ok(out.length >= RECORDS.length - 1, `rendered ${out.length} texts of ${RECORDS.length} records`);
  return out;
}

function libraryOf(folder: string): unknown {
  const json = (file: string): object => JSON.parse(readFileSync(join(folder, file), 'utf8')) as object;
  return new Tokenizer(json('tokenizer.json'), json('tokenizer_config.json'));
}

/** Python's counts of `texts` without and with special tokens, one record at a time. */
function pythonCounts(tokenizerJson: string, texts: readonly string[]): { plain: number[]; special: number[] } {
  needTrainer();
  const file = join(temp, `texts-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(texts));
  const script = `
import json, sys
from tokenizers import Tokenizer
tok = Tokenizer.from_file(sys.argv[1])
texts = json.load(open(sys.argv[2], encoding="utf-8"))
print(json.dumps({
  "plain": [len(tok.encode(t, add_special_tokens=False).ids) for t in texts],
  "special": [len(tok.encode(t, add_special_tokens=True).ids) for t in texts],
}))
`;
  const out = execFileSync(TRAINER_PYTHON, ['-c', script, tokenizerJson, file], {
    encoding: 'utf8',
    env: { ...process.env, TOKENIZERS_PARALLELISM: 'false', RAYON_NUM_THREADS: '1' },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as { plain: number[]; special: number[] };
}

function checkAgainst(library: unknown, texts: readonly string[], python: { plain: number[]; special: number[] }) {
  const fast = fastCounter(library);
  assert.equal(fast.cached, true, 'the tokenizer takes the cached counting path');
  const lib = library as { encode(t: string, o: { add_special_tokens: boolean }): { ids: number[] } };
  for (let round = 0; round < 2; round++) {
    texts.forEach((text, i) => {
      const plain = fast.count(text, false);
      const special = fast.count(text, true);
      const where = `round ${round}, text ${i}: ${JSON.stringify(text.slice(0, 60))}`;
      assert.equal(plain, lib.encode(text, { add_special_tokens: false }).ids.length, `library, ${where}`);
      assert.equal(special, lib.encode(text, { add_special_tokens: true }).ids.length, `library+special, ${where}`);
      assert.equal(plain, python.plain[i], `Python, ${where}`);
      assert.equal(special, python.special[i], `Python+special, ${where}`);
    });
  }
}

describe('exact counts without token lists', () => {
  for (const model of ['qwen3', 'llama3'] as RealModel[]) {
    it(`matches the library and Python tokenizers on ${model}, plain texts and chat renderings`, async () => {
      const folder = modelFolder(model, join(temp, model));
      const texts = [...TEXTS, ...(await rendered(folder))];
      checkAgainst(libraryOf(folder), texts, pythonCounts(join(folder, 'tokenizer.json'), texts));
    });
  }

  it('matches the library on random texts built from fragments of special tokens, words and spaces', () => {
    const fragments = [
      '<|im_start|>',
      '<|im_end|>',
      '<|im_',
      '<|',
      '<',
      '|>',
      '<|begin_of_text|>',
      '<|eot_id|>',
      '<think>',
      ' ',
      '  ',
      '\n',
      '\r\n',
      '\t',
      'word',
      ' Word',
      "'s",
      '123',
      '4567',
      'é',
      'e\u0301',
      '日本',
      '😀',
      '.',
      '!?',
    ];
    for (const model of ['qwen3', 'llama3'] as RealModel[]) {
      const library = libraryOf(modelFolder(model, join(temp, `${model}-random`))) as {
        encode(t: string, o: { add_special_tokens: boolean }): { ids: number[] };
      };
      const fast = fastCounter(library);
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...fragments), { maxLength: 40 }), (parts) => {
          const text = parts.join('');
          assert.equal(fast.count(text, false), library.encode(text, { add_special_tokens: false }).ids.length);
          assert.equal(fast.count(text, true), library.encode(text, { add_special_tokens: true }).ids.length);
        }),
        { numRuns: 300 },
      );
    }
  });

  const shapes: [string, string][] = [
    [
      'a GPT-2 style byte-level BPE (the pre-tokenizer splits with its own regex)',
      'pre_tokenizers.ByteLevel(add_prefix_space=True)',
    ],
    [
      'a Split on spaces that keeps the text between matches, then byte-level',
      'pre_tokenizers.Sequence([pre_tokenizers.Split(" ", "isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])',
    ],
  ];
  for (const [shape, preTokenizer] of shapes) {
    it(`matches on ${shape}`, () => {
      needTrainer();
      const dir = mkdtempSync(join(temp, 'bpe-'));
      const script = `
import sys
from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, decoders, trainers, processors
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = ${preTokenizer}
tok.decoder = decoders.ByteLevel()
corpus = ["the quick brown fox", "fine-tuning lora adapters", "base model frozen dog lazy"] * 50
tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<s>", "</s>"]))
tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=True)])
tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 1)])
tok.save(sys.argv[1] + "/tokenizer.json")
`;
      execFileSync(TRAINER_PYTHON, ['-c', script, dir]);
      const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as object;
      checkAgainst(new Tokenizer(json, {}), TEXTS, pythonCounts(join(dir, 'tokenizer.json'), TEXTS));
    });
  }

  it('falls back to the library on a pre-tokenizer it cannot split (Metaspace) and still counts exactly', () => {
    needTrainer();
    const dir = join(temp, 'metaspace');
    mkdirSync(dir, { recursive: true });
    const script = `
import sys
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
tok = Tokenizer(models.BPE(unk_token="<unk>"))
tok.pre_tokenizer = pre_tokenizers.Metaspace()
tok.decoder = decoders.Metaspace()
corpus = ["the quick brown fox", "fine-tuning lora adapters", "base model frozen dog lazy"] * 50
tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>"]))
tok.save(sys.argv[1] + "/tokenizer.json")
`;
    execFileSync(TRAINER_PYTHON, ['-c', script, dir]);
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')) as object;
    const library = new Tokenizer(json, {});
    const fast = fastCounter(library);
    assert.equal(fast.cached, false, 'Metaspace reads the section index: no per-piece cache');
    const texts = ['the quick brown fox', ' lazy  dog, frozen base model'];
    const python = pythonCounts(join(dir, 'tokenizer.json'), texts);
    assert.deepEqual(
      texts.map((t) => fast.count(t, false)),
      python.plain,
    );
  });
});
