// `modelfactory import` as a user runs it: a child process on copies of real LLaMA-Factory and axolotl
// examples; its output goes through `modelfactory lint`, the real linter.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'modelfactory.js');
const IMPORTED = join(ROOT, 'test', 'fixtures', 'configs', 'imported');

function run(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface LintJson {
  diagnostics: { rule: string; severity: string; message: string; line: number }[];
}

function lintJson(file: string, cwd: string): LintJson {
  const r = run(['lint', file, '--format', 'json'], cwd);
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  return JSON.parse(r.stdout) as LintJson;
}

/** A copy of a fixture tree, with small record files where its dataset_info.json points. */
function workspace(tool: 'llama-factory' | 'axolotl'): string {
  const dir = mkdtempSync(join(tmpdir(), `mf-import-${tool}-`));
  cpSync(join(IMPORTED, tool), dir, { recursive: true });
  if (tool === 'llama-factory') {
    const record = JSON.stringify([{ instruction: 'Say hi', input: '', output: 'Hi!' }]);
    for (const name of ['identity.json', 'alpaca_en_demo.json', 'dpo_en_demo.json']) {
      writeFileSync(join(dir, 'data', name), record);
    }
  }
  return dir;
}

describe('modelfactory import', () => {
  it('a LLaMA-Factory example to stdout, run from its repository root: the linter finds no config errors', () => {
    const dir = workspace('llama-factory');
    const r = run(['import', 'examples/train_lora/qwen3_lora_sft_ds3.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /examples\/train_lora\/qwen3_lora_sft_ds3\.yaml \(LLaMA-Factory\): \d+ keys mapped, \d+ left as comments\./,
    );
    const data = parse(r.stdout);
    assert.equal(data.base_model, 'Qwen/Qwen3-4B-Instruct-2507');
    assert.equal(data.dataset.path, 'data/identity.json', 'relative to the working directory, where stdout goes');
    assert.match(
      r.stdout,
      /^# deepspeed: examples\/deepspeed\/ds_z3_config\.json — not mapped: ModelFactory launches multi-GPU jobs itself$/m,
    );
    writeFileSync(join(dir, 'qwen3.finetune.yaml'), r.stdout);
    const lint = lintJson('qwen3.finetune.yaml', dir);
    assert.deepEqual(
      lint.diagnostics.filter((d) => d.severity === 'error'),
      [],
      JSON.stringify(lint.diagnostics, null, 1),
    );
  });

  it('-o writes the file with paths relative to it, refuses to overwrite it, --force does', () => {
    const dir = workspace('llama-factory');
    mkdirSync(join(dir, 'configs'));
    const out = join('configs', 'qwen3.finetune.yaml');
    const first = run(['import', 'examples/train_qlora/qwen3_lora_sft_otfq.yaml', '-o', out], dir);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, '');
    assert.match(first.stderr, /wrote configs\/qwen3\.finetune\.yaml\./);
    const written = readFileSync(join(dir, out), 'utf8');
    const data = parse(written);
    assert.equal(data.method, 'qlora');
    assert.deepEqual(data.quantization, { bits: 4, type: 'nf4', double_quant: true });
    assert.equal(data.dataset.path, '../data/identity.json');
    assert.equal(data.output_dir, '../saves/qwen3-4b/lora/sft');
    const lint = lintJson(out, dir);
    assert.deepEqual(
      lint.diagnostics.filter((d) => ['config/schema', 'config/unknown-key', 'config/missing-key'].includes(d.rule)),
      [],
    );
    assert.ok(!lint.diagnostics.some((d) => d.rule === 'config/dataset-missing'), 'the dataset path resolves');

    writeFileSync(join(dir, out), 'mine\n');
    const again = run(['import', 'examples/train_qlora/qwen3_lora_sft_otfq.yaml', '-o', out], dir);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /configs\/qwen3\.finetune\.yaml exists: pass --force to overwrite it/);
    assert.equal(readFileSync(join(dir, out), 'utf8'), 'mine\n', 'left alone');
    const forced = run(['import', 'examples/train_qlora/qwen3_lora_sft_otfq.yaml', '-o', out, '--force'], dir);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(readFileSync(join(dir, out), 'utf8'), written);
  });

  it('axolotl examples: each lints with no schema or unknown-key finding; the Hub dataset is explained', () => {
    const dir = workspace('axolotl');
    for (const file of ['examples/llama-3/lora-1b.yml', 'examples/llama-3/qlora-1b.yml', 'examples/mistral/lora.yml']) {
      const out = file.replace(/\.ya?ml$/, '.finetune.yaml');
      const r = run(['import', file, '--output', out], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /\(axolotl\)/);
      const text = readFileSync(join(dir, out), 'utf8');
      assert.match(text, /^# datasets\[0\]: .* — not mapped: .*Hugging Face Hub dataset/m);
      const rules = lintJson(out, dir).diagnostics.map((d) => d.rule);
      assert.ok(
        !rules.includes('config/schema') && !rules.includes('config/unknown-key'),
        `${file}: ${rules.join(', ')}`,
      );
      // No local file could be named: the one thing left for the user, and the linter says so.
      assert.ok(rules.includes('config/missing-key'), `${file}: ${rules.join(', ')}`);
    }
  });

  it('exit 2: not a LLaMA-Factory or axolotl config (naming the keys it expected), unreadable, usage errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-import-bad-'));
    writeFileSync(join(dir, 'compose.yaml'), 'services:\n  web:\n    image: nginx\n');
    const notOurs = run(['import', 'compose.yaml'], dir);
    assert.equal(notOurs.code, 2);
    assert.equal(notOurs.stdout, '');
    assert.match(
      notOurs.stderr,
      /compose\.yaml: not a LLaMA-Factory or axolotl config: expected LLaMA-Factory's model_name_or_path/,
    );
    assert.match(notOurs.stderr, /axolotl's base_model/);
    assert.match(notOurs.stderr, /found services/);

    const missing = run(['import', 'nope.yaml'], dir);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read nope\.yaml: ENOENT/);

    const none = run(['import'], dir);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /import needs a LLaMA-Factory or axolotl config file/);
    assert.match(none.stderr, /Usage: modelfactory import FILE/);
    const unknown = run(['import', 'compose.yaml', '--yes'], dir);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option --yes/);
    const noOut = run(['import', 'compose.yaml', '-o'], dir);
    assert.equal(noOut.code, 2);
    assert.match(noOut.stderr, /-o needs a file name/);

    const unwritable = run(
      ['import', join(IMPORTED, 'axolotl/examples/llama-3/lora-1b.yml'), '-o', 'no/such/dir/x.finetune.yaml'],
      dir,
    );
    assert.equal(unwritable.code, 2);
    assert.match(unwritable.stderr, /cannot write no\/such\/dir\/x\.finetune\.yaml: ENOENT/);
    assert.ok(!existsSync(join(dir, 'no')));
  });

  it('--help prints the usage; the command list names import', () => {
    const help = run(['import', '--help'], ROOT);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: modelfactory import FILE \[-o OUT\] \[--force\]/);
    assert.match(help.stdout, /--force/);
    const all = run(['--help'], ROOT);
    assert.match(all.stdout, /modelfactory import FILE/);
  });

  it('warns when -o names a file the linter will not treat as a config', () => {
    const dir = workspace('axolotl');
    const r = run(['import', 'examples/llama-3/lora-1b.yml', '-o', 'lora.yaml'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /lora\.yaml is not named \*\.finetune\.yaml or modelfactory\.yaml/);
  });
});
