// The trainer protocol's TypeScript types are generated from its schema: the committed
// client/src/trainer/protocol.generated.ts must be what `npm run gen:protocol` writes from the schema now.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { GENERATED_PATH, generateProtocolTypes, readProtocolSchema } from '../../scripts/gen-protocol';
import { JOB_STATES } from '../../client/src/trainer/protocol.generated';

describe('trainer protocol types', () => {
  it('protocol.generated.ts is generated from schemas/trainer-protocol.schema.json (run npm run gen:protocol)', async () => {
    assert.equal(readFileSync(GENERATED_PATH, 'utf8'), await generateProtocolTypes());
  });

  it('a change of the schema changes the generated types', async () => {
    const schema = readProtocolSchema();
    const log = schema.definitions['event_log'] as { required: string[]; properties: Record<string, unknown> };
    log.properties['perplexity'] = { type: 'number' };
    log.required.push('perplexity');
    const changed = await generateProtocolTypes(schema);
    assert.notEqual(changed, readFileSync(GENERATED_PATH, 'utf8'));
    assert.match(changed, /export interface EventLog \{[^}]*\n {2}perplexity: number;/);
  });

  it('each job event is its own type in a union over type, with the schema-required fields', () => {
    const text = readFileSync(GENERATED_PATH, 'utf8');
    const union = /export type JobEvent =([^;]*);/.exec(text)?.[1] ?? '';
    const events = Object.keys(readProtocolSchema().definitions).filter((name) => name.startsWith('event_'));
    assert.ok(events.length >= 15, 'the schema declares each event type');
    for (const name of events) {
      const typeName = name.replace(/(^|_)([a-z])/g, (_, _u: string, c: string) => c.toUpperCase());
      assert.match(union, new RegExp(`\\| ${typeName}\\b`), `${typeName} is in JobEvent`);
    }
    assert.doesNotMatch(text, /\[k: string\]: unknown/, 'no open index signature');
  });

  it('the job states come from the schema', () => {
    const summary = readProtocolSchema().definitions['jobSummary'] as {
      properties: { state: { enum: string[] } };
    };
    assert.deepEqual([...JOB_STATES], summary.properties.state.enum);
  });
});
