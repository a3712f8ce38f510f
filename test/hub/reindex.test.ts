// A hub whose stored duplicate rows (exact hashes, near-duplicate signatures and band keys) were written
// by another scheme rebuilds them when it starts (hub/reindex.ts), on PGlite and on a real PostgreSQL
// server, serving meanwhile and refusing only contributions; a hub already on DEDUP_SCHEME leaves them alone. The rows are read and altered through
// the hub's own openDb while the hub is stopped (PGlite), or beside it (PostgreSQL).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEDUP_SCHEME } from '../../server/src/core/dataset/crossRecord';
import { openDb, type HubDb } from '../../hub/db';
import { REBUILD_LOCK } from '../../hub/reindex';
import type { Receipt } from '../../hub/server';
import {
  api,
  cli,
  makeToken,
  pgliteStorage,
  postgresStorage,
  record as recordLine,
  startHub,
  words,
  type Hub,
  type Storage,
} from './harness';

/** A messages record as one JSONL line. */
const record = (question: string, answer: string) => recordLine(question, answer) + '\n';

const MANIFEST = `name: open\nformat: messages\nfiles: ["data/*.jsonl"]\nrules:\n  dedup: { exact: error, near: error, threshold: 0.85 }\n`;

type Rows = { contribution_id: string; line: number; value: string }[];

function suite(kind: 'pglite' | 'postgres') {
  describe(`the duplicate-index rebuild on ${kind}`, () => {
    let storage: Storage;
    let hub: Hub | undefined;
    const t: Record<string, string> = {};
    const work = mkdtempSync(join(tmpdir(), `mf-hub-reindex-${kind}-`));
    const database = () => {
      const i = storage.args.indexOf('--database');
      return openDb({ dataDir: storage.dataDir, ...(i >= 0 ? { database: storage.args[i + 1] as string } : {}) });
    };
    /** Runs `fn` on the database with the hub stopped (PGlite is one process's). */
    const withDb = async <T>(fn: (db: HubDb) => Promise<T>): Promise<T> => {
      await hub?.stop();
      hub = undefined;
      const db = await database();
      try {
        return await fn(db);
      } finally {
        await db.close();
      }
    };
    const upload = async (who: string, text: string) => {
      const r = await api<Receipt>(
        hub!,
        'POST',
        '/v1/datanets/open/contributions?file_name=c.jsonl',
        t[who],
        new TextEncoder().encode(text),
      );
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body;
    };
    const signatures = (db: HubDb) =>
      db.query<Rows[number]>(
        "SELECT contribution_id, line, encode(signature, 'hex') AS value FROM record_signature ORDER BY contribution_id, line",
      );
    const bands = (db: HubDb) =>
      db.query<Rows[number]>(
        'SELECT contribution_id, line, band_key::text AS value FROM record_band ORDER BY contribution_id, line, band_key',
      );
    const exact = (db: HubDb) =>
      db.query<Rows[number]>(
        'SELECT contribution_id, line, hash::text AS value FROM record_exact ORDER BY contribution_id, line',
      );
    const metaRows = (db: HubDb) =>
      db.query<{ key: string; value: string }>('SELECT key, value FROM hub_meta ORDER BY key');
    type NearIndex = { state: string; done: number; total: number };
    const nearIndex = async (h: Hub) =>
      (await api<{ near_index: NearIndex }>(h, 'GET', '/v1/health', undefined)).body.near_index;
    /** Waits for `h` to report its duplicate index ready (the rebuild runs behind the server). */
    const ready = async (h: Hub): Promise<void> => {
      const deadline = Date.now() + 120_000;
      for (;;) {
        const state = (await nearIndex(h)).state;
        if (state === 'ready') return;
        assert.equal(state, 'rebuilding', h.stderr());
        assert.ok(Date.now() < deadline, `the rebuild did not finish in 120 s: ${h.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const oldScheme = async (db: HubDb) => {
      await db.query("UPDATE hub_meta SET value = 'omh128-b20r6-densified' WHERE key = 'near_scheme'");
      await db.query("UPDATE record_signature SET signature = decode(repeat('01', 128), 'hex')");
      await db.query('UPDATE record_band SET band_key = band_key + 1');
      await db.query('UPDATE record_exact SET hash = hash + 1');
    };

    const base = words(4242, 80);
    let first: Receipt;
    let lost: Receipt;
    let stored: { signatures: Rows; bands: Rows; exact: Rows };

    before(async () => {
      storage = kind === 'pglite' ? pgliteStorage() : await postgresStorage();
      t['owner'] = makeToken(storage, 'olivia', 'owner');
      t['carol'] = makeToken(storage, 'carol', 'contributor');
      t['erin'] = makeToken(storage, 'erin', 'contributor');
      hub = await startHub(storage);
      const manifest = join(work, 'open.yaml');
      writeFileSync(manifest, MANIFEST);
      const r = cli(['hub', 'datanet', 'create', manifest, '--hub', hub.url], t['owner']);
      assert.equal(r.code, 0, r.stderr);
      first = await upload('carol', record('Tell me about the mountains and rivers', base));
      assert.equal(first.verdict, 'accepted');
      assert.equal((await upload('carol', record('Another question', words(77, 60)))).verdict, 'accepted');
      lost = await upload('carol', record('A third question', words(99, 60)));
      assert.equal(lost.verdict, 'accepted');
      stored = await withDb(async (db) => ({
        signatures: await signatures(db),
        bands: await bands(db),
        exact: await exact(db),
      }));
      assert.equal(stored.signatures.length, 3);
      assert.equal(stored.bands.length, 30);
      assert.equal(stored.exact.length, 3);
    });

    after(async () => {
      await hub?.stop();
      await storage?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    it('leaves the rows of a hub already on the current scheme alone', async () => {
      await withDb(async (db) => {
        assert.deepEqual(await metaRows(db), [{ key: 'near_scheme', value: DEDUP_SCHEME }]);
        await db.query(
          "UPDATE record_signature SET signature = decode(repeat('ab', 128), 'hex') WHERE contribution_id = $1",
          [lost.id],
        );
      });
      const started = (hub = await startHub(storage));
      assert.deepEqual(await nearIndex(started), { state: 'ready', done: 0, total: 0 });
      await withDb(async (db) => {
        const sigs = await signatures(db);
        assert.equal(sigs.find((s) => s.contribution_id === lost.id)?.value, 'ab'.repeat(128));
        assert.deepEqual(await bands(db), stored.bands);
      });
      assert.doesNotMatch(started.stderr(), /duplicate index/);
    });

    it('rebuilds old-scheme rows from the stored files, so duplicates of earlier records are found again', async () => {
      await withDb(oldScheme);
      // One contribution's file is gone: logged and skipped, not fatal.
      rmSync(join(storage.dataDir, 'files', lost.sha256.slice(0, 2), lost.sha256));
      const started = (hub = await startHub(storage));
      await ready(started);
      assert.deepEqual(await nearIndex(started), { state: 'ready', done: 3, total: 3 });
      const near = base.split(' ');
      near[40] = 'lighthouse';
      const again = await upload('erin', record('Tell me about the mountains and rivers', near.join(' ')));
      assert.equal(again.verdict, 'rejected');
      assert.deepEqual(
        again.findings.map((f) => f.rule),
        ['dedup/near'],
      );
      assert.match(again.findings[0]!.message, new RegExp(first.id));
      // The same record written another way is an exact duplicate: its hash was rebuilt too.
      const rewritten = JSON.stringify({
        messages: [
          { content: 'Tell me about the mountains and rivers', role: 'user' },
          { content: base, role: 'assistant' },
        ],
      });
      const same = await upload('erin', rewritten.replace('{', '{ ') + '\n');
      assert.equal(same.verdict, 'rejected');
      assert.deepEqual(
        same.findings.map((f) => f.rule),
        ['dedup/exact'],
      );
      assert.match(same.findings[0]!.message, new RegExp(first.id));
      await withDb(async (db) => {
        assert.deepEqual(await metaRows(db), [{ key: 'near_scheme', value: DEDUP_SCHEME }]);
        // The rebuilt rows are the accept path's own; the contribution without a file has none.
        const keep = (rows: Rows) => rows.filter((r) => r.contribution_id !== lost.id);
        assert.deepEqual(await signatures(db), keep(stored.signatures));
        assert.deepEqual(await bands(db), keep(stored.bands));
        assert.deepEqual(await exact(db), keep(stored.exact));
      });
      const log = started.stderr();
      assert.match(log, /rebuilding 3 contributions/);
      assert.match(log, /3 of 3 contributions/);
      assert.match(log, new RegExp(`skipped contribution ${lost.id}.*missing`));
      assert.match(log, /rebuilt 2, skipped 1/);
    });

    if (kind === 'postgres') {
      it('serves while it rebuilds: reads answer, contributions get 503 with Retry-After until the rows are whole', async () => {
        await withDb(oldScheme);
        // A transaction beside the hub holds the rebuild's advisory lock, so the rebuild waits on it.
        const db = await database();
        let release = () => {};
        const released = new Promise<void>((r) => (release = r));
        let locked = () => {};
        const holding = new Promise<void>((r) => (locked = r));
        const held = db.tx(async (q) => {
          await q.query('SELECT pg_advisory_xact_lock($1)', [REBUILD_LOCK]);
          locked();
          await released;
        });
        try {
          await holding;
          const h = (hub = await startHub(storage));
          assert.equal((await nearIndex(h)).state, 'rebuilding');
          const listed = await api(h, 'GET', '/v1/datanets/open', t['carol']);
          assert.equal(listed.status, 200, JSON.stringify(listed.body));
          const refused = await api<{ error: string }>(
            h,
            'POST',
            '/v1/datanets/open/contributions?file_name=c.jsonl',
            t['erin'],
            new TextEncoder().encode(record('Waiting for the index', words(555, 30))),
          );
          assert.equal(refused.status, 503);
          assert.equal(refused.headers.get('retry-after'), '60');
          assert.match(
            refused.body.error,
            /rebuilding its duplicate index after an upgrade \(0 of \d+ contributions\)/,
          );
          release();
          await held;
          await ready(h);
          const taken = await upload('erin', record('Waiting for the index', words(555, 30)));
          assert.equal(taken.verdict, 'accepted');
        } finally {
          release();
          await held.catch(() => undefined);
          await db.close();
          await hub?.stop();
          hub = undefined;
        }
      });

      it('shares the rebuild between two hubs that start at once, neither doing a contribution twice', async () => {
        // Enough contributions that the two rebuilds overlap.
        hub = await startHub(storage, ['--daily-files', '60']);
        for (let i = 0; i < 30; i++)
          assert.equal((await upload('carol', record(`More ${i}`, words(1000 + i, 40)))).verdict, 'accepted');
        const expected = await withDb(async (db) => ({ signatures: await signatures(db), bands: await bands(db) }));
        await withDb(oldScheme);
        const both = await Promise.all([startHub(storage), startHub(storage)]);
        await Promise.all(both.map(ready));
        await Promise.all(both.map((h) => h.stop()));
        const logs = both.map((h) => h.stderr());
        // A hub that found the rows already rebuilt logs nothing: it did none.
        const counts = logs.map((l) => /rebuilt (\d+), skipped (\d+)/.exec(l)?.slice(1).map(Number) ?? [0, 0]);
        assert.deepEqual(
          counts.reduce((a, b) => [a[0]! + b[0]!, a[1]! + b[1]!]),
          [33, 1], // every accepted contribution so far, less the one whose file is gone
          logs.join('\n---\n'),
        );
        await withDb(async (db) => {
          assert.deepEqual(await metaRows(db), [{ key: 'near_scheme', value: DEDUP_SCHEME }]);
          assert.deepEqual(await signatures(db), expected.signatures);
          assert.deepEqual(await bands(db), expected.bands);
        });
      });
    }
  });
}

suite('pglite');
suite('postgres');
