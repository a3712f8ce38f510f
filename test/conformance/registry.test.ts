// LLaMA-Factory registry entries (registry.jsonl beside this file) on the language server's side: each
// entry's record rewritten to the contract's keys, the format it is read as, then the contract's verdict.
// The trainer runs the same corpus in trainer/tests/test_registry.py.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { toExample } from '../../server/src/core/dataset/contract';
import { mapRegistryRecord, registryReading } from '../../server/src/core/dataset/registryEntry';

interface Case {
  name: string;
  entry: unknown;
  record?: unknown;
  mapped?: unknown;
  format?: string;
  example?: unknown;
  refused?: string[];
  entry_refused?: string;
}

const CASES: Case[] = readFileSync(join(__dirname, 'registry.jsonl'), 'utf8')
  .split('\n')
  .filter((line) => line.trim())
  .map((line) => JSON.parse(line) as Case);

describe('registry entries: records mapped to the contract', () => {
  it('the corpus covers both formattings, ranking, kto, media, refusals and an unread entry', () => {
    const readings = CASES.map((c) => registryReading(c.entry));
    const formats = new Set<string>(readings.map((r) => (typeof r === 'string' ? 'unread' : r.format)));
    for (const f of ['alpaca', 'sharegpt', 'preference', 'kto', 'unread']) assert.ok(formats.has(f), f);
    assert.ok(CASES.filter((c) => c.refused).length >= 3);
    assert.ok(CASES.some((c) => JSON.stringify(c.example ?? {}).includes('"media"')));
  });

  for (const c of CASES) {
    it(c.name, () => {
      const reading = registryReading(c.entry);
      if (c.entry_refused !== undefined) {
        assert.equal(reading, c.entry_refused);
        return;
      }
      assert.ok(typeof reading !== 'string', String(reading));
      if (typeof reading === 'string') return;
      assert.equal(reading.format, c.format);
      const mapped = mapRegistryRecord(reading, c.record);
      assert.deepEqual(mapped, c.mapped);
      const conversion = toExample(mapped, reading.format);
      if (c.refused) {
        assert.equal(conversion.ok, false);
        if (!conversion.ok) assert.ok(c.refused.includes(conversion.refusals[0]!.rule), conversion.refusals[0]!.rule);
      } else {
        assert.ok(conversion.ok, JSON.stringify(conversion));
        if (conversion.ok) assert.deepEqual(conversion.example, c.example);
      }
    });
  }
});
