// The extension's hub client (client/src/hub/hubClient.ts) and what the Datanets view and the
// leaderboard make of its answers, against the real `modelfactory hub serve` process on PGlite.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkHubUrl, HubClient, HubError } from '../../client/src/hub/hubClient';
import {
  contributionLine,
  quotaBar,
  quotaLines,
  rankLine,
  receiptSummary,
  supersedableOf,
} from '../../client/src/hub/datanetsModel';
import { leaderboardCsp, leaderboardHtml } from '../../client/src/hub/leaderboardHtml';
import { escapeHtml } from '../../client/src/panels/html';
import { cli, makeToken, pgliteStorage, startHub, type Hub, type Storage } from '../hub/harness';

const record = (i: number, topic = 'rivers') =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `Question ${i} about ${topic}: where does river number ${i} flow, and why?` },
      {
        role: 'assistant',
        content: `River number ${i} flows ${['north', 'south', 'east', 'west'][i % 4]} through ${topic} country ${i * 7}, fed by snow ${i} times a year.`,
      },
    ],
  });

const MANIFESTS: Record<string, string> = {
  chat: 'name: chat\nformat: messages\nfiles: ["*.jsonl"]\nlimits: { daily_files: 4, daily_mb: 0.01 }\nrules:\n  dedup: { exact: error }\n',
  reviewed: 'name: reviewed\nfiles: ["*.jsonl"]\nreview: { required: true }\n',
  arrays: 'name: arrays\nfiles: ["*.jsonl", "*.json"]\nfile_types: [".jsonl", ".json"]\n',
};

describe('the hub client against a real hub (PGlite)', () => {
  let storage: Storage;
  let hub: Hub;
  const work = mkdtempSync(join(tmpdir(), 'mf-hub-client-'));
  const file = (name: string, text: string) => {
    const p = join(work, name);
    writeFileSync(p, text);
    return p;
  };
  const t: Record<string, string> = {};
  let bob: HubClient;
  let cora: HubClient;

  before(async () => {
    storage = pgliteStorage();
    t['owner'] = makeToken(storage, 'olivia', 'owner');
    t['bob'] = makeToken(storage, 'bob', 'contributor');
    t['carol'] = makeToken(storage, 'carol', 'contributor');
    t['cora'] = makeToken(storage, 'cora', 'curator');
    hub = await startHub(storage);
    for (const [name, text] of Object.entries(MANIFESTS)) {
      const r = cli(['hub', 'datanet', 'create', file(`${name}.yaml`, text), '--hub', hub.url], t['owner']);
      assert.equal(r.code, 0, r.stderr);
    }
    bob = new HubClient(hub.url, t['bob']!);
    cora = new HubClient(hub.url, t['cora']!);
  });
  after(async () => {
    await hub?.stop();
    await storage?.stop();
  });

  it('knows who it is and which Datanets there are', async () => {
    assert.deepEqual(await bob.me(), { name: 'bob', role: 'contributor', datanets: null });
    assert.deepEqual(
      (await bob.datanets()).map((d) => d.name),
      ['arrays', 'chat', 'reviewed'],
    );
  });

  it('submits a file and gets the receipt; a rejected file has its findings on 1-based lines', async () => {
    const good = await bob.submit(file('good.jsonl', [record(1), record(2)].join('\n') + '\n'), 'chat');
    assert.equal(good.verdict, 'accepted');
    assert.deepEqual(good.records, { accepted: 2, rejected: 0 });
    assert.equal(good.file_name, 'good.jsonl');
    assert.match(good.sha256, /^[0-9a-f]{64}$/);

    const bad = await bob.submit(
      file('bad.jsonl', [record(3), '{"messages": [}', record(1)].join('\n') + '\n'),
      'chat',
    );
    assert.equal(bad.verdict, 'rejected');
    const errors = bad.findings.filter((f) => f.severity === 'error');
    // Line 2 is not JSON; line 3 repeats a record bob already contributed.
    assert.deepEqual(
      errors.map((f) => [f.line, f.rule.split('/')[0]]),
      [
        [2, 'jsonl'],
        [3, 'dedup'],
      ],
    );
    assert.match(
      receiptSummary(bad),
      /^bad\.jsonl rejected by 'chat': 1 of 3 records accepted, 2 errors, \d+ other findings? \(c_[0-9a-f]{24}\)\.$/,
    );
    assert.match(receiptSummary(good), /^good\.jsonl accepted by 'chat': 2 of 2 records accepted, 0 errors/);
  });

  it("gives the Datanets view my contributions, today's quota as bars and my rank", async () => {
    const view = await bob.myDatanet('chat');
    assert.equal(view.contributor, 'bob');
    assert.equal(view.pending_review, null, 'a contributor sees no review queue');
    assert.deepEqual(
      view.contributions.map((c) => [c.file_name, c.verdict]),
      [
        ['bad.jsonl', 'rejected'],
        ['good.jsonl', 'accepted'],
      ],
    );
    assert.equal(view.quota.datanet.files, 2);
    assert.equal(view.quota.datanet.max_files, 4);
    assert.equal(view.quota.datanet.max_bytes, 10_000);
    assert.equal(view.quota.all.max_files, 20);
    const [bytesLine, filesLine] = quotaLines(view.quota);
    // Files: 2 of this Datanet's 4 left (tighter than 18 of 20 across all Datanets).
    assert.equal(filesLine!.label, "Today's files: 2 left");
    assert.equal(filesLine!.description, '▰▰▰▰▰▱▱▱▱▱ 50% left');
    const used = view.quota.datanet.bytes;
    assert.equal(bytesLine!.label, `Today's bytes: ${((10_000 - used) / 1000).toFixed(1)} kB left`);
    assert.match(bytesLine!.tooltip, /cap of this Datanet/);
    assert.deepEqual(view.rank && [view.rank.contributor, view.rank.rank, view.rank.accepted, view.rank.rejected], [
      'bob',
      1,
      1,
      1,
    ]);
    assert.deepEqual(rankLine(view).label, 'Rank 1 of 1');
    assert.match(rankLine(view).description, /^50% accepted \(1 of 2\)/);
    assert.equal(contributionLine(view.contributions[0]!).icon, 'error');
    assert.deepEqual(view.contributions[0]!.findings, [], 'the list leaves findings out; the receipt has them');
    assert.ok((await bob.contribution(view.contributions[0]!.id)).findings.length >= 2);
  });

  it('resubmits a fixed file as the replacement of its rejection, which then no longer counts', async () => {
    const carol = new HubClient(hub.url, t['carol']!);
    const broken = await carol.submit(file('fix-me.jsonl', record(80) + '\n{"messages": [}\n'), 'reviewed');
    assert.equal(broken.verdict, 'rejected');
    const replaces = supersedableOf(await carol.myDatanet('reviewed'), 'fix-me.jsonl');
    assert.equal(replaces?.id, broken.id);
    assert.equal(supersedableOf(await carol.myDatanet('reviewed'), 'other.jsonl'), undefined);
    const fixed = await carol.submit(file('fix-me.jsonl', record(80) + '\n'), 'reviewed', replaces!.id);
    assert.equal(fixed.supersedes, broken.id);
    assert.equal(fixed.verdict, 'pending');
    const after = await carol.myDatanet('reviewed');
    assert.equal(after.contributions.find((c) => c.id === broken.id)?.superseded_by, fixed.id);
    assert.equal(supersedableOf(after, 'fix-me.jsonl'), undefined, 'a superseded rejection is not replaced twice');
    assert.equal((await cora.review(fixed.id, 'approve')).verdict, 'accepted');
    const row = (await carol.leaderboard('reviewed')).find((r) => r.contributor === 'carol');
    assert.deepEqual([row?.accepted, row?.rejected], [1, 0], 'the superseded rejection does not count');
  });

  it('draws the quota bar from what is left', () => {
    assert.equal(quotaBar(0, 10), '▰▰▰▰▰▰▰▰▰▰ 100% left');
    assert.equal(quotaBar(4, 10, 5), '▰▰▰▱▱ 60% left');
    assert.equal(quotaBar(10, 10), '▱▱▱▱▱▱▱▱▱▱ 0% left');
    assert.equal(quotaBar(9.9, 10), '▰▱▱▱▱▱▱▱▱▱ 1% left', 'a little left is never drawn empty');
    assert.equal(quotaBar(12, 10), '▱▱▱▱▱▱▱▱▱▱ 0% left');
  });

  it('curators review the queue: a rejection needs a reason; contributors see no queue', async () => {
    const carol = new HubClient(hub.url, t['carol']!);
    const first = await carol.submit(file('p1.jsonl', record(50, 'lakes') + '\n'), 'reviewed');
    const second = await carol.submit(file('p2.jsonl', record(51, 'lakes') + '\n'), 'reviewed');
    assert.equal(first.verdict, 'pending');
    assert.equal((await cora.myDatanet('reviewed')).pending_review, 2);
    assert.deepEqual(
      (await cora.pending('reviewed')).map((r) => r.id),
      [first.id, second.id],
    );
    await assert.rejects(
      carol.pending('reviewed').then(() => cora.review(first.id, 'reject')),
      (err: unknown) => {
        assert.ok(err instanceof HubError);
        assert.equal(err.status, 400);
        assert.match(err.message, /a rejection needs a reason/);
        return true;
      },
    );
    const rejected = await cora.review(first.id, 'reject', 'Off topic: this Datanet is about rivers');
    assert.equal(rejected.verdict, 'rejected');
    assert.equal(rejected.review_reason, 'Off topic: this Datanet is about rivers');
    assert.equal((await cora.review(second.id, 'approve')).verdict, 'accepted');
    assert.equal((await cora.myDatanet('reviewed')).pending_review, 0);
    const mine = await carol.myDatanet('reviewed');
    assert.match(contributionLine(mine.contributions.find((c) => c.id === first.id)!).tooltip, /Review: Off topic/);
    await assert.rejects(bob.review(second.id, 'approve'), /needs the curator role/);
  });

  it('renders the leaderboard escaped, my row marked, under a CSP with no script', async () => {
    const rows = await bob.leaderboard('chat');
    assert.equal(rows.length, 1);
    const nonce = 'bm9uY2Vub25jZW5vbmNlMTI=';
    const html = leaderboardHtml('chat', hub.url, rows, 'bob', nonce);
    assert.match(
      html,
      /<tr class="me" data-contributor="bob"><td>1<\/td><td>bob<\/td><td>1<\/td><td>1<\/td><td>50%<\/td>/,
    );
    assert.ok(html.includes(`content="${escapeHtml(leaderboardCsp(nonce))}"`));
    assert.equal(
      leaderboardCsp(nonce),
      `default-src 'none'; style-src 'nonce-${nonce}'; base-uri 'none'; form-action 'none'`,
    );
    assert.doesNotMatch(html, /<script/);
    const hostile = leaderboardHtml(
      '<b>x</b>',
      hub.url,
      [{ ...rows[0]!, contributor: '"><script>alert(1)</script>' }],
      'bob',
      nonce,
    );
    assert.doesNotMatch(hostile, /<script>|<b>x/);
    assert.match(hostile, /&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  });

  it('refuses a .json array upload with a clear 415, and counts nothing against the quota', async () => {
    const before = await bob.quota('arrays');
    const arrays = file('records.json', `[${record(70)}, ${record(71)}]`);
    await assert.rejects(bob.submit(arrays, 'arrays'), (err: unknown) => {
      assert.ok(err instanceof HubError);
      assert.equal(err.status, 415);
      assert.match(err.message, /Datanet 'arrays' lists \.json, but this hub takes JSON Lines only/);
      return true;
    });
    assert.deepEqual(await bob.quota('arrays'), before);
    assert.deepEqual((await bob.myDatanet('arrays')).contributions, []);
  });

  it('says clearly what is wrong: a wrong token, an unreachable hub, a bad address, not a file', async () => {
    await assert.rejects(new HubClient(hub.url, 'mfh_wrongwrongwrongwrong').me(), (err: unknown) => {
      assert.ok(err instanceof HubError);
      assert.equal(err.status, 401);
      assert.equal(err.message, 'unknown token');
      return true;
    });
    await assert.rejects(
      new HubClient('http://127.0.0.1:9', t['bob']!).me(),
      /cannot reach the hub at http:\/\/127\.0\.0\.1:9/,
    );
    await assert.rejects(bob.myDatanet('../etc'), /not a Datanet name/);
    await assert.rejects(bob.myDatanet('nope'), /no Datanet 'nope' on this hub/);
    const dir = join(work, 'folder.jsonl');
    mkdirSync(dir);
    await assert.rejects(bob.submit(dir, 'chat'), /is not a regular file/);
    assert.equal(checkHubUrl('https://hub.example.org'), undefined);
    assert.equal(checkHubUrl('http://localhost:8787/'), undefined);
    assert.match(checkHubUrl('http://hub.example.org')!, /plain http only to this machine/);
    assert.match(checkHubUrl('https://u:p@hub.example.org')!, /must not carry credentials/);
    assert.match(checkHubUrl('file:///etc/passwd')!, /not an http\(s\) address/);
    assert.throws(() => new HubClient('ftp://x', 'token'), /not an http\(s\) address/);
  });
});
