// The record contract's conformance corpus (records.jsonl beside this file) on the language server's side,
// and the promise that holds the product together, tested across the two languages: every record the
// trainer refuses, the linter reports as an error under the same rule id; so every record that lints clean
// is one the trainer loads. The trainer runs the same corpus in trainer/tests/test_conformance.py.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { detectFormat, toExample } from '../../server/src/core/dataset/contract';
import type { RecordFormat } from '../../server/src/core/dataset/formats';
import { DatasetValidator } from '../../server/src/core/dataset/validator';
import type { Finding } from '../../server/src/core/types';
import { validatorOptions } from '../dataset/options';
import { needTrainer, TRAINER_PYTHON } from '../needs';

interface Entry {
  name: string;
  format: RecordFormat | 'auto';
  record: unknown;
  detected: RecordFormat | null;
  refused?: string[];
  example?: unknown;
}

const ENTRIES: Entry[] = readFileSync(join(__dirname, 'records.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as Entry);

function lint(lines: string[]): Finding[] {
  const validator = new DatasetValidator(validatorOptions({ maxTokens: 1_000_000, nearThreshold: 0.99 }));
  validator.update(0, 0, lines);
  return validator.findings();
}

const errorsOn = (findings: Finding[], line: number): string[] =>
  findings.filter((f) => f.severity === 'error' && f.range.start.line === line).map((f) => f.rule);

describe('format detection', () => {
  it("follows contract.json's table, read plainly, on records with any mix of its keys and others", () => {
    const table = (
      JSON.parse(readFileSync(join(__dirname, '..', '..', 'schemas', 'records', 'contract.json'), 'utf8')) as {
        detect: { format: RecordFormat; all: string[]; any?: string[] }[];
      }
    ).detect;
    const plain = (record: Record<string, unknown>): RecordFormat | undefined =>
      table.find((rule) => rule.all.every((k) => k in record) && (!rule.any || rule.any.some((k) => k in record)))
        ?.format;
    const keys = [...new Set(table.flatMap((rule) => [...rule.all, ...(rule.any ?? [])]))];
    assert.ok(keys.length >= 10);
    const pool = [...keys, 'id', 'system', 'tools', 'metadata', 'score', '__proto__', 'constructor'];
    let seed = 41;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const seen = new Set<string | undefined>();
    for (let n = 0; n < 5000; n++) {
      const members = Array.from(
        { length: Math.floor(rand() * 5) },
        () => pool[Math.floor(rand() * pool.length)] as string,
      );
      // Through JSON.parse, as records are read ('__proto__' becomes an own key there).
      const record = JSON.parse(`{${members.map((k) => `${JSON.stringify(k)}: 1`).join(',')}}`) as Record<
        string,
        unknown
      >;
      const expected = plain(record);
      seen.add(expected);
      assert.equal(detectFormat(record), expected, JSON.stringify(members));
    }
    assert.equal(seen.size, 8, `formats seen: ${[...seen].join(', ')}`);
  });
});

describe('the record contract: conformance corpus', () => {
  for (const entry of ENTRIES) {
    it(entry.name, () => {
      assert.equal(detectFormat(entry.record) ?? null, entry.detected);
      const errors = errorsOn(lint([JSON.stringify(entry.record)]), 0);
      if (entry.refused) {
        const format = entry.format === 'auto' ? entry.detected : entry.format;
        if (format) {
          const conversion = toExample(entry.record, format);
          assert.equal(conversion.ok, false);
          if (!conversion.ok)
            assert.ok(entry.refused.includes(conversion.refusals[0]!.rule), conversion.refusals[0]!.rule);
        }
        for (const rule of entry.refused)
          assert.ok(errors.includes(rule), `the linter reports ${rule}: ${errors.join(', ')}`);
      } else {
        const conversion = toExample(entry.record, (entry.format === 'auto' ? entry.detected : entry.format)!);
        assert.ok(conversion.ok, JSON.stringify(conversion));
        if (conversion.ok) assert.deepEqual(conversion.example, entry.example);
        assert.deepEqual(errors, [], 'a record the trainer accepts lints without errors');
      }
    });
  }
});

/** The trainer's own verdict per record: its refusal's rule id, or null when it loads. */
function trainerVerdicts(records: unknown[]): (string | null)[] {
  const script = `
import json, sys
from modelfactory_trainer.records import RecordRefused, detect_format, to_example
out = []
for line in sys.stdin:
    record = json.loads(line)
    fmt = detect_format(record)
    try:
        if fmt is None:
            raise RecordRefused("format/unknown", [], "no known format")
        to_example(record, fmt)
        out.append(None)
    except RecordRefused as refused:
        out.append(refused.rule)
print(json.dumps(out))
`;
  const printed = execFileSync(TRAINER_PYTHON, ['-c', script], {
    input: records.map((r) => JSON.stringify(r)).join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(printed) as (string | null)[];
}

/** A small seeded generator (mulberry32), so a failure names the seed that reproduces it. */
function randomSource(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

const REPLACEMENTS: unknown[] = [
  null,
  0,
  1,
  true,
  '',
  ' ',
  'x',
  '{bad json',
  '{"name": "f"}',
  [],
  {},
  ['x'],
  'human',
  'gpt',
];

/** Records near the corpus's: keys dropped, values swapped for others of other types, list items removed. */
function mutated(seed: number, count: number): unknown[] {
  const next = randomSource(seed);
  const pick = (): unknown => REPLACEMENTS[next(REPLACEMENTS.length)];
  const mutate = (value: unknown): unknown => {
    if (Array.isArray(value)) {
      const copy = value.map(mutate);
      if (copy.length > 0 && next(6) === 0) copy.splice(next(copy.length), 1);
      return copy;
    }
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, inner] of Object.entries(value)) {
        const dice = next(12);
        if (dice === 0) continue;
        out[key] = dice === 1 ? pick() : mutate(inner);
      }
      return out;
    }
    return next(10) === 0 ? pick() : value;
  };
  return Array.from({ length: count }, () => mutate(ENTRIES[next(ENTRIES.length)]!.record));
}

describe('what lints clean trains: the linter against the trainer on records near the corpus', () => {
  it('both sides give every record the same verdict, and each refusal is an error in the linter', () => {
    needTrainer();
    const seed = 20261130;
    const records = [...ENTRIES.map((e) => e.record), ...mutated(seed, 1500)];
    const trainer = trainerVerdicts(records);
    const findings = lint(records.map((r) => JSON.stringify(r)));
    let refused = 0;
    for (const [line, record] of records.entries()) {
      const format = detectFormat(record);
      const conversion = format ? toExample(record, format) : undefined;
      const ours = !format ? 'format/unknown' : conversion!.ok ? null : conversion!.refusals[0]!.rule;
      const where = `record ${line} (seed ${seed}): ${JSON.stringify(record)}`;
      assert.equal(ours, trainer[line], `the two sides disagree on ${where}`);
      if (trainer[line]) {
        refused++;
        assert.ok(errorsOn(findings, line).includes(trainer[line]!), `the linter misses ${trainer[line]} on ${where}`);
      }
    }
    assert.ok(refused > 200 && refused < records.length - 200, `a mix of verdicts (${refused} refused)`);
  });
});
