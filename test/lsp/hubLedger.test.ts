// A Datanet manifest linked to a hub (`hub: {url, name}`): the real language server counts the daily
// caps from the hub's ledger the extension sends (`modelfactory/hubLedger`), not from file times.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HubLedgerNotification, ValidateFileRequest, type HubLedgerParams } from '../../server/src/protocol';
import { byRule, open, startServer, type ServerHandle } from './harness';

const HUB = 'http://127.0.0.1:8787';
const record = (i: number) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `Question number ${i}, about the river?` },
      { role: 'assistant', content: `Answer number ${i}: the river runs to the sea.` },
    ],
  });

describe('language server: daily caps of a hub-linked Datanet from the hub ledger', () => {
  let server: ServerHandle;
  let dir: string;
  const today = new Date().toISOString().slice(0, 10);
  const manifest = `name: local-name\nhub: { url: "${HUB}/", name: team-chat }\nformat: messages\nfiles: ["data/*.jsonl"]\nlimits: { daily_files: 3, daily_mb: 0.002 }\n`;

  const capRules = async (file: string) => {
    const r = await server.connection.sendRequest(ValidateFileRequest, {
      path: join(dir, 'data', file),
    });
    return r.findings
      .filter((f) => f.rule.startsWith('datanet/daily'))
      .map((f) => ({ rule: f.rule, message: f.message }));
  };
  const ledger = (entries: HubLedgerParams['entries']) =>
    server.connection.sendNotification(HubLedgerNotification, { entries } satisfies HubLedgerParams);

  before(async () => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'mf-lsp-hub-ledger-')));
    mkdirSync(join(dir, 'data'));
    writeFileSync(join(dir, 'datanet.yaml'), manifest);
    // Five files changed today: by file times, over the cap of 3 files a day.
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'data', `f${i}.jsonl`), record(i) + '\n');
    server = await startServer();
  });
  after(async () => server?.stop());

  it('accepts the hub key in the manifest', async () => {
    const { diagnostics } = await open(server, join(dir, 'datanet.yaml'), manifest, 'yaml');
    assert.deepEqual(
      diagnostics.map((d) => `${String(d.code)}: ${d.message}`),
      [],
    );
  });

  it('says nothing about the daily caps before the hub ledger arrives (file times are not the ledger)', async () => {
    assert.deepEqual(await capRules('f0.jsonl'), []);
  });

  it("counts today's submissions on the hub plus this file", async () => {
    await ledger([{ url: HUB, datanet: 'team-chat', day: today, bytes: 1900, files: 3, fileNames: ['other.jsonl'] }]);
    const found = await capRules('f0.jsonl');
    assert.deepEqual(found.map((f) => f.rule).sort(), ['datanet/daily-cap', 'datanet/daily-files']);
    assert.match(
      found.find((f) => f.rule === 'datanet/daily-files')!.message,
      /By the hub's ledger, you have submitted 0\.00 MB in 3 files to 'team-chat' on http:\/\/127\.0\.0\.1:8787\/ today \(UTC\); this file would make it .* in 4, over the cap of 3 files a day/,
    );
  });

  it('does not count a file already submitted today twice', async () => {
    await ledger([{ url: HUB, datanet: 'team-chat', day: today, bytes: 100, files: 3, fileNames: ['f1.jsonl'] }]);
    assert.deepEqual(await capRules('f1.jsonl'), []);
    assert.deepEqual(
      (await capRules('f2.jsonl')).map((f) => f.rule),
      ['datanet/daily-files'],
    );
  });

  it('ignores a ledger of another hub, another Datanet or another day', async () => {
    await ledger([
      { url: 'http://127.0.0.1:9999', datanet: 'team-chat', day: today, bytes: 1e9, files: 99, fileNames: [] },
      { url: HUB, datanet: 'local-name', day: today, bytes: 1e9, files: 99, fileNames: [] },
      { url: HUB, datanet: 'team-chat', day: '2001-01-01', bytes: 1e9, files: 99, fileNames: [] },
    ]);
    assert.deepEqual(await capRules('f3.jsonl'), []);
  });

  it('republishes open documents when the ledger changes, and refuses a malformed ledger', async () => {
    const path = join(dir, 'data', 'f4.jsonl');
    const { uri, diagnostics } = await open(server, path, record(4) + '\n');
    assert.equal(byRule(diagnostics).has('datanet/daily-files'), false);
    const next = server.diagnostics(uri, 0);
    await ledger([{ url: HUB, datanet: 'team-chat', day: today, bytes: 0, files: 3, fileNames: [] }]);
    assert.ok(byRule((await next).diagnostics).has('datanet/daily-files'));
    // Malformed: refused whole, the ledger before it stays.
    await server.connection.sendNotification(HubLedgerNotification, {
      entries: [{ url: HUB, files: -1 }],
    } as unknown as HubLedgerParams);
    await server.connection.sendNotification(HubLedgerNotification, { entries: 'nope' } as unknown as HubLedgerParams);
    assert.deepEqual(
      (await capRules('f4.jsonl')).map((f) => f.rule),
      ['datanet/daily-files'],
    );
    assert.match(server.stderr(), /Refused a malformed modelfactory\/hubLedger notification/);
  });
});
