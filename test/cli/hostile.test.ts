// The real CLI on a hostile or unlucky workspace (SECURITY.md, "Hostile workspace"): devices, FIFOs,
// symbolic links out of the tree and in cycles, pathological globs, 5,000-deep nesting, lines over the
// cap, UTF-16, quadratic YAML, hostile model files. Every run must finish on its own (the spawn timeout is
// a hang guard, not a speed target), within a memory bound, with a finding that says what was refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { rawSafetensors } from '../config/safetensors';
import { runCli, type Diagnostic } from './hostileHelpers';

function lintJson(args: string[], cwd: string, env: Record<string, string> = {}) {
  const r = runCli(['lint', ...args, '--format', 'json'], cwd, env);
  const out = JSON.parse(r.stdout) as {
    diagnostics: Diagnostic[];
    summary: { files: number; errors: number; records: number };
    skipped: { file: string; reason: string }[];
  };
  return { ...r, out };
}

const record = (text: string) => JSON.stringify({ text });
const workspace = (prefix: string) => mkdtempSync(join(tmpdir(), `mf-hostile-${prefix}-`));
const rulesOf = (ds: Diagnostic[]) => ds.map((d) => `${d.file.split('/').pop()}:${d.line}:${d.rule}`).sort();

describe('modelfactory lint on a hostile workspace', () => {
  it('refuses a FIFO and /dev/zero named as datasets, lints the rest, exit 1', () => {
    const dir = workspace('special');
    spawnSync('mkfifo', [join(dir, 'pipe.jsonl')]);
    symlinkSync('/dev/zero', join(dir, 'zero.jsonl'));
    writeFileSync(join(dir, 'ok.jsonl'), record('fine') + '\n' + record('also fine') + '\n{"text": 3}\n');
    const { code, out } = lintJson(['pipe.jsonl', 'zero.jsonl', 'ok.jsonl'], dir);
    assert.equal(code, 1, 'file/unreadable is an error');
    const unreadable = out.diagnostics.filter((d) => d.rule === 'file/unreadable');
    assert.deepEqual(unreadable.map((d) => d.file).sort(), ['pipe.jsonl', 'zero.jsonl']);
    assert.match(unreadable.find((d) => d.file === 'pipe.jsonl')!.message, /FIFO/);
    assert.match(unreadable.find((d) => d.file === 'zero.jsonl')!.message, /not a regular file/);
    assert.ok(out.diagnostics.some((d) => d.file === 'ok.jsonl' && d.line === 3 && d.rule === 'schema/wrong-type'));
  });

  it('names FIFOs and symbolic links it passes over in a folder walk, and never follows a link cycle', () => {
    const dir = workspace('walk');
    spawnSync('mkfifo', [join(dir, 'pipe.jsonl')]);
    symlinkSync('/dev/zero', join(dir, 'zero.jsonl'));
    symlinkSync('.', join(dir, 'loop'));
    writeFileSync(join(dir, 'ok.jsonl'), record('fine') + '\n');
    const { code, out } = lintJson(['.'], dir);
    assert.equal(code, 0);
    assert.deepEqual(out.skipped.map((s) => s.file).sort(), ['pipe.jsonl', 'zero.jsonl']);
    assert.match(out.skipped.find((s) => s.file === 'zero.jsonl')!.reason, /symbolic link/);
    assert.equal(out.summary.files, 1);
  });

  it('reads no record_schema that is a device, a FIFO or outside the Datanet, and quotes none of it', () => {
    const dir = workspace('schema');
    mkdirSync(join(dir, 'fifo'));
    spawnSync('mkfifo', [join(dir, 'fifo', 'schema.json')]);
    symlinkSync('/etc/passwd', join(dir, 'linked.json'));
    const cases = {
      zero: '/dev/zero',
      fifo: 'fifo/schema.json',
      passwd: '/etc/passwd',
      environ: '/proc/self/environ',
      linked: 'linked.json',
    };
    for (const [name, schema] of Object.entries(cases)) {
      const sub = join(dir, name);
      mkdirSync(sub, { recursive: true });
      writeFileSync(join(sub, 'datanet.yaml'), `name: ${name}\nfiles: ["*.jsonl"]\nrecord_schema: ${schema}\n`);
      writeFileSync(join(sub, 'a.jsonl'), record('fine') + '\n');
    }
    // The FIFO case's schema is named relative to its own manifest.
    writeFileSync(join(dir, 'fifo', 'datanet.yaml'), 'name: fifo\nfiles: ["*.jsonl"]\nrecord_schema: schema.json\n');
    writeFileSync(
      join(dir, 'linked', 'datanet.yaml'),
      'name: linked\nfiles: ["*.jsonl"]\nrecord_schema: ../linked.json\n',
    );
    const { stdout, out } = lintJson(Object.keys(cases), dir);
    const onManifests = out.diagnostics.filter((d) => d.file.endsWith('datanet.yaml'));
    const byCase = (name: string) => onManifests.find((d) => d.file === `${name}/datanet.yaml`)?.message ?? '';
    assert.match(byCase('zero'), /not used: .*outside/);
    assert.match(byCase('fifo'), /not used: .*FIFO/);
    assert.match(byCase('passwd'), /not used: .*outside/);
    assert.match(byCase('environ'), /not used: .*outside/);
    assert.match(byCase('linked'), /not used: .*outside/);
    assert.doesNotMatch(stdout, /root:x:0:0|PATH=/, 'nothing of a refused file is quoted');
  });

  it('refuses pathological and malformed globs on the manifest instead of hanging or throwing', () => {
    const dir = workspace('glob');
    const bad = ['**a'.repeat(12) + '**b', 'data/{train,test.jsonl', '[z-a]', `data/{1..100000}.jsonl`];
    writeFileSync(
      join(dir, 'datanet.yaml'),
      `name: globs\nfiles:\n${bad.map((g) => `  - ${JSON.stringify(g)}`).join('\n')}\n  - "*.jsonl"\n`,
    );
    writeFileSync(join(dir, 'a'.repeat(40) + '.jsonl'), record('fine') + '\n{"text": 1}\n');
    const { out } = lintJson(['.'], dir);
    const manifest = out.diagnostics.filter((d) => d.file === 'datanet.yaml');
    assert.equal(manifest.length, 4, JSON.stringify(manifest));
    assert.match(manifest[0]!.message, /files\[0\]: .*at most 3 per segment/);
    assert.match(manifest[1]!.message, /files\[1\]: '\{' without a matching '\}'/);
    assert.match(manifest[2]!.message, /files\[2\]: .*not a valid glob/);
    assert.match(manifest[3]!.message, /files\[3\]: .*100000 values/);
    // The good glob still governs the file, which is still checked.
    assert.ok(out.diagnostics.some((d) => d.file.endsWith('.jsonl') && d.rule === 'schema/wrong-type'));
    const usage = runCli(['lint', '**a'.repeat(12) + '**b'], dir);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /at most 3 per segment/);
  });

  it('reports a 5,000-deep record in JSONL and in a .json array and checks the rest of the file', () => {
    const dir = workspace('deep');
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const deepObject = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    writeFileSync(join(dir, 'd.jsonl'), [record('ok'), deep, deepObject, '{"text": 1}'].join('\n') + '\n');
    writeFileSync(join(dir, 'd.json'), `[${record('ok')},\n${deep},\n{"text": 1}]`);
    for (const jobs of ['1', '2']) {
      const { code, out } = lintJson(['d.jsonl', 'd.json', '--jobs', jobs], dir);
      assert.equal(code, 1);
      const got = rulesOf(out.diagnostics).filter((r) => !r.includes('too-short'));
      assert.deepEqual(got, [
        'd.json:2:jsonl/too-deep',
        'd.json:3:schema/wrong-type',
        'd.jsonl:2:jsonl/too-deep',
        'd.jsonl:3:jsonl/too-deep',
        'd.jsonl:4:schema/wrong-type',
      ]);
    }
  });

  it('skips a line over the line cap, holding no more than the cap, keeps line numbers, on one thread and on workers', () => {
    const dir = workspace('long');
    const lines = [record('first'), '{"text": "' + 'x'.repeat(3_000_000) + '"}', record('first'), '{"text": 2}'];
    writeFileSync(join(dir, 'long.jsonl'), lines.join('\n'));
    // A line cap of 1 MB stands for the real 256 MiB, so the file stays small.
    const env = { MODELFACTORY_READ_CAPS: JSON.stringify({ line: 1_000_000 }) };
    for (const jobs of ['1', '4']) {
      const { code, out } = lintJson(['long.jsonl', '--jobs', jobs], dir, env);
      assert.equal(code, 1);
      assert.deepEqual(
        rulesOf(out.diagnostics).filter((r) => !r.includes('too-short')),
        ['long.jsonl:2:jsonl/line-too-long', 'long.jsonl:3:dedup/exact', 'long.jsonl:4:schema/wrong-type'],
      );
      assert.match(out.diagnostics[0]!.message, /3000012 bytes long, over the 1000000 bytes/);
      assert.equal(out.summary.records, 4);
    }
  });

  it('streams a .json array over its in-memory cap: the same findings as in memory, an element over the line cap skipped', () => {
    const dir = workspace('bigjson');
    const elements = Array.from({ length: 2000 }, (_, i) => ({ text: `record number ${i} of the big array` }));
    elements[700] = { text: 'record number 3 of the big array' };
    elements[900] = { text: 7 } as unknown as { text: string };
    elements[1500] = { text: 'z'.repeat(30_000) };
    // Pretty-printed, so that elements span lines; written as one array bigger than both caps below.
    writeFileSync(join(dir, 'big.json'), JSON.stringify(elements, null, 2));
    writeFileSync(join(dir, 'ok.jsonl'), record('fine') + '\n');
    const held = lintJson(['big.json', 'ok.jsonl'], dir, { MODELFACTORY_READ_CAPS: JSON.stringify({ line: 20_000 }) });
    // A 10 kB in-memory cap and a 20 kB line cap stand for the real 256 MiB and 64 MiB, so the file stays small.
    const env = { MODELFACTORY_READ_CAPS: JSON.stringify({ jsonDataset: 10_000, line: 20_000 }) };
    const streamed = lintJson(['big.json', 'ok.jsonl'], dir, env);
    assert.equal(streamed.code, 1);
    assert.equal(streamed.out.summary.records, 2001);
    // Element i starts on line 3i + 2.
    const rules = rulesOf(streamed.out.diagnostics).filter((r) => !r.includes('too-short'));
    assert.deepEqual(rules, [
      'big.json:2102:dedup/exact',
      'big.json:2703:schema/wrong-type',
      'big.json:4502:jsonl/line-too-long',
    ]);
    // In memory the over-long element is read (the line cap is for streams): the rest is the same.
    assert.deepEqual(
      rulesOf(held.out.diagnostics).filter((r) => !r.startsWith('big.json:4502:') && !r.includes('too-short')),
      rules.filter((r) => !r.startsWith('big.json:4502:')),
    );
    const dup = streamed.out.diagnostics.find((d) => d.rule === 'dedup/exact');
    assert.match(dup?.message ?? '', /^Exact duplicate of line 11: .* Delete this record\.$/);
  });

  it('skips a large .json file that is not an array of records, by its first bytes', () => {
    const dir = workspace('bigother');
    writeFileSync(join(dir, 'settings.json'), JSON.stringify({ keys: Array.from({ length: 3000 }, (_, i) => i) }));
    writeFileSync(join(dir, 'ok.jsonl'), record('fine') + '\n');
    const env = { MODELFACTORY_READ_CAPS: JSON.stringify({ jsonDataset: 10_000 }) };
    const { out } = lintJson(['.'], dir, env);
    assert.deepEqual(
      out.skipped.map((s) => s.file),
      ['settings.json'],
    );
    assert.equal(out.summary.files, 1);
  });

  it('names a UTF-16 file as such instead of diagnosing it as Latin-1', () => {
    const dir = workspace('utf16');
    const text = record('hello') + '\n';
    writeFileSync(join(dir, 'le.jsonl'), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]));
    const { code, out } = lintJson(['le.jsonl'], dir);
    assert.equal(code, 1);
    assert.deepEqual(rulesOf(out.diagnostics), ['le.jsonl:1:encoding/utf16']);
  });

  it('bounds quadratic YAML: 40,000 keys, a duplicate among them, and an alias bomb', () => {
    const dir = workspace('yaml');
    const keys = Array.from({ length: 40_000 }, (_, i) => `  k${i}: ${i}`);
    writeFileSync(
      join(dir, 'keys.finetune.yaml'),
      `base_model: builtin:tiny-llama\nextra:\n${keys.join('\n')}\n  k7: again\n`,
    );
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill('*' + prev)
          .join(', ')}]`,
      );
    }
    writeFileSync(join(dir, 'datanet.yaml'), `${levels.join('\n')}\nname: bomb\nfiles: ["*.jsonl"]\n`);
    const { out } = lintJson(['keys.finetune.yaml', 'datanet.yaml'], dir);
    const keysFindings = out.diagnostics.filter((d) => d.file === 'keys.finetune.yaml');
    assert.ok(keysFindings.some((d) => /Map keys must be unique/.test(d.message) && d.line === 40_003));
    const bomb = out.diagnostics.filter((d) => d.file === 'datanet.yaml');
    assert.ok(
      bomb.some((d) => /alias/i.test(d.message)),
      JSON.stringify(bomb),
    );
  });

  it('counts no symbolic link toward a daily cap: a cycle and a link out of the Datanet are not followed', () => {
    const dir = workspace('daily');
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'datanet.yaml'), 'name: caps\nfiles: ["**/*.jsonl"]\nlimits:\n  daily_files: 1\n');
    writeFileSync(join(dir, 'data', 'a.jsonl'), record('fine') + '\n');
    symlinkSync('..', join(dir, 'data', 'up'));
    symlinkSync('.', join(dir, 'data', 'self'));
    symlinkSync(join(dir, 'data', 'a.jsonl'), join(dir, 'data', 'b.jsonl'));
    symlinkSync('/usr/lib', join(dir, 'data', 'out'));
    writeFileSync(join(dir, 'data', 'c.jsonl'), record('also fine') + '\n');
    const { out } = lintJson(['data/a.jsonl'], dir);
    // Two real files today, over the cap of one: the count names exactly those two (the links counted
    // dozens before, or used up the scan before it reached the file).
    assert.deepEqual(
      out.diagnostics.map((d) => d.rule),
      ['datanet/daily-files'],
    );
    assert.match(out.diagnostics[0]!.message, /^2 files were contributed/);
  });

  it('turns hostile model files into config/model-files findings: /dev/zero, a 10 GB header, 4,096 shards, 1e308', () => {
    const dir = workspace('model');
    const model = join(dir, 'model');
    mkdirSync(model);
    writeFileSync(
      join(model, 'config.json'),
      JSON.stringify({
        architectures: ['LlamaForCausalLM'],
        model_type: 'llama',
        hidden_size: 64,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 128,
        vocab_size: 1e308,
        max_position_embeddings: -5,
        head_dim: 'NaN',
      }),
    );
    symlinkSync('/dev/zero', join(model, 'tokenizer.json'));
    const weightMap: Record<string, string> = {};
    for (let i = 0; i < 4096; i++) weightMap[`layers.${i}.weight`] = `model-${String(i).padStart(5, '0')}.safetensors`;
    writeFileSync(join(model, 'model.safetensors.index.json'), JSON.stringify({ weight_map: weightMap }));
    writeFileSync(join(model, 'model-00000.safetensors'), rawSafetensors(10n * 1024n ** 3n, '{}'));
    writeFileSync(join(dir, 'a.finetune.yaml'), 'base_model: ./model\ndataset:\n  path: data.jsonl\n');
    writeFileSync(join(dir, 'data.jsonl'), record('fine') + '\n');
    const r = runCli(['lint', 'a.finetune.yaml', '--format', 'json'], dir);
    const out = JSON.parse(r.stdout) as { diagnostics: Diagnostic[] };
    const messages = out.diagnostics.map((d) => `${d.rule}: ${d.message}`).join('\n');
    assert.match(messages, /config\/model-(files|unknown)/);
    assert.match(messages, /4096 shards named by the index; only the first 1024/);
    assert.match(messages, /header length 10737418240 bytes is over the 16 MiB cap/);
    assert.match(messages, /vocabSize 1e\+308 is not a whole number/);
    assert.match(messages, /contextLength -5 is not a whole number/);
    assert.doesNotMatch(messages, /Infinity|context window of -5/);
    // config.json a link to /dev/zero: refused as not a regular file, named in the finding.
    const zero = join(dir, 'zero-model');
    mkdirSync(zero);
    symlinkSync('/dev/zero', join(zero, 'config.json'));
    writeFileSync(join(dir, 'b.finetune.yaml'), 'base_model: ./zero-model\ndataset:\n  path: data.jsonl\n');
    const b = JSON.parse(runCli(['lint', 'b.finetune.yaml', '--format', 'json'], dir).stdout) as {
      diagnostics: Diagnostic[];
    };
    assert.ok(
      b.diagnostics.some(
        (d) => d.rule === 'config/model-unknown' && /config\.json is a device .*not a regular file/.test(d.message),
      ),
      JSON.stringify(b.diagnostics),
    );
    const estimate = runCli(['estimate', 'a.finetune.yaml'], dir);
    assert.doesNotMatch(estimate.stdout + estimate.stderr, /Infinity|NaN/);
  });
});
