// The dataset registry linter (dataset_info.json): each defect of test/fixtures/registry/defects at its
// key or value, the real LLaMA-Factory entries of test/fixtures/registry/llama-factory, the file's kind.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { documentKindOf } from '../../server/src/core/documentKind';
import { validateRegistry } from '../../server/src/core/dataset/registryLint';
import { effectiveSeverity } from '../../server/src/core/rules';
import type { Finding } from '../../server/src/core/types';
import { nodeEnvironment } from '../../server/src/nodeFs';

const FIXTURES = join(__dirname, '..', 'fixtures', 'registry');

async function lintRegistry(path: string, text = readFileSync(path, 'utf8')): Promise<Finding[]> {
  return validateRegistry(text, path, nodeEnvironment(), (rule) => effectiveSeverity(rule));
}

function covered(text: string, f: Finding): string {
  const lines = text.split('\n');
  return lines[f.range.start.line]!.slice(f.range.start.character, f.range.end.character);
}

describe('the dataset registry linter', () => {
  it('dataset_info.json is a kind of its own; other .json files are still datasets', () => {
    assert.equal(documentKindOf('/w/data/dataset_info.json'), 'registry');
    assert.equal(documentKindOf('C:/w/data/DATASET_INFO.json'), 'registry');
    assert.equal(documentKindOf('/w/data/my_dataset_info.json'), 'dataset');
    assert.equal(documentKindOf('/w/data/train.json'), 'dataset');
  });

  it('each defect, under its rule, at its key or value', async () => {
    const path = join(FIXTURES, 'defects', 'dataset_info.json');
    const text = readFileSync(path, 'utf8');
    const found = (await lintRegistry(path)).map((f) => [f.rule, covered(text, f), f.message]);
    const expect = (rule: string, at: string, message: RegExp) =>
      assert.ok(
        found.some(([r, c, m]) => r === rule && c === at && message.test(m!)),
        `${rule} at ${at}: ${JSON.stringify(found, null, 1)}`,
      );
    expect('registry/unknown-key', '"colums"', /does not read "colums" in an entry\. Did you mean "columns"\?/);
    expect('registry/no-file', '"no_file"', /names no file_name/);
    expect('registry/file-missing', '"absent.jsonl"', /file_name absent\.jsonl does not exist/);
    expect(
      'registry/formatting',
      '"sharegtp"',
      /not read by this trainer: use alpaca or sharegpt\. Did you mean "sharegpt"\?/,
    );
    expect(
      'registry/column-absent',
      '"reply"',
      /Column response is read from "reply", but none of the first 3 record\(s\) of qa\.jsonl has it \(their keys: question, answer\)/,
    );
    expect('registry/unknown-key', '"respone"', /no column "respone"\. Did you mean "response"\?/);
    expect('registry/file-missing', '"../llama-factory/alpaca_en_demo.json"', /outside the registry's folder/);
    // Without `columns`, LLaMA-Factory reads instruction and output: a file that has neither says so.
    expect('registry/column-absent', '"typo_key"', /Column prompt is read from "instruction"/);
    // The clean entry gives nothing.
    assert.deepEqual(
      found.filter(([, c]) => c === '"qa"' || c === '"question"' || c === '"answer"'),
      [],
    );
  });

  it("LLaMA-Factory's own entries: the local ones clean, the hub ones noted", async () => {
    const path = join(FIXTURES, 'llama-factory', 'dataset_info.json');
    const text = readFileSync(path, 'utf8');
    const findings = await lintRegistry(path);
    assert.deepEqual(
      findings.map((f) => [f.rule, f.severity, covered(text, f)]),
      [
        ['registry/hub-entry', 'information', '"hf_hub_url"'],
        ['registry/hub-entry', 'information', '"hf_hub_url"'],
      ],
    );
    assert.match(
      findings[0]!.message,
      /^Entry 'alpaca_en' is read from hf_hub_url \(llamafactory\/alpaca_en\): this trainer reads local files only/,
    );
  });

  it('a file_name that is not JSON or JSONL, JSON that is not a registry, a broken file', async () => {
    const path = join(FIXTURES, 'llama-factory', 'dataset_info.json');
    const wiki = await lintRegistry(
      path,
      '{"wiki_demo": {"file_name": "wiki_demo.txt", "columns": {"prompt": "text"}}}',
    );
    assert.deepEqual(
      wiki.map((f) => f.rule),
      ['registry/file-missing'],
    );
    assert.match(wiki[0]!.message, /file_name wiki_demo\.txt is not a \.jsonl or \.json file/);
    assert.deepEqual(
      (await lintRegistry(path, '[{"file_name": "a.json"}]')).map((f) => f.rule),
      ['registry/invalid-json'],
    );
    const broken = await lintRegistry(path, '{\n  "a": {"file_name": "identity.json",}\n}');
    assert.deepEqual(
      broken.map((f) => [f.rule, f.range.start.line]),
      [['registry/invalid-json', 1]],
    );
    assert.deepEqual(
      (await lintRegistry(path, '{"a": "identity.json"}')).map((f) => f.rule),
      ['registry/invalid-json'],
    );
  });

  it('a column read for the other formatting, and an unknown tag', async () => {
    const path = join(FIXTURES, 'llama-factory', 'dataset_info.json');
    const text =
      '{"a": {"file_name": "alpaca_en_demo.json", "columns": {"prompt": "instruction", "response": "output", "messages": "conversations"}, "tags": {"role_tg": "from"}}}';
    const findings = await lintRegistry(path, text);
    assert.deepEqual(
      findings.map((f) => [f.rule, covered(text, f), f.message]),
      [
        ['registry/unknown-key', '"messages"', 'Column "messages" is not read for alpaca formatting.'],
        ['registry/unknown-key', '"role_tg"', 'LLaMA-Factory has no tag "role_tg". Did you mean "role_tag"?'],
      ],
    );
  });
});
