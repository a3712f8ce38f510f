// A real evaluation to test the editor against: the trainer trains a LoRA adapter on the built-in tiny
// model over eight arithmetic records, then `eval` answers those records with the base and the adapter
// (results.jsonl + summary.json). About a minute or two on CPU. Used by the evaluation view's tests and the
// e2e run; nothing here is a stand-in for the trainer.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { needTrainer, TRAINER_PYTHON } from '../needs';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '..', '..');

export interface TinyEvaluation {
  /** The workspace-like folder: train.jsonl, tiny.finetune.yaml, out/ (adapter, record-loss.jsonl), eval/. */
  dir: string;
  dataset: string;
  config: string;
  adapter: string;
  recordLoss: string;
  evalDir: string;
}

/** The records: `What is A plus B?` answered `A plus B is C.` */
export function arithmeticRecords(count = 8): { messages: { role: string; content: string }[] }[] {
  const pairs: [number, number][] = [];
  for (let a = 1; a < 10 && pairs.length < count; a++)
    for (let b = 1; b < 10 && pairs.length < count; b++) pairs.push([a, b]);
  return pairs.map(([a, b]) => ({
    messages: [
      { role: 'user', content: `What is ${a} plus ${b}?` },
      { role: 'assistant', content: `${a} plus ${b} is ${a + b}.` },
    ],
  }));
}

const CONFIG = `base_model: builtin:tiny-llama
method: lora
dataset:
  path: train.jsonl
  eval_split: 0
lora: {r: 16, alpha: 32, dropout: 0.0, target_modules: [q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, lm_head]}
training:
  max_steps: 30
  learning_rate: 0.01
  batch_size: 4
  gradient_accumulation_steps: 1
  max_seq_length: 64
  warmup_ratio: 0.0
  lr_scheduler: constant
  logging_steps: 10
  save_steps: 1000
  gradient_checkpointing: false
output_dir: out
`;

/** Trains and evaluates in `dir` (created); `cache` is the MODELFACTORY_CACHE for the tiny model. */
export async function runTinyEvaluation(dir: string, cache: string): Promise<TinyEvaluation> {
  needTrainer();
  mkdirSync(dir, { recursive: true });
  const dataset = join(dir, 'train.jsonl');
  const config = join(dir, 'tiny.finetune.yaml');
  writeFileSync(
    dataset,
    arithmeticRecords()
      .map((r) => JSON.stringify(r) + '\n')
      .join(''),
  );
  writeFileSync(config, CONFIG);
  const options = {
    cwd: dir,
    env: { ...process.env, PYTHONPATH: join(ROOT, 'trainer'), MODELFACTORY_CACHE: cache, HF_HUB_OFFLINE: '1' },
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  };
  await run(TRAINER_PYTHON, ['-m', 'modelfactory_trainer', 'train', config], options);
  const evalDir = join(dir, 'eval');
  const adapter = join(dir, 'out', 'adapter');
  await run(
    TRAINER_PYTHON,
    [
      '-m',
      'modelfactory_trainer',
      'eval',
      config,
      '--adapter',
      adapter,
      '--data',
      dataset,
      '--out',
      evalDir,
      '--max-new-tokens',
      '16',
    ],
    options,
  );
  return { dir, dataset, config, adapter, recordLoss: join(dir, 'out', 'record-loss.jsonl'), evalDir };
}
