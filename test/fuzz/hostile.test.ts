// The seeded fuzz tier: the real core (the same ModelFactoryService the language server and the CLI run,
// on the real file system through the bounded reader) on generated hostile records, .json arrays,
// manifests and configs, then the real CLI over the whole generated workspace. Every input must be
// answered without a throw; the per-input time bound is a hang guard (a pathological glob took over 60 s,
// 40,000 keys 120 s), not a speed target. The seed is printed; MF_FUZZ_SEED=N replays a run.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ModelFactoryService } from '../../server/src/core/service';
import { DEFAULT_SETTINGS } from '../../server/src/core/settings';
import { nodeEnvironment } from '../../server/src/nodeFs';
import { runCli } from '../cli/hostileHelpers';
import { fuzzSeed, seededRandom } from './seeded';

const ITERATIONS = Number(process.env['MF_FUZZ_ITERATIONS'] ?? 100);
/** An input that takes longer than this is a hang. */
const HANG_MS = 5_000;

const seed = fuzzSeed(20_261_130);
const rand = seededRandom(seed);
const int = (n: number) => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;

const NASTY_STRINGS = [
  '',
  '\u0000',
  '\ud800',
  '\u202e',
  '<img src=x onerror=alert(1)>',
  '{{ 7*7 }}{% for x in range(10**9) %}',
  '../../etc/passwd',
  'A'.repeat(5000),
  'AKIAZ7Q2M4K6R3T5W3XY',
  'a@b.co',
  '1e308',
  'NaN',
];

function jsonValue(depth: number): unknown {
  if (depth > 4) return pick(NASTY_STRINGS);
  switch (int(9)) {
    case 0:
      return pick(NASTY_STRINGS);
    case 1:
      return pick([1e308, -1, 0, 2 ** 53 + 1, -0, 0.1]);
    case 2:
      return null;
    case 3:
      return Array.from({ length: int(4) }, () => jsonValue(depth + 1));
    case 4:
      return { role: pick(['user', 'assistant', 'system', 'bot', 'tool', '']), content: jsonValue(depth + 1) };
    case 5:
      return { messages: Array.from({ length: int(5) }, () => jsonValue(depth + 1)) };
    case 6:
      return { text: jsonValue(depth + 1) };
    case 7:
      return { prompt: jsonValue(depth + 1), chosen: jsonValue(depth + 1), rejected: jsonValue(depth + 1) };
    default:
      return { instruction: pick(NASTY_STRINGS), input: '', output: jsonValue(depth + 1) };
  }
}

/** One JSONL line: a record, a mutation of one (cut, flipped, deepened), or junk. */
function line(): string {
  const text = JSON.stringify(jsonValue(0)) ?? 'null';
  switch (int(8)) {
    case 0:
      return text.slice(0, int(text.length + 1));
    case 1: {
      const at = int(text.length);
      return text.slice(0, at) + String.fromCharCode(int(0x3000)) + text.slice(at + 1);
    }
    case 2: {
      const depth = 50 + int(6000);
      return '['.repeat(depth) + text + ']'.repeat(depth);
    }
    case 3:
      return `{'messages': [{'role': 'user', 'content': ${JSON.stringify(pick(NASTY_STRINGS))}}], 'x': None}`;
    default:
      return text;
  }
}

function glob(): string {
  switch (int(7)) {
    case 0:
      return '**a'.repeat(1 + int(14)) + '**b';
    case 1:
      return 'data/{' + Array.from({ length: int(60) }, (_, i) => `f${i}`).join(',') + '}.jsonl';
    case 2:
      return pick(['[z-a]', 'data/{train,test.jsonl', '{{{{a}}}}', '*'.repeat(int(40)), '{1..99999}', '\\']);
    case 3:
      return '**/'.repeat(int(8)) + '*.jsonl';
    case 4:
      return 'x'.repeat(int(2000));
    default:
      return pick(['*.jsonl', 'data/**/*.jsonl', '**/*.{json,jsonl}', 'data/?.jsonl']);
  }
}

function manifest(): string {
  const files = Array.from({ length: 1 + int(4) }, () => `  - ${JSON.stringify(glob())}`);
  const extras = [
    `record_schema: ${pick(['/dev/zero', '/etc/passwd', 'schema.json', '../x.json', '/proc/self/environ'])}`,
    `limits:\n  daily_files: ${pick([1, -1, 1e308, 0])}\n  max_file_mb: ${pick([0.0001, 1e308, -5])}`,
    `format: ${pick(['messages', 'auto', 'nope', '[1, 2]'])}`,
    'rules:\n  severity:\n    pii/*: off',
    'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
  ];
  const lines = ['name: fuzz', 'files:', ...files];
  for (const e of extras) if (rand() < 0.4) lines.push(e);
  return lines.join('\n') + '\n';
}

function config(): string {
  const lines = [
    `base_model: ${pick(['builtin:tiny-llama', './model', 'gpt2', '/etc', '../../..', '{{x}}', '"1e308"'])}`,
    `method: ${pick(['lora', 'qlora', 'full', '1'])}`,
    'dataset:',
    `  path: ${pick(['data.jsonl', '/dev/zero', 'fifo.jsonl', '../../etc/shadow'])}`,
    'training:',
    `  learning_rate: ${pick(['2e-4', '1e308', '-1', '.nan', '"NaN"', '.inf'])}`,
    `  max_seq_length: ${pick(['1024', '-5', '1e308', '0'])}`,
  ];
  if (rand() < 0.3) lines.push('extra:', ...Array.from({ length: int(5_000) }, (_, i) => `  k${i}: ${i}`));
  if (rand() < 0.2) lines.push(`chat_template: ${pick(['chatml', '/dev/zero', 'x.jinja', '../../etc/passwd.jinja'])}`);
  return lines.join('\n') + '\n';
}

async function bounded<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  let result: T;
  try {
    result = await work();
  } catch (err) {
    assert.fail(`${what} threw (seed ${seed}): ${(err as Error)?.stack ?? String(err)}`);
  }
  const ms = performance.now() - started;
  assert.ok(ms < HANG_MS, `${what} took ${ms.toFixed(0)} ms (seed ${seed})`);
  return result;
}

describe(`seeded fuzz tier (seed ${seed}, ${ITERATIONS} inputs per kind)`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mf-fuzz-'));
  const env = nodeEnvironment();
  const settings = { ...DEFAULT_SETTINGS };

  it('the core answers every generated dataset, .json array, manifest and config without a throw or a hang', async () => {
    for (let i = 0; i < ITERATIONS; i++) {
      const sub = join(dir, `case-${i}`);
      mkdirSync(sub, { recursive: true });
      const manifestText = manifest();
      writeFileSync(join(sub, 'datanet.yaml'), manifestText);
      const lines = Array.from({ length: 1 + int(12) }, line);
      const jsonl = join(sub, 'data.jsonl');
      writeFileSync(jsonl, lines.join(pick(['\n', '\r\n', '\r'])));
      const jsonArray = join(sub, 'data.json');
      const arrayText = `[${lines.join(',\n')}${pick([']', '', ',]', '] x'])}`;
      writeFileSync(jsonArray, arrayText);
      const configPath = join(sub, 'a.finetune.yaml');
      const configText = config();
      writeFileSync(configPath, configText);

      const service = new ModelFactoryService(env, settings);
      await bounded(`manifest ${i}`, () =>
        service.validateManifest(
          { uri: join(sub, 'datanet.yaml'), version: 1, getText: () => manifestText },
          join(sub, 'datanet.yaml'),
        ),
      );
      await bounded(`JSONL stream ${i}`, async () => {
        const bytes = new TextEncoder().encode(lines.join('\n'));
        async function* chunks() {
          for (let at = 0; at < bytes.length; at += 4096) yield bytes.subarray(at, at + 4096);
        }
        return service.lintDatasetFile(jsonl, bytes.length, chunks(), () => {});
      });
      await bounded(`editor session ${i}`, async () => (await service.openDataset(jsonl, lines)).findings());
      await bounded(`.json array ${i}`, () => service.validateJsonDataset(jsonArray, arrayText));
      await bounded(`config ${i}`, () => service.lintText(configPath, configText));
    }
  });

  it('the real CLI lints the whole generated workspace and reports, not crashes', () => {
    const r = runCli(['lint', dir, '--format', 'json', '--no-progress'], dir);
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code} (seed ${seed}): ${r.stderr.slice(0, 2000)}`);
    const out = JSON.parse(r.stdout) as { summary: { files: number } };
    assert.ok(out.summary.files >= ITERATIONS, `only ${out.summary.files} files linted`);
  });
});
