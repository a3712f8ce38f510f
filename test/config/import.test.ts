// `modelfactory import` in the core: real LLaMA-Factory and axolotl example configs (see
// test/fixtures/configs/imported/README.md) become configs that our own linter accepts, every source
// key is either mapped or left as a comment that says why, and anything else is refused.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { FINETUNE_SCHEMA, validateConfig } from '../../server/src/core/config';
import {
  importConfig,
  importConfigFile,
  relativePath,
  type ImportedConfig,
} from '../../server/src/core/config/importConfig';
import { formatNumber, formatString, formatValue } from '../../server/src/core/yaml/emit';
import { nodeEnvironment } from '../../server/src/nodeFs';
import { FIXTURES } from './helpers';
import { testContext } from './nodeEnv';
import { parseYaml } from '../../server/src/core/yaml';

const IMPORTED = join(FIXTURES, 'imported');
const LF = join(IMPORTED, 'llama-factory');
const AX = join(IMPORTED, 'axolotl');
const LF_FILES = [
  'examples/train_lora/qwen3_lora_sft.yaml',
  'examples/train_lora/qwen3_lora_dpo.yaml',
  'examples/train_lora/qwen3_lora_pretrain.yaml',
  'examples/train_lora/qwen3_lora_sft_ds3.yaml',
  'examples/train_qlora/qwen3_lora_sft_otfq.yaml',
];
const AX_FILES = [
  'examples/llama-3/lora-1b.yml',
  'examples/llama-3/qlora-1b.yml',
  'examples/llama-3/instruct-dpo-lora-8b.yml',
  'examples/llama-3/qlora-1b-kto.yaml',
  'examples/mistral/lora.yml',
];
const HAS_OBJECTIVE = FINETUNE_SCHEMA.properties?.['objective'] !== undefined;
const HAS_CHAT_TEMPLATE = FINETUNE_SCHEMA.properties?.['chat_template'] !== undefined;

/** Imports a fixture as the CLI would with the new config written next to the source. */
async function importFixture(root: string, file: string): Promise<ImportedConfig> {
  const path = join(root, file);
  const result = await importConfigFile(nodeEnvironment(), readFileSync(path, 'utf8'), {
    sourcePath: path,
    outputDir: dirname(path),
  });
  assert.ok(result.ok, `${file} imports: ${result.ok ? '' : result.message}`);
  return result;
}

async function lintText(text: string, dir: string) {
  return validateConfig(parseYaml(text), testContext(dir));
}

const comments = (text: string) => text.split('\n').filter((l) => l.startsWith('#'));

describe('import: real LLaMA-Factory and axolotl examples', () => {
  for (const [root, files] of [
    [LF, LF_FILES],
    [AX, AX_FILES],
  ] as const) {
    for (const file of files) {
      it(`${root === LF ? 'LLaMA-Factory' : 'axolotl'} ${file}: lints with no schema or unknown-key finding, every key accounted for`, async () => {
        const result = await importFixture(root, file);
        const findings = await lintText(result.text, dirname(join(root, file)));
        const bad = findings.filter((f) => f.rule === 'config/schema' || f.rule === 'config/unknown-key');
        assert.deepEqual(
          bad.map((f) => `${f.rule}: ${f.message}`),
          [],
        );
        // Each key of the source with a value was mapped or commented out with a reason.
        const source = parse(readFileSync(join(root, file), 'utf8')) as Record<string, unknown>;
        const accounted = new Set([...result.mapped.map((m) => m.key), ...result.notMapped.map((n) => n.key)]);
        for (const [key, value] of Object.entries(source)) {
          if (value === null) {
            assert.match(result.text, new RegExp(`^# Empty in the source, nothing to map: .*\\b${key}\\b`, 'm'));
            continue;
          }
          assert.ok(
            accounted.has(key) || [...accounted].some((k) => k.startsWith(`${key}[`) || k.startsWith(`${key}.`)),
            `${key} is accounted for`,
          );
        }
        for (const { key, reason } of result.notMapped) {
          const line = comments(result.text).find((l) => l.startsWith(`# ${key}`) && l.includes(reason));
          assert.ok(line, `a comment for ${key}: ${reason}`);
        }
      });
    }
  }

  it('LLaMA-Factory sft: every value where ours says it, the dataset found through dataset_info.json', async () => {
    const result = await importFixture(LF, 'examples/train_lora/qwen3_lora_sft.yaml');
    assert.equal(result.from, 'LLaMA-Factory');
    const data = parse(result.text) as Record<string, Record<string, unknown>>;
    assert.deepEqual(
      { ...data, objective: undefined, chat_template: undefined },
      {
        base_model: 'Qwen/Qwen3-4B-Instruct-2507',
        method: 'lora',
        objective: undefined,
        chat_template: undefined,
        trust_remote_code: true,
        dataset: { path: '../../data/identity.json', eval_split: 0 },
        lora: { r: 8, alpha: 16, dropout: 0, target_modules: 'all-linear' },
        training: {
          epochs: 3,
          learning_rate: 1e-4,
          batch_size: 1,
          gradient_accumulation_steps: 8,
          max_seq_length: 2048,
          lr_scheduler: 'cosine',
          warmup_ratio: 0.1,
          precision: 'bf16',
          logging_steps: 10,
          save_steps: 500,
          report_to: 'none',
        },
        output_dir: 'saves/qwen3-4b/lora/sft',
      },
    );
    if (HAS_OBJECTIVE) assert.equal(data['objective'], 'sft');
    else assert.match(result.text, /^# stage: sft — not mapped: .*no objective key/m);
    // qwen3_nothink is a name in LLaMA-Factory's template registry, not ours: the model's own template is used.
    assert.equal(data['chat_template'], undefined);
    assert.match(
      result.text,
      HAS_CHAT_TEMPLATE
        ? /^# template: qwen3_nothink — not mapped: a LLaMA-Factory template name, not one of ModelFactory's \(chatml\): with chat_template left out the base model's own template/m
        : /^# template: qwen3_nothink — not mapped: ModelFactory's config has no chat_template key/m,
    );
    // The second dataset cannot go into the same config: it is named, with what to do.
    assert.match(
      result.text,
      /^# dataset: alpaca_en_demo — not mapped: .*merge this one into \.\.\/\.\.\/data\/identity\.json/m,
    );
    assert.match(result.text, /^# Empty in the source, nothing to map: resume_from_checkpoint$/m);
    assert.match(result.text, /^ {2}alpha: 16 # LLaMA-Factory's default: 2 x lora_rank$/m);
  });

  it('LLaMA-Factory deepspeed, QLoRA, DPO and pretraining configs', async () => {
    const ds3 = await importFixture(LF, 'examples/train_lora/qwen3_lora_sft_ds3.yaml');
    assert.match(
      ds3.text,
      /^# deepspeed: examples\/deepspeed\/ds_z3_config\.json — not mapped: ModelFactory launches multi-GPU jobs itself$/m,
    );
    const qlora = parse((await importFixture(LF, 'examples/train_qlora/qwen3_lora_sft_otfq.yaml')).text);
    assert.equal(qlora.method, 'qlora');
    assert.deepEqual(qlora.quantization, { bits: 4, type: 'nf4', double_quant: true });
    const dpo = await importFixture(LF, 'examples/train_lora/qwen3_lora_dpo.yaml');
    assert.equal(parse(dpo.text).dataset.path, '../../data/dpo_en_demo.json');
    assert.equal(parse(dpo.text).training.learning_rate, 5e-6);
    if (HAS_OBJECTIVE) assert.equal(parse(dpo.text).objective, 'dpo');
    assert.equal(parse(dpo.text).training.beta, 0.1);
    const pt = await importFixture(LF, 'examples/train_lora/qwen3_lora_pretrain.yaml');
    assert.equal(parse(pt.text).objective, undefined);
    assert.match(pt.text, /^# stage: pt — not mapped: continued pretraining on raw text/m);
    assert.equal(parse(pt.text).dataset.path, '../../data/c4_demo.jsonl');
  });

  it('axolotl: adapters, 4-bit, 8-bit, all-linear, preference objectives, Hub datasets', async () => {
    const lora = await importFixture(AX, 'examples/llama-3/lora-1b.yml');
    assert.equal(lora.from, 'axolotl');
    const data = parse(lora.text);
    assert.equal(data.base_model, 'NousResearch/Llama-3.2-1B');
    assert.equal(data.method, 'lora');
    assert.deepEqual(data.lora, {
      r: 16,
      alpha: 32,
      dropout: 0.05,
      target_modules: ['gate_proj', 'down_proj', 'up_proj', 'q_proj', 'v_proj', 'k_proj', 'o_proj'],
    });
    assert.equal(data.training.max_seq_length, 2048);
    assert.equal(data.training.batch_size, 2);
    assert.equal(data.training.packing, true);
    assert.equal(data.training.precision, 'bf16');
    assert.equal(data.output_dir, 'outputs/lora-out');
    assert.equal(data.dataset, undefined, 'a Hub dataset is not a local file');
    assert.match(
      lora.text,
      /^# datasets\[0\]: \{path: teknium\/GPT4-LLM-Cleaned, type: alpaca\} — not mapped: .*Hugging Face Hub dataset/m,
    );
    assert.match(lora.text, /^# val_set_size: 0\.1 — not mapped: no dataset file was mapped/m);

    const qlora = parse((await importFixture(AX, 'examples/llama-3/qlora-1b.yml')).text);
    assert.equal(qlora.method, 'qlora');
    assert.deepEqual(qlora.quantization, { bits: 4, type: 'nf4', double_quant: true });

    const eightBit = await importFixture(AX, 'examples/mistral/lora.yml');
    assert.equal(parse(eightBit.text).method, 'lora');
    assert.equal(parse(eightBit.text).quantization, undefined);
    assert.equal(parse(eightBit.text).lora.target_modules, 'all-linear');
    assert.match(eightBit.text, /^# load_in_8bit: true — not mapped: ModelFactory quantizes to 4 bits only/m);
    assert.match(eightBit.text, /^# lora_target_modules — not mapped: .*already set from lora_target_linear/m);
    assert.match(eightBit.text, /^# {3}lora_target_modules:$/m);

    const dpo = parse((await importFixture(AX, 'examples/llama-3/instruct-dpo-lora-8b.yml')).text);
    const kto = parse((await importFixture(AX, 'examples/llama-3/qlora-1b-kto.yaml')).text);
    if (HAS_OBJECTIVE) {
      assert.equal(dpo.objective, 'dpo');
      assert.equal(kto.objective, 'kto');
    } else {
      assert.equal(dpo.objective, undefined);
    }
    assert.equal(dpo.chat_template, undefined, "axolotl's llama3 template is the model's own");
  });
});

describe('import: conversions', () => {
  const lf = (extra: string) =>
    `model_name_or_path: gpt2\nstage: sft\nfinetuning_type: lora\ndataset: mine\ncutoff_len: 512\n${extra}`;
  const imported = (text: string, options = {}) => {
    const result = importConfig(text, options);
    assert.ok(result.ok, result.ok ? '' : result.message);
    return result;
  };

  it('lora_target lists, learning rates PyYAML reads as numbers, warmup steps as a ratio', () => {
    const result = imported(
      lf('lora_target: q_proj, v_proj\nlearning_rate: 1.0e-7\nmax_steps: 200\nwarmup_steps: 20\nlora_rank: 4\n'),
      { datasets: { mine: { path: 'data/mine.jsonl' } } },
    );
    const data = parse(result.text);
    assert.deepEqual(data.lora.target_modules, ['q_proj', 'v_proj']);
    assert.equal(data.lora.alpha, 8, "LLaMA-Factory's alpha defaults to 2 x rank");
    assert.match(result.text, /^ {2}learning_rate: 1\.0e-7$/m);
    assert.equal(data.training.warmup_ratio, 0.1);
    assert.equal(data.training.max_steps, 200);
    assert.equal(data.dataset.path, 'data/mine.jsonl');
  });

  it('8-bit, full fine-tuning, record counts and unknown schedulers become comments that say why', () => {
    const result = imported(
      lf('quantization_bit: 8\nval_size: 500\nlr_scheduler_type: cosine_with_min_lr\nmystery_knob: 3\n').replace(
        'finetuning_type: lora',
        'finetuning_type: full',
      ),
      { datasets: { mine: { path: 'data/mine.jsonl' } } },
    );
    const data = parse(result.text);
    assert.equal(data.method, 'lora');
    assert.equal(data.quantization, undefined);
    assert.match(result.text, /^# quantization_bit: 8 — not mapped: ModelFactory quantizes to 4 bits only/m);
    assert.match(
      result.text,
      /^# finetuning_type: full — not mapped: ModelFactory trains LoRA or QLoRA adapters only/m,
    );
    assert.match(result.text, /^# val_size: 500 — not mapped: a count of 500 records; ours is dataset\.eval_split/m);
    assert.match(
      result.text,
      /^# lr_scheduler_type: cosine_with_min_lr — not mapped: .*ours is training\.lr_scheduler/m,
    );
    assert.match(result.text, /^# mystery_knob: 3 — not mapped: ModelFactory has no equivalent setting$/m);
    assert.equal(data.training.lr_scheduler, 'linear', "LLaMA-Factory's own default, not ours");
    assert.equal(data.dataset.eval_split, undefined);
  });

  it('chat templates: chatml and .jinja files carry over, a template the tokenizer has is the default', () => {
    const ax = (template: string) =>
      parse(imported(`base_model: gpt2\nadapter: lora\nchat_template: ${template}\n`).text);
    if (HAS_CHAT_TEMPLATE) {
      assert.equal(ax('chatml').chat_template, 'chatml');
      assert.equal(ax('templates/mine.jinja').chat_template, 'templates/mine.jinja');
    } else {
      assert.equal(ax('chatml').chat_template, undefined);
    }
    const fallback = imported('base_model: gpt2\nadapter: lora\nchat_template: tokenizer_default\n');
    assert.equal(parse(fallback.text).chat_template, undefined);
    assert.deepEqual(
      fallback.mapped.find((m) => m.key === 'chat_template'),
      HAS_CHAT_TEMPLATE ? { key: 'chat_template', to: '(default)' } : undefined,
    );
  });

  it('an axolotl local dataset keeps its file and format, relocated to the new config', () => {
    const text =
      'base_model: gpt2\nadapter: lora\ndatasets:\n  - path: ./data/train.jsonl\n    type: alpaca\nval_set_size: 0.1\n';
    const result = imported(text, { relocate: (p: string) => `../${p.replace(/^\.\//, '')}` });
    const data = parse(result.text);
    assert.deepEqual(data.dataset, { path: '../data/train.jsonl', format: 'alpaca', eval_split: 0.1 });
    assert.equal(data.training.epochs, 1, "axolotl's default num_epochs");
  });

  it('LLaMA-Factory dataset names: hub entries, unknown names and a missing registry are explained', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-import-'));
    mkdirSync(join(dir, 'configs'));
    const config = join(dir, 'configs', 'train.yaml');
    writeFileSync(config, 'model_name_or_path: gpt2\nstage: sft\ndataset: alpaca_en,nowhere,identity\n');
    const none = await importConfigFile(nodeEnvironment(), readFileSync(config, 'utf8'), {
      sourcePath: config,
      outputDir: join(dir, 'configs'),
    });
    assert.ok(none.ok);
    assert.match(none.text, /^# dataset: alpaca_en — not mapped: .*dataset_info\.json was not found/m);
    assert.match(none.text, /^# dataset: no local dataset file could be mapped/m);
    cpSync(join(LF, 'data'), join(dir, 'data'), { recursive: true });
    const found = await importConfigFile(nodeEnvironment(), readFileSync(config, 'utf8'), {
      sourcePath: config,
      outputDir: join(dir, 'configs'),
    });
    assert.ok(found.ok);
    assert.match(
      found.text,
      /^# dataset: alpaca_en — not mapped: a hub dataset \(hf_hub_url: llamafactory\/alpaca_en\)/m,
    );
    assert.match(found.text, /^# dataset: nowhere — not mapped: "nowhere" is not listed in .*dataset_info\.json$/m);
    assert.equal(parse(found.text).dataset.path, '../data/identity.json');
    const remoteFile = await importConfigFile(
      nodeEnvironment(),
      'model_name_or_path: gpt2\nstage: sft\ndataset: identity\ndataset_dir: REMOTE:llamafactory/demo_data\n',
      { sourcePath: config, outputDir: join(dir, 'configs') },
    );
    assert.ok(remoteFile.ok);
    assert.match(
      remoteFile.text,
      /^# dataset: identity — not mapped: its registry is on a dataset hub \(dataset_dir: REMOTE:llamafactory\/demo_data\)/m,
    );
  });

  it("LLaMA-Factory's report_to and model_revision become training.report_to and revision", () => {
    const imported = (extra: string) => {
      const result = importConfig(`model_name_or_path: Qwen/Qwen3-4B\nfinetuning_type: lora\n${extra}`);
      assert.ok(result.ok);
      return { data: parse(result.text) as Record<string, Record<string, unknown>>, text: result.text };
    };
    const both = imported('report_to: [tensorboard, wandb]\nmodel_revision: v2.0\n').data;
    assert.deepEqual(both['training']!['report_to'], ['tensorboard', 'wandb']);
    assert.equal(both['revision'], 'v2.0');
    assert.equal(imported('report_to: tensorboard\n').data['training']!['report_to'], 'tensorboard');
    const swanlab = imported('report_to: swanlab\n');
    assert.equal(swanlab.data['training']?.['report_to'], undefined);
    assert.match(swanlab.text, /^# report_to: swanlab — /m);
  });

  it('refuses what is not a LLaMA-Factory or axolotl config, saying which keys it expected', () => {
    const refused = (text: string) => {
      const result = importConfig(text);
      assert.equal(result.ok, false);
      return result.ok ? '' : result.message;
    };
    assert.match(
      refused('name: my-app\nversion: 2\n'),
      /not a LLaMA-Factory or axolotl config: expected LLaMA-Factory's model_name_or_path .* or axolotl's base_model/,
    );
    assert.match(refused('name: my-app\n'), /found name$/);
    assert.match(
      refused('base_model: gpt2\nmethod: lora\ndataset:\n  path: a.jsonl\n'),
      /already a ModelFactory fine-tune config/,
    );
    assert.match(refused('- a\n- b\n'), /not a mapping/);
    assert.match(refused('model_name_or_path: [gpt2\n'), /not valid YAML/);
  });
});

describe('import: writing YAML values', () => {
  it('numbers and strings read back the same in YAML 1.2 and in PyYAML', () => {
    assert.equal(formatNumber(1e-7), '1.0e-7');
    assert.equal(formatNumber(2.5e-8), '2.5e-8');
    assert.equal(formatNumber(0.0002), '0.0002');
    assert.equal(formatNumber(1e21), '1.0e+21');
    for (const word of ['yes', 'no', 'on', 'null', 'true', '1.5', '0x10', '2024-01-15', '', 'a: b', '#x']) {
      assert.match(formatString(word), /^"/, `${word} is quoted`);
      assert.equal(parse(`k: ${formatString(word)}`).k, word);
    }
    for (const word of ['Qwen/Qwen3-4B', './outputs/run', 'q_proj', 'data/train.jsonl']) {
      assert.equal(formatString(word), word);
    }
    assert.equal(formatValue(['q_proj', 'v_proj']), '[q_proj, v_proj]');
  });

  it('relativePath', () => {
    assert.equal(relativePath('/a/b/c', '/a/data/x.json'), '../../data/x.json');
    assert.equal(relativePath('/a', '/a/data/x.json'), 'data/x.json');
    assert.equal(relativePath('/a/b', '/a/b'), '.');
    assert.equal(relativePath('rel', '/a/x'), '/a/x');
  });
});
