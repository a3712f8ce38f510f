// Token counters: the estimate, a hand-written WordLevel tokenizer.json, and a BPE tokenizer trained
// on the spot with Python's `tokenizers` (when the trainer's venv exists) compared count for count.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { DatasetValidator } from '../../server/src/core/dataset/validator';
import type { Environment } from '../../server/src/core/io';
import { effectiveSeverity } from '../../server/src/core/rules';
import {
  estimateTokenCounter,
  estimateTokens,
  loadTokenCounter,
  tokenUpperBound,
  utf8Length,
} from '../../server/src/core/tokenizer';
import type { TokenCounter } from '../../server/src/core/tokenizer';
import { needTrainer, TRAINER_PYTHON } from '../needs';

const ROOT = join(__dirname, '..', '..');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'datasets');

function nodeEnv(home: string): Environment {
  return {
    homeDir: home,
    fs: {
      readFile: async (p) => (existsSync(p) && statSync(p).isFile() ? new Uint8Array(readFileSync(p)) : undefined),
      readRange: async (p, s, e) => (existsSync(p) ? new Uint8Array(readFileSync(p).subarray(s, e)) : undefined),
      stat: async (p) => {
        if (!existsSync(p)) return undefined;
        const st = statSync(p);
        return { size: st.size, mtimeMs: st.mtimeMs, isFile: st.isFile(), isDirectory: st.isDirectory() };
      },
      readDir: async (p) => (existsSync(p) ? readdirSync(p) : undefined),
    },
  };
}

const temp = mkdtempSync(join(tmpdir(), 'mf-tokenizer-'));
after(() => rmSync(temp, { recursive: true, force: true }));

describe('estimate', () => {
  it('counts a token per 4 ASCII characters and one per non-ASCII code unit', () => {
    assert.equal(estimateTokens(''), 0);
    assert.equal(estimateTokens('abcd'), 1);
    assert.equal(estimateTokens('abcde'), 2);
    assert.equal(estimateTokens('日本語'), 3);
    assert.equal(estimateTokens('😀'), 2);
    assert.equal(estimateTokenCounter().exact, false);
  });

  it('bounds tokens by UTF-8 bytes', () => {
    assert.equal(utf8Length('aé日😀'), 1 + 2 + 3 + 4);
    assert.equal(tokenUpperBound('abc'), 5);
  });
});

describe('loadTokenCounter', () => {
  it('loads a WordLevel tokenizer.json from a model directory and counts with it', async () => {
    const env = nodeEnv(temp);
    const counter = await loadTokenCounter('tokenizer-wordlevel', FIXTURES, env);
    assert.ok(counter);
    assert.equal(counter.exact, true);
    assert.equal(counter.count('The cat sat on the mat.'), 7);
    assert.equal(counter.count('a dog'), 2);
    assert.equal(await loadTokenCounter('tokenizer-wordlevel', FIXTURES, env), counter, 'cached per path');
    assert.equal(await loadTokenCounter('no-such-model-dir', FIXTURES, env), undefined);
  });

  it('finds a tokenizer in the local Hugging Face cache snapshot', async () => {
    const snapshot = join(temp, 'hub', 'models--acme--tiny', 'snapshots', 'abc123');
    mkdirSync(snapshot, { recursive: true });
    mkdirSync(join(temp, 'hub', 'models--acme--tiny', 'refs'), { recursive: true });
    writeFileSync(join(temp, 'hub', 'models--acme--tiny', 'refs', 'main'), 'abc123');
    writeFileSync(
      join(snapshot, 'tokenizer.json'),
      readFileSync(join(FIXTURES, 'tokenizer-wordlevel', 'tokenizer.json')),
    );
    const env = { ...nodeEnv(temp), huggingFaceHubCache: join(temp, 'hub') };
    const counter = await loadTokenCounter('acme/tiny', temp, env);
    assert.equal(counter?.count('the cat'), 2);
  });

  it('matches Python tokenizers on a BPE trained on the spot', async () => {
    needTrainer();
    const dir = join(temp, 'bpe');
    mkdirSync(dir);
    const samples = [
      'The quick brown fox jumps over the lazy dog.',
      'Fine-tuning with LoRA adapters keeps the base model frozen.',
      'Émile a vu 3 chats — naïve café, 日本語のテキスト, emoji 😀🎉!',
      '   leading spaces and\ttabs\nnew lines',
      '',
    ];
    const script = `
import json, sys
from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
corpus = ["the quick brown fox", "fine-tuning lora adapters", "base model frozen dog lazy"] * 50
tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=["<|endoftext|>"]))
tok.save(sys.argv[1] + "/tokenizer.json")
samples = json.loads(sys.argv[2])
print(json.dumps([len(tok.encode(s, add_special_tokens=False).ids) for s in samples]))
`;
    const out = execFileSync(TRAINER_PYTHON, ['-c', script, dir, JSON.stringify(samples)], { encoding: 'utf8' });
    const expected = JSON.parse(out.trim().split('\n').pop() ?? '[]') as number[];
    const counter = (await loadTokenCounter(join(dir, 'tokenizer.json'), temp, nodeEnv(temp))) as TokenCounter;
    assert.ok(counter);
    assert.deepEqual(
      samples.map((s) => counter.count(s)),
      expected,
    );
    for (const s of samples)
      assert.ok(counter.count(s) <= tokenUpperBound(s), 'byte-level BPE stays under the byte bound');
  });
});

describe('length/too-long with an exact counter', () => {
  it('reports exact counts when the byte bound cannot decide, and skips tokenizing when it can', async () => {
    const counter = await loadTokenCounter('tokenizer-wordlevel', FIXTURES, nodeEnv(temp));
    assert.ok(counter);
    let calls = 0;
    const counting: TokenCounter = { exact: true, name: counter.name, count: (t) => (calls++, counter.count(t)) };
    const v = new DatasetValidator({
      severityOf: (r) => effectiveSeverity(r),
      maxTokens: 20,
      minChars: 1,
      nearThreshold: 0.9,
      tokenCounter: counting,
    });
    // Short: under the byte bound, never tokenized. Long: 'the cat ' x 12 = 24 words, exact count.
    v.update(0, 0, ['{"text": "the cat"}', `{"text": "${'the cat '.repeat(12)}"}`]);
    assert.equal(calls, 1);
    const info = v.recordInfo(1);
    assert.equal(info?.tokensExact, true);
    assert.equal(info?.tokens, 24 + 4, '24 words plus the per-turn template overhead');
    assert.deepEqual(
      v.findings().map((f) => [f.rule, f.range.start.line]),
      [['length/too-long', 1]],
    );
    assert.equal(v.recordInfo(0)?.tokensExact, false);
  });
});
