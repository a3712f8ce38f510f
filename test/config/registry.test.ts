// `dataset: {registry, name}` in a config: the registry and the entry resolved as the trainer resolves them
// (trainer/tests/test_registry.py runs `check` on the same entries), then the entry's first records, mapped
// through its columns and tags, against the objective.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Finding } from '../../server/src/core/types';
import { covered, lint } from './helpers';

const REGISTRY = '../registry/llama-factory/dataset_info.json';

function configFor(name: string, extra = '', registry = REGISTRY): string {
  return `base_model: gpt2\nmethod: lora\n${extra}dataset:\n  registry: ${registry}\n  name: ${name}\n`;
}

const datasetFindings = (findings: Finding[]): Finding[] => findings.filter((f) => f.rule.startsWith('config/dataset'));

describe('a config naming a registry entry', () => {
  for (const name of ['alpaca_en_demo', 'identity', 'glaive_toolcall_en_demo']) {
    it(`${name} lints clean`, async () => {
      assert.deepEqual(datasetFindings(await lint(configFor(name))), []);
    });
  }

  const refused: [string, string, string, string][] = [
    [
      'alpaca_en_dmo',
      'config/dataset-missing',
      'alpaca_en_dmo',
      "has no entry named 'alpaca_en_dmo'. Did you mean 'alpaca_en_demo'?",
    ],
    [
      'alpaca_en',
      'config/dataset-missing',
      'alpaca_en',
      'is read from hf_hub_url (llamafactory/alpaca_en): this trainer reads local files only',
    ],
    [
      'dpo_en_demo',
      'config/dataset-format-mismatch',
      'dpo_en_demo',
      'preference records train with objective dpo, not sft',
    ],
    ['kto_en_demo', 'config/dataset-format-mismatch', 'kto_en_demo', 'kto records train with objective kto, not sft'],
    ['mllm_demo', 'config/dataset-format-mismatch', 'mllm_demo', '2 records carry images, videos or audio'],
    [
      'c4_demo',
      'config/dataset-format-mismatch',
      'c4_demo',
      "3 of the first 3 record(s), read through the entry's columns and tags, are refused: 'output' is missing [schema/missing-field]",
    ],
  ];
  for (const [name, rule, at, message] of refused) {
    it(`${name}: ${rule}`, async () => {
      const text = configFor(name);
      const findings = datasetFindings(await lint(text));
      assert.equal(findings.length, 1, JSON.stringify(findings));
      assert.equal(findings[0]!.rule, rule);
      assert.equal(covered(text, findings[0]!), at);
      assert.ok(findings[0]!.message.includes(message), findings[0]!.message);
    });
  }

  it('a missing registry is named at dataset.registry', async () => {
    const text = configFor('identity', '', 'data/dataset_info.json');
    const findings = datasetFindings(await lint(text));
    assert.equal(findings.length, 1);
    assert.equal(covered(text, findings[0]!), 'data/dataset_info.json');
    assert.match(findings[0]!.message, /^Dataset registry "data\/dataset_info.json" does not exist/);
  });

  it("the trainer's refusals of an entry: outside the folder, no file, a formatting it does not read", async () => {
    const registry = '../registry/defects/dataset_info.json';
    const expected: [string, RegExp][] = [
      ['escapes', /file_name \.\.\/llama-factory\/alpaca_en_demo\.json is outside the registry's folder/],
      ['missing_file', /file_name absent\.jsonl does not exist/],
      ['no_file', /names no file_name/],
      ['bad_formatting', /formatting "sharegtp" is not read by this trainer: use alpaca or sharegpt/],
    ];
    for (const [name, message] of expected) {
      const findings = datasetFindings(await lint(configFor(name, '', registry)));
      assert.deepEqual(
        findings.map((f) => f.rule),
        ['config/dataset-missing'],
      );
      assert.match(findings[0]!.message, message);
    }
    assert.deepEqual(datasetFindings(await lint(configFor('qa', '', registry))), []);
  });

  it('an explicit dataset.format is held against the entry', async () => {
    const text = configFor('alpaca_en_demo', '', REGISTRY).replace('  name:', '  format: sharegpt\n  name:');
    const findings = datasetFindings(await lint(text));
    assert.equal(findings.length, 1);
    assert.match(
      findings[0]!.message,
      /dataset.format is sharegpt, but the first 4 record\(s\) of .* are alpaca records/,
    );
  });
});
