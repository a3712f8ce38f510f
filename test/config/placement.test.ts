// Keys at the wrong level, other tools' key names and `dataset: FILE`: the message names the right
// place or our name, and the quick fix moves, renames or removes the key so the config lints clean.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configCodeActions, validateConfig } from '../../server/src/core/config';
import { KEY_ALIASES } from '../../server/src/core/config/aliases';
import type { Finding } from '../../server/src/core/types';
import { applyEdits, config, covered, FIXTURES, lint } from './helpers';
import { testContext } from './nodeEnv';
import { parseYaml } from '../../server/src/core/yaml';

const schemaRules = (findings: Finding[]) =>
  findings.filter((f) => ['config/schema', 'config/unknown-key', 'config/missing-key'].includes(f.rule));

/** The one finding of `rule` on `key`, and the text after its preferred fix. */
async function fixOf(text: string, key: string, rule = 'config/unknown-key') {
  const findings = (await lint(text)).filter((f) => f.rule === rule && covered(text, f).startsWith(key));
  assert.equal(findings.length, 1, `one ${rule} finding on ${key}: ${findings.map((f) => f.message).join(' | ')}`);
  const finding = findings[0]!;
  const actions = configCodeActions(parseYaml(text), [finding]);
  const action = actions.find((a) => a.isPreferred);
  return { finding, action, fixed: action ? applyEdits(text, action.edits) : undefined };
}

describe('a known key at the wrong level', () => {
  it('learning_rate at the top level: "move it under `training:`", and the fix moves it with its comment', async () => {
    const text = config('gpt2', 'learning_rate: 1.0e-4 # peak\ntraining:\n  epochs: 1\n');
    const { finding, action, fixed } = await fixOf(text, 'learning_rate');
    assert.match(finding.message, /^`learning_rate` does not belong at the top level: move it under `training:`/);
    assert.match(finding.message, /LLaMA-Factory and axolotl keep it at the top level/);
    assert.equal(action!.title, 'Move `learning_rate` under `training:`');
    assert.equal(fixed, config('gpt2', 'training:\n  epochs: 1\n  learning_rate: 1.0e-4 # peak\n'));
    assert.deepEqual(schemaRules(await lint(fixed!)), []);
  });

  it('r under training: "move it under `lora:`"; the only key of a section takes the section with it', async () => {
    const text = config('gpt2', 'training:\n  r: 8\nlora:\n  alpha: 16\n');
    const { finding, fixed } = await fixOf(text, 'r');
    assert.equal(finding.message, '`r` does not belong under `training:`: move it under `lora:`.');
    assert.equal(fixed, config('gpt2', 'lora:\n  alpha: 16\n  r: 8\n'));
    assert.deepEqual(schemaRules(await lint(fixed!)), []);
  });

  it('creates the section when it is missing, even at the end of a file with no final line break', async () => {
    const text = config('gpt2', 'lora:\n  r: 8\n  epochs: 2');
    const { fixed } = await fixOf(text, 'epochs');
    assert.equal(fixed, config('gpt2', 'lora:\n  r: 8\ntraining:\n  epochs: 2\n'));
    assert.deepEqual(schemaRules(await lint(fixed!)), []);
  });

  it('a block value moves whole, re-indented', async () => {
    const text = config('gpt2', 'target_modules:\n  - c_attn\n  - c_proj\nlora:\n    r: 8\n');
    const { fixed } = await fixOf(text, 'target_modules');
    assert.equal(fixed, config('gpt2', 'lora:\n    r: 8\n    target_modules:\n      - c_attn\n      - c_proj\n'));
    assert.deepEqual(schemaRules(await lint(fixed!)), []);
  });

  it('base_model under training moves to the top level', async () => {
    const text =
      'method: lora\ndataset:\n  path: data/chat-messages.jsonl\ntraining:\n  base_model: gpt2\n  epochs: 1\n';
    const { finding, fixed } = await fixOf(text, 'base_model');
    assert.match(finding.message, /move it to the top level/);
    assert.deepEqual(schemaRules(await lint(fixed!)), []);
  });

  it('already set where it belongs: remove this one', async () => {
    const text = config('gpt2', 'gradient_accumulation_steps: 4\ntraining:\n  gradient_accumulation_steps: 2\n');
    const { finding, action, fixed } = await fixOf(text, 'gradient_accumulation_steps');
    assert.match(finding.message, /`training\.gradient_accumulation_steps` is already set: remove this one/);
    assert.match(action!.title, /^Remove/);
    assert.equal(fixed, config('gpt2', 'training:\n  gradient_accumulation_steps: 2\n'));
  });
});

describe("another tool's key names", () => {
  const NAMES: [string, string, string][] = [
    ['lora_rank: 8', 'LLaMA-Factory', 'lora.r'],
    ['cutoff_len: 1024', 'LLaMA-Factory', 'training.max_seq_length'],
    ['num_train_epochs: 2', 'LLaMA-Factory', 'training.epochs'],
    ['per_device_train_batch_size: 2', 'LLaMA-Factory', 'training.batch_size'],
    ['lora_target: all', 'LLaMA-Factory', 'lora.target_modules'],
    ['micro_batch_size: 2', 'axolotl', 'training.batch_size'],
    ['sequence_len: 1024', 'axolotl', 'training.max_seq_length'],
    ['num_epochs: 2', 'axolotl', 'training.epochs'],
    ['lora_r: 8', 'axolotl', 'lora.r'],
    ['lora_alpha: 16', "LLaMA-Factory's and axolotl", 'lora.alpha'],
    ['lr_scheduler_type: cosine', 'LLaMA-Factory', 'training.lr_scheduler'],
  ];
  for (const [line, tool, ours] of NAMES) {
    const key = line.slice(0, line.indexOf(':'));
    it(`${key}: names ${ours}, and the fix writes it there`, async () => {
      const text = config('gpt2', `${line}\n`);
      const { finding, fixed } = await fixOf(text, key);
      assert.equal(
        finding.message.startsWith(`\`${key}\` is ${tool}'s name: ours is \`${ours}\``),
        true,
        finding.message,
      );
      assert.ok(fixed, 'a quick fix');
      assert.deepEqual(schemaRules(await lint(fixed)), [], fixed);
      assert.doesNotMatch(fixed, new RegExp(`^${key}:`, 'm'));
    });
  }

  it('the exact wording for cutoff_len, and values converted on the way (lora_target, bf16)', async () => {
    const cutoff = await fixOf(config('gpt2', 'cutoff_len: 1024\n'), 'cutoff_len');
    assert.equal(cutoff.finding.message, "`cutoff_len` is LLaMA-Factory's name: ours is `training.max_seq_length`.");
    assert.equal(cutoff.fixed, config('gpt2', 'training:\n  max_seq_length: 1024\n'));
    const target = await fixOf(config('gpt2', 'lora_target: c_attn,c_proj # attention\n'), 'lora_target');
    assert.equal(target.fixed, config('gpt2', 'lora:\n  target_modules: [c_attn, c_proj] # attention\n'));
    const bf16 = await fixOf(config('gpt2', 'bf16: true\n'), 'bf16');
    assert.match(bf16.finding.message, /ours is `training\.precision` \(bf16\)/);
    assert.equal(bf16.fixed, config('gpt2', 'training:\n  precision: bf16\n'));
  });

  it('model_name_or_path and finetuning_type name base_model and method', async () => {
    const text = 'model_name_or_path: gpt2\nfinetuning_type: lora\ndataset:\n  path: data/chat-messages.jsonl\n';
    const findings = await lint(text);
    const messages = findings.filter((f) => f.rule === 'config/unknown-key').map((f) => f.message);
    assert.ok(
      messages.includes("`model_name_or_path` is LLaMA-Factory's name: ours is `base_model`."),
      messages.join('\n'),
    );
    assert.ok(messages.some((m) => m.startsWith("`finetuning_type` is LLaMA-Factory's name: ours is `method`")));
  });

  it('under the right section, a rename where it stands', async () => {
    const text = config('gpt2', 'lora:\n  lora_rank: 8 # small\n  alpha: 16\n');
    const { finding, fixed } = await fixOf(text, 'lora_rank');
    assert.equal(finding.message, "`lora_rank` is LLaMA-Factory's name: ours is `lora.r`.");
    assert.equal(fixed, config('gpt2', 'lora:\n  r: 8 # small\n  alpha: 16\n'));
  });

  it('a value with no equivalent gets the message but no fix', async () => {
    const { finding, action } = await fixOf(
      config('gpt2', 'lr_scheduler_type: cosine_with_min_lr\n'),
      'lr_scheduler_type',
    );
    assert.match(finding.message, /ours is `training\.lr_scheduler` \(cosine, linear/);
    assert.equal(action, undefined);
  });

  it('a setting we have no equivalent of: why, and a fix that removes it', async () => {
    const text = config('gpt2', 'deepspeed: ds_z3.json\n');
    const { finding, fixed } = await fixOf(text, 'deepspeed');
    assert.equal(
      finding.message,
      '`deepspeed` is a LLaMA-Factory and axolotl setting with no ModelFactory equivalent: ModelFactory launches multi-GPU jobs itself. Remove it.',
    );
    assert.equal(fixed, config('gpt2'));
  });

  it('families of settings by prefix (liger_*, wandb_*) are explained too', async () => {
    const { finding } = await fixOf(config('gpt2', 'liger_rope: true\n'), 'liger_rope');
    assert.match(
      finding.message,
      /^`liger_rope` is an axolotl setting with no ModelFactory equivalent: the trainer chooses/,
    );
  });

  it('typos still get the did-you-mean and its rename', async () => {
    const text = config('gpt2', 'training:\n  learning_rte: 1.0e-4\n');
    const { finding, fixed } = await fixOf(text, 'learning_rte');
    assert.match(finding.message, /Did you mean "learning_rate"\?/);
    assert.equal(fixed, config('gpt2', 'training:\n  learning_rate: 1.0e-4\n'));
  });

  it('every alias names a key that exists in our schema, or is left out until it does', async () => {
    for (const alias of KEY_ALIASES) {
      const findings = await lint(config('gpt2', `${alias.key}: 1\n`));
      const finding = findings.find((f) => f.rule === 'config/unknown-key');
      assert.ok(finding, alias.key);
      assert.match(finding.message, new RegExp(`^\`${alias.key}\``), finding.message);
    }
  });
});

describe('dataset: a string', () => {
  it('a path: says it takes an object, and the fix makes it dataset.path', async () => {
    const text = 'base_model: gpt2\nmethod: lora\ndataset: data/chat-messages.jsonl # ours\n';
    const findings = await lint(text);
    assert.deepEqual(
      findings.map((f) => [f.rule, f.message]),
      [
        [
          'config/schema',
          'dataset takes an object: `dataset: {path: FILE}`, `{datanet: datanet.yaml}`, `{registry: dataset_info.json, name: ENTRY}`, `{hub: org/name}` or `{datanet_version: HUB/NAME@VERSION}`, not a string: write `dataset: {path: data/chat-messages.jsonl}`.',
        ],
      ],
    );
    assert.doesNotMatch(findings[0]!.message, /more than one alternative/);
    const { fixed } = await fixOf(text, 'data/chat-messages.jsonl', 'config/schema');
    assert.equal(fixed, 'base_model: gpt2\nmethod: lora\ndataset:\n  path: data/chat-messages.jsonl # ours\n');
    assert.deepEqual(await lint(fixed!), []);
  });

  it('a datanet.yaml becomes dataset.datanet', async () => {
    const text = 'base_model: gpt2\nmethod: lora\ndataset: support/datanet.yaml\n';
    const { fixed } = await fixOf(text, 'support/datanet.yaml', 'config/schema');
    assert.equal(fixed, 'base_model: gpt2\nmethod: lora\ndataset:\n  datanet: support/datanet.yaml\n');
    assert.deepEqual(schemaRules(await validateConfig(parseYaml(fixed!), testContext(FIXTURES))), []);
  });

  it("LLaMA-Factory's dataset names: what they are, and no fix (there is no file to name)", async () => {
    const text = 'base_model: gpt2\nmethod: lora\ndataset: identity,alpaca_en_demo\n';
    const { finding, action } = await fixOf(text, 'identity', 'config/schema');
    assert.match(finding.message, /^dataset takes an object: .*looks like LLaMA-Factory dataset names/);
    assert.equal(action, undefined);
  });

  it('an empty dataset key gets the same message instead of "more than one alternative"', async () => {
    const findings = (await lint('base_model: gpt2\nmethod: lora\ndataset:\n')).filter(
      (f) => f.rule === 'config/schema',
    );
    assert.deepEqual(
      findings.map((f) => f.message),
      [
        'dataset takes an object: `dataset: {path: FILE}`, `{datanet: datanet.yaml}`, `{registry: dataset_info.json, name: ENTRY}`, `{hub: org/name}` or `{datanet_version: HUB/NAME@VERSION}`.',
      ],
    );
  });
});

describe("dataset's sources: path, datanet, or registry with name", () => {
  const cases: [string, string][] = [
    [
      'dataset:\n  format: auto\n',
      'dataset needs one source: "path" (a file), "datanet" (a datanet.yaml), "datanet_version" (a version published on a Datanet hub), "registry" with "name" (an entry of LLaMA-Factory\'s dataset_info.json) or "hub" (a dataset repository on the Hugging Face Hub).',
    ],
    [
      'dataset:\n  registry: data/dataset_info.json\n',
      'dataset.registry needs "name": the entry of the registry to train on.',
    ],
    [
      'dataset:\n  name: identity\n',
      'dataset.name picks an entry of a registry: add "registry" (a dataset_info.json, relative to this config).',
    ],
    [
      'dataset:\n  path: data/chat-messages.jsonl\n  registry: data/dataset_info.json\n  name: identity\n',
      'dataset has more than one source ("path" and "registry"): keep one of "path" (a file), "datanet" (a datanet.yaml), "datanet_version" (a version published on a Datanet hub), "registry" with "name" (an entry of LLaMA-Factory\'s dataset_info.json) or "hub" (a dataset repository on the Hugging Face Hub).',
    ],
  ];
  for (const [dataset, message] of cases) {
    it(message, async () => {
      const findings = await lint(`base_model: gpt2\nmethod: lora\n${dataset}`);
      assert.deepEqual(
        findings.filter((f) => f.rule.startsWith('config/missing') || f.rule === 'config/schema').map((f) => f.message),
        [message],
      );
    });
  }
});
