// A Datanet's record_schema is workspace content compiled by ajv (SECURITY.md, "Hostile workspace"): a
// catastrophic pattern, a reference to a URL or a file, a pattern RE2 cannot run, or a schema too big to
// compile cheaply must be a finding on the manifest, and validating records against it must stay linear.
// Each case runs the real service on real files.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compileRecordSchema } from '../../server/src/core/dataset/recordSchema';
import { ModelFactoryService } from '../../server/src/core/service';
import { DEFAULT_SETTINGS } from '../../server/src/core/settings';
import { nodeEnvironment } from '../../server/src/nodeFs';

const root = mkdtempSync(join(tmpdir(), 'mf-record-schema-'));

function datanet(name: string, schema: unknown, records: string[]) {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const manifestText = 'name: t\nfiles: ["*.jsonl"]\nrecord_schema: schema.json\n';
  writeFileSync(join(dir, 'datanet.yaml'), manifestText);
  writeFileSync(join(dir, 'schema.json'), typeof schema === 'string' ? schema : JSON.stringify(schema));
  writeFileSync(join(dir, 'data.jsonl'), records.join('\n') + '\n');
  return { dir, manifestText };
}

async function manifestProblems(name: string, schema: unknown): Promise<string[]> {
  const { dir, manifestText } = datanet(name, schema, []);
  const service = new ModelFactoryService(nodeEnvironment(), { ...DEFAULT_SETTINGS });
  const path = join(dir, 'datanet.yaml');
  const findings = await service.validateManifest({ uri: path, version: 1, getText: () => manifestText }, path);
  return findings.filter((f) => f.rule === 'datanet/manifest').map((f) => f.message);
}

const catastrophic = { type: 'object', properties: { text: { type: 'string', pattern: '^(a+)+$' } } };
const evil = JSON.stringify({ text: 'a'.repeat(40) + '!' });

describe('a Datanet record_schema from the workspace', () => {
  it('runs a catastrophic pattern on a record in linear time, and still reports the record', async () => {
    const { dir } = datanet('redos', catastrophic, [evil, JSON.stringify({ text: 'aaa' })]);
    const service = new ModelFactoryService(nodeEnvironment(), { ...DEFAULT_SETTINGS });
    const lines = [evil, JSON.stringify({ text: 'aaa' })];
    const started = performance.now();
    const session = await service.openDataset(join(dir, 'data.jsonl'), lines);
    const findings = session.findings();
    const ms = performance.now() - started;
    // With a backtracking engine 40 a's take about 2^40 steps (hours); RE2 answers at once. The bound
    // is a hang guard for a loaded machine, not a speed target.
    assert.ok(ms < 20_000, `validation took ${ms.toFixed(0)} ms`);
    const onFirst = findings.filter((f) => f.range.start.line === 0).map((f) => f.message);
    assert.ok(
      onFirst.some((m) => /pattern/.test(m)),
      `the pattern is still enforced: ${onFirst.join(' | ')}`,
    );
    assert.equal(findings.filter((f) => f.range.start.line === 1 && /pattern/.test(f.message)).length, 0);
  });

  it('compiles patterns on RE2: a catastrophic one matches in linear time, an unsupported one is refused', () => {
    const validate = compileRecordSchema(catastrophic);
    assert.ok(!(validate instanceof Error));
    const started = performance.now();
    assert.equal(validate({ text: 'a'.repeat(5_000) + '!' }), false);
    assert.equal(validate({ text: 'a'.repeat(5_000) }), true);
    assert.ok(performance.now() - started < 20_000);
    const backref = compileRecordSchema({ properties: { a: { pattern: '(a)\\1' } } });
    assert.ok(backref instanceof Error);
    const lookahead = compileRecordSchema({ patternProperties: { '^(?=x)': { type: 'string' } } });
    assert.ok(lookahead instanceof Error);
  });

  it('refuses a $ref to a URL or a file, and follows local ones', async () => {
    for (const ref of ['https://example.com/schema.json', 'file:///etc/passwd', 'schema.json', '../other.json']) {
      const problems = await manifestProblems(`ref-${ref.length}`, { properties: { text: { $ref: ref } } });
      assert.equal(problems.length, 1, ref);
      assert.match(problems[0]!, /only local references/);
    }
    const local = {
      $defs: { short: { type: 'string', maxLength: 3 } },
      properties: { text: { $ref: '#/$defs/short' } },
    };
    assert.deepEqual(await manifestProblems('ref-local', local), []);
    const validate = compileRecordSchema(local);
    assert.ok(!(validate instanceof Error));
    assert.equal(validate({ text: 'long' }), false);
  });

  it('refuses, as a finding on the manifest, a schema too deep or too large to compile cheaply', async () => {
    const deep = '{"items":'.repeat(5_000) + '{"type":"string"}' + '}'.repeat(5_000);
    const tooDeep = await manifestProblems('deep', deep);
    assert.equal(tooDeep.length, 1);
    assert.match(tooDeep[0]!, /nested more than/);

    const wide = { anyOf: Array.from({ length: 20_000 }, (_, i) => ({ const: i })) };
    const started = performance.now();
    const tooWide = await manifestProblems('wide', wide);
    assert.ok(performance.now() - started < 20_000);
    assert.equal(tooWide.length, 1);
    assert.match(tooWide[0]!, /more than 10000 values/);

    const patterns = { patternProperties: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`^k${i}$`, {}])) };
    assert.match((await manifestProblems('patterns', patterns))[0]!, /more than 256 patterns/);
  });

  it('reports a schema that is not JSON or not a schema, never throws', async () => {
    assert.match((await manifestProblems('not-json', '{"type": '))[0]!, /is not used/);
    assert.match((await manifestProblems('not-object', '[1, 2]'))[0]!, /a JSON Schema is an object/);
    assert.match((await manifestProblems('bad-type', { type: 'nope' }))[0]!, /is not used/);
  });
});
