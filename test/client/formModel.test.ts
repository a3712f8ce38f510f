import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import { formChoices } from '../../client/src/config/formChoices';
import { applyEdits, editForField, fieldPathAt, formatNumber, readForm } from '../../client/src/config/formModel';
import type { TextEdit } from '../../client/src/config/formModel';
import { FIELD_ENUMS, FIELDS, fieldSpec } from '../../webviews/src/protocol/hyperparameters';
import type { FieldPath, FieldValue } from '../../webviews/src/protocol/hyperparameters';
import { needTrainer, TRAINER_PYTHON } from '../needs';

const SAMPLES = join(__dirname, '..', '..', 'samples', 'workspace');
const sample = (name: string): string => readFileSync(join(SAMPLES, name), 'utf8');

const TINY = sample('tiny.finetune.yaml');
const LLAMA = sample('llama-8b.finetune.yaml');
const GPT2 = sample('gpt2-mistakes.finetune.yaml');

const COMMENTED = `# header comment
base_model: "Qwen/Qwen2.5-0.5B-Instruct"   # quoted on purpose
method: lora   # no quantization

dataset:
  path: data/train.jsonl
lora:
    # four-space indentation in this file
    r: 8        # rank
    alpha: 16
    target_modules:
      - q_proj
      - v_proj
training:
    learning_rate: 2.0e-4
    lr_scheduler: 'linear'
# trailing comment
`;

const ANCHORS = `x-targets: &targets [q_proj, k_proj]
base_model: &model builtin:tiny-llama
method: lora
dataset: {path: data/train.jsonl, format: messages}
lora:
  r: 8
  target_modules: *targets
training:
  seed: &seed 7
  logging_steps: *seed
`;

const FLOW = `base_model: gpt2
method: qlora
dataset: {path: d.jsonl}
lora: {r: 4, alpha: 8, target_modules: [c_attn]}
quantization: {bits: 4, type: fp4}
training: {epochs: 1, precision: fp32}
`;

const FLOW_ROOT = '{base_model: gpt2, method: lora, dataset: {path: d.jsonl}, lora: {r: 4}}';

const crlf = (text: string): string => text.replace(/\n/g, '\r\n');

const DOCUMENTS: Record<string, string> = {
  tiny: TINY,
  llama: LLAMA,
  gpt2: GPT2,
  commented: COMMENTED,
  anchors: ANCHORS,
  flow: FLOW,
  flowRoot: FLOW_ROOT,
  tinyCrlf: crlf(TINY),
  commentedCrlf: crlf(COMMENTED),
  noFinalBreak: TINY.trimEnd(),
  empty: '',
  commentOnly: '# nothing yet\n',
};

/** The value at a dotted path as a YAML 1.1 reader (PyYAML, the trainer's) sees it. */
function readAsYaml11(text: string, path: string): unknown {
  let node: unknown = parse(text, { version: '1.1' });
  for (const key of path.split('.')) node = (node as Record<string, unknown> | null)?.[key];
  return node;
}

function edit(text: string, path: FieldPath, value: FieldValue | undefined): string {
  return applyEdits(text, editForField(text, path, value));
}

test('readForm reads every field of the samples with the schema key names', () => {
  const { values, parseError } = readForm(TINY);
  assert.equal(parseError, null);
  assert.deepEqual(values.base_model, { value: 'builtin:tiny-llama', status: 'ok', raw: null });
  assert.equal(values['lora.r'].value, 16);
  assert.deepEqual(values['lora.target_modules'].value, [
    'q_proj',
    'k_proj',
    'v_proj',
    'o_proj',
    'gate_proj',
    'up_proj',
    'down_proj',
  ]);
  assert.equal(values['training.learning_rate'].value, 0.01);
  assert.equal(values['training.precision'].value, 'fp32');
  assert.equal(values['training.gradient_checkpointing'].value, false);
  assert.equal(values['quantization.bits'].status, 'absent');
  assert.equal(values.target.value, 'local');

  const llama = readForm(LLAMA).values;
  assert.equal(llama['quantization.type'].value, 'nf4');
  assert.equal(llama['quantization.double_quant'].value, true);
  assert.equal(llama['training.gradient_accumulation_steps'].value, 4);
});

test('readForm marks values of the wrong type invalid and keeps their source text', () => {
  const { values } = readForm('base_model: 12\nlora:\n  r: lots\n  alpha:\n  target_modules: [q_proj, q_proj]\n');
  assert.deepEqual(values.base_model, { value: null, status: 'invalid', raw: '12' });
  assert.deepEqual(values['lora.r'], { value: null, status: 'invalid', raw: 'lots' });
  assert.equal(values['lora.alpha'].status, 'invalid');
  assert.equal(values['lora.target_modules'].status, 'invalid');
  assert.equal(values['training.epochs'].status, 'absent');
});

test('readForm follows aliases and never throws on broken YAML', () => {
  assert.deepEqual(readForm(ANCHORS).values['lora.target_modules'].value, ['q_proj', 'k_proj']);
  const broken = readForm('base_model: gpt2\nlora: {r: 4\ntraining: [\n');
  assert.notEqual(broken.parseError, null);
  assert.equal(broken.values.base_model.value, 'gpt2');
  const bomb =
    'a: &a [x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nlora:\n  target_modules: *c\n';
  assert.equal(readForm(bomb).values['lora.target_modules'].status, 'invalid');
  for (const junk of ['\u0000\u0001', ':::', '- a\n- b', '"unterminated', '&a *a', '? [\n']) {
    assert.doesNotThrow(() => readForm(junk));
  }
});

test('changing a scalar replaces only its characters: comments, quoting and other lines survive', () => {
  const edits = editForField(COMMENTED, 'lora.r', 32);
  assert.equal(edits.length, 1);
  assert.equal(COMMENTED.slice(edits[0]!.start, edits[0]!.end), '8');
  const after = applyEdits(COMMENTED, edits);
  assert.match(after, /^ {4}r: 32 {8}# rank$/m);

  assert.match(edit(COMMENTED, 'base_model', 'gpt2'), /^base_model: "gpt2" {3}# quoted on purpose$/m);
  assert.match(edit(COMMENTED, 'training.lr_scheduler', 'cosine'), /^ {4}lr_scheduler: 'cosine'$/m);
  assert.match(edit(COMMENTED, 'training.learning_rate', 0.00005), /^ {4}learning_rate: 5\.0e-5$/m);
  assert.deepEqual(editForField(TINY, 'lora.r', 16), [], 'setting the current value changes nothing');
});

test('a new key goes under its parent with the parent indentation, in schema order', () => {
  const after = edit(COMMENTED, 'lora.dropout', 0.1);
  assert.match(after, /\n {4}alpha: 16\n {4}dropout: 0\.1\n {4}target_modules:/);
  const parentCreated = edit(TINY, 'quantization.type', 'fp4');
  assert.match(parentCreated, /target_modules: \[[^\]]+\]\nquantization:\n {2}type: fp4\ntraining:\n/);
  assert.match(edit(COMMENTED, 'training.epochs', 2), /\ntraining:\n {4}epochs: 2\n {4}learning_rate/);
  assert.equal(
    edit(FLOW_ROOT, 'lora.alpha', 8),
    '{base_model: gpt2, method: lora, dataset: {path: d.jsonl}, lora: {r: 4, alpha: 8}}',
  );
  assert.equal(edit('lora:\nmethod: lora\n', 'lora.r', 4), 'lora:\n  r: 4\nmethod: lora\n');
});

test('removing a key removes its line, and its parent when that empties it', () => {
  assert.doesNotMatch(edit(TINY, 'lora.dropout', undefined), /dropout/);
  assert.equal(edit('lora:\n  r: 4\nmethod: lora\n', 'lora.r', undefined), 'method: lora\n');
  assert.equal(edit(FLOW, 'lora.alpha', undefined).split('\n')[3], 'lora: {r: 4, target_modules: [c_attn]}');
  assert.equal(edit(TINY.trimEnd(), 'target', undefined), TINY.trimEnd().replace(/\ntarget: local$/, ''));
  assert.deepEqual(editForField(TINY, 'base_model', undefined), [], 'a required key is never removed');
});

test('target_modules: flow stays flow, block stays block, all-linear replaces either', () => {
  assert.match(edit(TINY, 'lora.target_modules', ['q_proj', 'v_proj']), /\n {2}target_modules: \[q_proj, v_proj\]\n/);
  assert.match(
    edit(COMMENTED, 'lora.target_modules', ['o_proj', 'up_proj', 'down_proj']),
    /target_modules:\n {6}- o_proj\n {6}- up_proj\n {6}- down_proj\ntraining:/,
  );
  assert.match(edit(COMMENTED, 'lora.target_modules', 'all-linear'), /\n {4}target_modules: all-linear\ntraining:/);
  assert.match(edit(ANCHORS, 'lora.target_modules', ['v_proj']), /\n {2}target_modules: \[v_proj\]\n/);
});

test('method: qlora adds the quantization block, lora removes it', () => {
  const qlora = edit(TINY, 'method', 'qlora');
  const read = readForm(qlora).values;
  assert.equal(read.method.value, 'qlora');
  assert.deepEqual(
    [read['quantization.bits'].value, read['quantization.type'].value, read['quantization.double_quant'].value],
    [4, 'nf4', true],
  );
  assert.equal(editForField(TINY, 'method', 'qlora').length, 2, 'two separate minimal edits');
  const lora = edit(LLAMA, 'method', 'lora');
  assert.doesNotMatch(lora, /quantization|bits|nf4|double_quant/);
  assert.equal(readForm(lora).values.method.value, 'lora');
  const flow = readForm(edit(FLOW, 'method', 'lora')).values;
  assert.equal(flow['quantization.type'].status, 'absent');
  assert.equal(
    edit(FLOW_ROOT, 'method', 'qlora').includes('quantization: {bits: 4, type: nf4, double_quant: true}'),
    true,
  );
  assert.equal(readForm(edit('method: lora\n', 'method', 'qlora')).values['quantization.type'].value, 'nf4');
});

test('no edit on a document with syntax errors, or through a parent that is not a map', () => {
  assert.deepEqual(editForField('lora: {r: 4\n', 'lora.alpha', 8), []);
  assert.deepEqual(editForField('lora: 5\n', 'lora.r', 8), []);
  assert.deepEqual(editForField('- a\n- b\n', 'base_model', 'gpt2'), []);
});

test('numbers are written so that YAML 1.1 readers (PyYAML) read floats too', () => {
  assert.equal(formatNumber(0.0002), '0.0002');
  assert.equal(formatNumber(1e-7), '1.0e-7');
  assert.equal(formatNumber(2.5e-8), '2.5e-8');
  assert.equal(formatNumber(1e21), '1.0e+21');
  assert.equal(formatNumber(0.0002, true), '2.0e-4');
  assert.equal(formatNumber(16), '16');
  // PyYAML's float pattern (YAML 1.1): a dot is required and an exponent needs its sign.
  const pyYamlFloat = /^[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?$/;
  for (const n of [1e-7, 3.3e-12, 1e21, 0.0002]) assert.match(formatNumber(n, true), pyYamlFloat);
});

test('strings that YAML would read as something else are quoted', () => {
  for (const word of ['yes', 'No', 'on', 'null', '1e3', '0x10', '~', '.inf', 'a: b', '#x', '[x]', "it's"]) {
    const after = edit(TINY, 'output_dir', word);
    assert.equal(readForm(after).values.output_dir.value, word, after);
    assert.equal(readAsYaml11(after, 'output_dir'), word, 'as PyYAML (YAML 1.1) reads it');
  }
});

test('fieldPathAt maps a diagnostic position to its form field', () => {
  const line = TINY.split('\n').findIndex((l) => l.includes('learning_rate'));
  assert.equal(fieldPathAt(TINY, line, 18), 'training.learning_rate');
  assert.equal(fieldPathAt(TINY, line, 4), 'training.learning_rate');
  assert.equal(fieldPathAt(TINY, 0, 2), null);
});

test('choices: catalog models plus local folders, modules of the chosen model, schema enums, targets', () => {
  const choices = formChoices(readForm(GPT2).values, {
    localModels: ['models/my-llama'],
    endpointNames: ['gpu-box', 'bad name'],
  });
  assert.ok(choices.baseModels.some((m) => m.id === 'builtin:tiny-llama' && m.source === 'catalog'));
  assert.deepEqual(choices.baseModels.at(-1), { id: 'models/my-llama', family: null, source: 'local' });
  assert.ok(choices.targetModules.includes('c_attn'), 'GPT-2 names its attention c_attn');
  assert.ok(choices.targetModules.includes('q_proj'), 'what the config already names stays offered');
  const tiny = formChoices(readForm(TINY).values, { localModels: [], endpointNames: [] });
  assert.ok(tiny.targetModules.includes('gate_proj') && !tiny.targetModules.includes('c_attn'));
  assert.deepEqual(choices.enums['training.precision'], ['bf16', 'fp16', 'fp32']);
  assert.deepEqual(choices.targets, ['local', 'remote:gpu-box']);
});

// ---- property tests -------------------------------------------------------------------------------

const moduleName = fc.stringMatching(/^[a-z_][a-z0-9_]{0,11}$/);
const safeString = fc
  .string({
    unit: fc.constantFrom(...'abcXYZ019 _-./:#\'"[]{},&*!|>%@`?é漢🙂'.match(/./gu)!),
    minLength: 1,
    maxLength: 20,
  })
  .filter((s) => s.length > 0);

function valueFor(path: FieldPath): fc.Arbitrary<FieldValue> {
  const spec = fieldSpec(path);
  switch (spec.kind) {
    case 'string':
      return path === 'target'
        ? fc.oneof(
            fc.constant('local'),
            fc.stringMatching(/^[A-Za-z0-9_.-]{1,10}$/).map((n) => `remote:${n}`),
          )
        : safeString;
    case 'enum':
      return fc.constantFrom(...FIELD_ENUMS[path]!);
    case 'integer':
      return fc.integer({ min: -5, max: 1_000_000 });
    case 'number':
      return fc.oneof(
        fc.double({ min: 1e-12, max: 1e6, noNaN: true, noDefaultInfinity: true }),
        fc.integer({ min: 0, max: 1000 }),
      );
    case 'boolean':
      return fc.boolean();
    case 'modules':
      return fc.oneof(fc.constant('all-linear'), fc.uniqueArray(moduleName, { minLength: 1, maxLength: 6 }));
  }
}

const fieldAndValue = fc
  .constantFrom(...FIELDS.map((f) => f.path))
  .chain((path) =>
    fc.tuple(
      fc.constant(path),
      fieldSpec(path).required ? valueFor(path) : fc.option(valueFor(path), { nil: undefined, freq: 4 }),
    ),
  );

/** The text before the first edited line and after the last edited line is byte-identical. */
function assertOutsideUntouched(before: string, after: string, edits: TextEdit[]): void {
  if (edits.length === 0) return assert.equal(after, before);
  const first = Math.min(...edits.map((e) => e.start));
  const last = Math.max(...edits.map((e) => e.end));
  const headEnd = Math.max(before.lastIndexOf('\n', first - 1) + 1, 0);
  const nextBreak = before.indexOf('\n', last);
  const tailStart = nextBreak < 0 ? before.length : nextBreak;
  assert.equal(after.slice(0, headEnd), before.slice(0, headEnd), 'lines before the edit');
  assert.equal(
    after.slice(after.length - (before.length - tailStart)),
    before.slice(tailStart),
    'lines after the edit',
  );
}

test('property: an edit reads back as the value set, changes no other field and no line outside it', () => {
  fc.assert(
    fc.property(fc.constantFrom(...Object.keys(DOCUMENTS)), fieldAndValue, (name, [path, value]) => {
      const before = DOCUMENTS[name]!;
      const edits = editForField(before, path, value);
      const after = applyEdits(before, edits);
      const read = readForm(after);
      assert.equal(read.parseError, null, after);
      const expected =
        value === undefined ? { value: null, status: 'absent', raw: null } : { value, status: 'ok', raw: null };
      assert.deepEqual(read.values[path], expected, after);
      if (value !== undefined) assert.deepEqual(readAsYaml11(after, path), value, `YAML 1.1 reading:\n${after}`);
      const old = readForm(before).values;
      for (const other of FIELDS.map((f) => f.path)) {
        if (other === path || (path === 'method' && other.startsWith('quantization.'))) continue;
        assert.deepEqual(read.values[other], old[other], `${other} changed:\n${after}`);
      }
      if (before.includes('\r\n')) assert.doesNotMatch(after, /(?<!\r)\n/, 'CRLF kept');
      if (edits.length === 1) assertOutsideUntouched(before, after, edits);
      else for (const e of edits) assertOutsideUntouched(before, applyEdits(before, [e]), [e]);
    }),
    { numRuns: 600 },
  );
});

test('property: a sequence of edits keeps the document valid and every edit visible', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(TINY, COMMENTED, FLOW, crlf(LLAMA)),
      fc.array(fieldAndValue, { maxLength: 12 }),
      (start, steps) => {
        let text = start;
        for (const [path, value] of steps) {
          text = edit(text, path, value);
          const read = readForm(text);
          assert.equal(read.parseError, null, text);
          if (value !== undefined) assert.deepEqual(read.values[path].value, value, text);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test('the trainer (PyYAML) reads edited values as the form wrote them', () => {
  needTrainer();
  const cases: [FieldPath, FieldValue][] = [
    ['training.learning_rate', 1e-7],
    ['training.learning_rate', 0.00002],
    ['training.warmup_ratio', 0.1],
    ['lora.alpha', 64],
    ['output_dir', 'yes'],
    ['output_dir', '1:20'],
    ['output_dir', 'null'],
    ['base_model', 'org/model:v1'],
    ['lora.target_modules', ['on', 'off', 'q_proj']],
    ['training.packing', true],
  ];
  const documents = cases.map(([path, value]) => edit(LLAMA, path, value));
  const script = 'import json, sys, yaml\n' + 'print(json.dumps([yaml.safe_load(d) for d in json.load(sys.stdin)]))';
  const loaded = JSON.parse(
    execFileSync(TRAINER_PYTHON, ['-c', script], { input: JSON.stringify(documents), encoding: 'utf8' }),
  ) as Record<string, unknown>[];
  cases.forEach(([path, value], i) => {
    let node: unknown = loaded[i];
    for (const key of path.split('.')) node = (node as Record<string, unknown>)[key];
    assert.deepEqual(node, value, `${path} = ${JSON.stringify(value)}`);
  });
});
