// `GET /v1/datanets/:name/me` (the editor's Datanets view) and `.json` uploads, on the real hub process
// with PGlite and with a real PostgreSQL server.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { MyDatanetView, Receipt } from '../../hub/server';
import { api, cli, makeToken, pgliteStorage, postgresStorage, startHub, type Hub, type Storage } from './harness';

const record = (i: number) =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `Tell me about canyon ${i} and the river that cut it.` },
      { role: 'assistant', content: `Canyon ${i} was cut by a river over ${i * 1000} years, through ${i % 5} layers.` },
    ],
  });

for (const kind of ['pglite', 'postgres'] as const) {
  describe(`GET /v1/datanets/:name/me and .json uploads on ${kind}`, () => {
    let storage: Storage;
    let hub: Hub;
    const t: Record<string, string> = {};
    const work = mkdtempSync(join(tmpdir(), `mf-hub-me-${kind}-`));
    const upload = (who: string, datanet: string, name: string, text: string) =>
      api<Receipt & { error?: string }>(
        hub,
        'POST',
        `/v1/datanets/${datanet}/contributions?file_name=${name}`,
        t[who],
        new TextEncoder().encode(text),
      );

    before(async () => {
      storage = kind === 'pglite' ? pgliteStorage() : await postgresStorage();
      t['owner'] = makeToken(storage, 'olivia', 'owner');
      t['bob'] = makeToken(storage, 'bob', 'contributor');
      t['carol'] = makeToken(storage, 'carol', 'contributor');
      t['cora'] = makeToken(storage, 'cora', 'curator');
      t['limited'] = makeToken(storage, 'lim', 'contributor', ['--datanet', 'other']);
      hub = await startHub(storage, ['--daily-files', '7']);
      for (const [name, text] of [
        [
          'canyons',
          'name: canyons\nfiles: ["*.jsonl", "*.json"]\nfile_types: [".jsonl", ".json"]\nlimits: { daily_files: 3 }\n',
        ],
        ['other', 'name: other\nfiles: ["*.jsonl"]\n'],
      ] as const) {
        writeFileSync(join(work, `${name}.yaml`), text);
        const r = cli(['hub', 'datanet', 'create', join(work, `${name}.yaml`), '--hub', hub.url], t['owner']);
        assert.equal(r.code, 0, r.stderr);
      }
    });
    after(async () => {
      await hub?.stop();
      await storage?.stop();
    });

    it("answers my contributions, today's quota, my rank and the review count", async () => {
      const empty = await api<MyDatanetView>(hub, 'GET', '/v1/datanets/canyons/me', t['bob']);
      assert.equal(empty.status, 200);
      assert.equal(empty.body.rank, null);
      assert.deepEqual(empty.body.contributions, []);
      assert.equal(empty.body.quota.datanet.files, 0);

      assert.equal((await upload('bob', 'canyons', 'a.jsonl', record(1) + '\n')).body.verdict, 'accepted');
      assert.equal(
        (await upload('bob', 'canyons', 'b.jsonl', record(2) + '\n{"messages": [}\n')).body.verdict,
        'rejected',
      );
      assert.equal((await upload('carol', 'canyons', 'c.jsonl', record(3) + '\n')).body.verdict, 'accepted');
      assert.equal((await upload('bob', 'other', 'd.jsonl', record(4) + '\n')).body.verdict, 'accepted');

      const me = await api<MyDatanetView>(hub, 'GET', '/v1/datanets/canyons/me', t['bob']);
      assert.equal(me.status, 200);
      assert.equal(me.body.contributor, 'bob');
      assert.equal(me.body.role, 'contributor');
      assert.deepEqual(
        me.body.contributions.map((c) => [c.file_name, c.verdict, c.findings.length]),
        [
          ['b.jsonl', 'rejected', 0],
          ['a.jsonl', 'accepted', 0],
        ],
      );
      assert.equal(me.body.quota.datanet.files, 2);
      assert.equal(me.body.quota.datanet.max_files, 3);
      assert.equal(me.body.quota.all.files, 3, 'across all Datanets: the upload to other counts too');
      assert.equal(me.body.quota.all.max_files, 7);
      assert.equal(me.body.contributors, 2);
      assert.deepEqual([me.body.rank?.contributor, me.body.rank?.accepted, me.body.rank?.rejected], ['bob', 1, 1]);
      assert.equal(me.body.rank?.rank, 2, 'carol (1 of 1) ranks above bob (1 of 2)');
      assert.equal(me.body.pending_review, null);

      const curator = await api<MyDatanetView>(hub, 'GET', '/v1/datanets/canyons/me', t['cora']);
      assert.equal(curator.body.pending_review, 0);
      assert.deepEqual(curator.body.contributions, [], 'a curator sees only their own contributions here');
    });

    it('checks the token, its role and its Datanets', async () => {
      assert.equal((await api(hub, 'GET', '/v1/datanets/canyons/me', undefined)).status, 401);
      const limited = await api<{ error: string }>(hub, 'GET', '/v1/datanets/canyons/me', t['limited']);
      assert.equal(limited.status, 403);
      assert.match(limited.body.error, /not for Datanet 'canyons'/);
      assert.equal((await api(hub, 'GET', '/v1/datanets/other/me', t['limited'])).status, 200);
      const missing = await api<{ error: string }>(hub, 'GET', '/v1/datanets/nope/me', t['bob']);
      assert.equal(missing.status, 404);
      assert.equal((await api(hub, 'GET', '/v1/datanets/..%2Fetc/me', t['bob'])).status, 400);
    });

    it('refuses a .json array with 415 and a message that says what to do; nothing is stored or counted', async () => {
      const before = await api<MyDatanetView>(hub, 'GET', '/v1/datanets/canyons/me', t['carol']);
      const r = await upload('carol', 'canyons', 'records.json', `[${record(10)}, ${record(11)}]`);
      assert.equal(r.status, 415);
      assert.equal(
        r.body.error,
        "Datanet 'canyons' lists .json, but this hub takes JSON Lines only: receipts, the duplicate index and published versions are per line. Write the array as one record per line (.jsonl) and submit that",
      );
      const other = await upload('carol', 'other', 'records.json', `[${record(12)}]`);
      assert.equal(other.status, 415);
      assert.equal(other.body.error, "Datanet 'other' accepts .jsonl files, not '.json'");
      const afterUpload = await api<MyDatanetView>(hub, 'GET', '/v1/datanets/canyons/me', t['carol']);
      assert.deepEqual(afterUpload.body, before.body);
      assert.deepEqual(readdirSync(join(storage.dataDir, 'incoming')), []);
    });
  });
}
