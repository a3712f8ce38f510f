// The Datanet hub as a team runs it: the real `modelfactory hub serve` process on embedded PGlite and
// on a real PostgreSQL server, driven by the real CLI and by plain HTTP.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { rankContributors, wilsonLowerBound, type LeaderboardRow as Row } from '../../hub/rank';
import type { Receipt } from '../../hub/server';
import { spawn, spawnSync } from 'node:child_process';
import { needTrainer, TRAINER_PYTHON } from '../needs';
import {
  api,
  cli,
  makeToken,
  pgliteStorage,
  postgresStorage,
  record,
  ROOT,
  startHub,
  words,
  type Hub,
  type Storage,
} from './harness';

/** A JSONL file of `n` distinct records starting at `seed`. */
const jsonl = (seed: number, n = 2) =>
  Array.from({ length: n }, (_, i) =>
    record(`Question ${seed}-${i}: ${words(seed * 100 + i, 6)}?`, words(seed * 100 + i + 7, 80)),
  ).join('\n') + '\n';

const MANIFESTS: Record<string, string> = {
  open: `name: open\nformat: messages\nfiles: ["data/*.jsonl"]\nrules:\n  dedup: { exact: error, near: error, threshold: 0.85 }\n`,
  capped: `name: capped\nfiles: ["*.jsonl"]\nlimits: { daily_files: 5 }\n`,
  bytes: `name: bytes\nfiles: ["*.jsonl"]\nlimits: { daily_mb: 0.002 }\n`,
  reviewed: `name: reviewed\nfiles: ["*.jsonl"]\nreview: { required: true }\nrules:\n  dedup: { exact: error }\n`,
  small: `name: small\nfiles: ["*.jsonl"]\nlimits: { max_file_mb: 0.001 }\n`,
  other: `name: other\nfiles: ["*.jsonl"]\n`,
};

const PEOPLE = ['bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank'] as const;

function backendSuite(kind: 'pglite' | 'postgres') {
  describe(`the hub on ${kind}`, () => {
    let storage: Storage;
    let hub: Hub;
    const t: Record<string, string> = {};
    const work = mkdtempSync(join(tmpdir(), `mf-hub-work-${kind}-`));
    const file = (name: string, text: string) => {
      const p = join(work, name);
      writeFileSync(p, text);
      return p;
    };
    const submit = (who: string, datanet: string, text: string, extra: string[] = []) => {
      const r = cli(
        [
          'hub',
          'submit',
          file(`${who}-${Date.now()}-${Math.random()}.jsonl`, text),
          '--datanet',
          datanet,
          '--hub',
          hub.url,
          '--json',
          ...extra,
        ],
        t[who],
      );
      assert.ok(r.code === 0 || r.code === 1, `submit failed (${r.code}): ${r.stderr}`);
      return { ...r, receipt: JSON.parse(r.stdout) as Receipt };
    };
    const upload = (who: string, datanet: string, text: string, query = '') =>
      api<Receipt & { error?: string }>(
        hub,
        'POST',
        `/v1/datanets/${datanet}/contributions?file_name=c.jsonl${query}`,
        t[who],
        new TextEncoder().encode(text),
      );
    const leaderboard = (name: string) => {
      const r = cli(['hub', 'leaderboard', name, '--hub', hub.url, '--json'], t['reader']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as Row[];
    };

    before(async () => {
      storage = kind === 'pglite' ? pgliteStorage() : await postgresStorage();
      t['owner'] = makeToken(storage, 'olivia', 'owner');
      t['bob'] = makeToken(storage, 'bob', 'contributor');
      hub = await startHub(storage, ['--daily-files', '60']);
      // The rest through the API, as an owner does on a running hub (`token create --hub` is tested below).
      const viaApi = async (name: string, role: string, datanets?: string[]) => {
        const r = await api<{ token: string }>(hub, 'POST', '/v1/tokens', t['owner'], {
          name,
          role,
          ...(datanets ? { datanets } : {}),
        });
        assert.equal(r.status, 201);
        return r.body.token;
      };
      t['curator'] = await viaApi('cora', 'curator');
      t['reader'] = await viaApi('rita', 'reader');
      for (const p of PEOPLE) if (p !== 'bob') t[p] = await viaApi(p, 'contributor');
      t['limited'] = await viaApi('lim', 'contributor', ['other']);
      for (const [name, text] of Object.entries(MANIFESTS)) {
        const r = cli(['hub', 'datanet', 'create', file(`${name}.yaml`, text), '--hub', hub.url], t['owner']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`created Datanet '${name}' \\(manifest version 1\\)`));
      }
    });

    after(async () => {
      await hub?.stop();
      await storage?.stop();
    });

    it('prints a token on the last line and stores only its hash', async () => {
      assert.match(t['bob'] as string, /^mfh_[A-Za-z0-9_-]{43}$/);
      const token = t['bob'] as string;
      if (kind === 'pglite') {
        // No file of the database holds the token itself.
        const dbDir = join(storage.dataDir, 'db');
        let scanned = 0;
        for (const f of readdirSync(dbDir, { recursive: true })) {
          const p = join(dbDir, String(f));
          if (!statSync(p).isFile()) continue;
          scanned++;
          assert.equal(readFileSync(p).includes(token), false, p);
        }
        assert.ok(scanned > 10);
      } else {
        const client = new pg.Client({ connectionString: storage.args[storage.args.indexOf('--database') + 1] });
        await client.connect();
        try {
          const rows = (await client.query('SELECT hash FROM tokens WHERE name = $1', ['bob'])).rows as {
            hash: string;
          }[];
          assert.deepEqual(rows, [{ hash: createHash('sha256').update(token).digest('hex') }]);
        } finally {
          await client.end();
        }
      }
    });

    it('refuses missing, wrong and under-privileged tokens with a clear error', async () => {
      const none = await api<{ error: string }>(hub, 'GET', '/v1/datanets', undefined);
      assert.equal(none.status, 401);
      assert.match(none.body.error, /no token.*Authorization: Bearer/);
      const wrong = await api<{ error: string }>(hub, 'GET', '/v1/datanets', 'mfh_' + 'x'.repeat(43));
      assert.equal(wrong.status, 401);
      assert.match(wrong.body.error, /unknown token/);
      const asContributor = cli(
        ['hub', 'datanet', 'create', file('x.yaml', MANIFESTS['other'] as string), '--hub', hub.url],
        t['bob'],
      );
      assert.equal(asContributor.code, 3);
      assert.match(asContributor.stderr, /403.*needs the owner role.*bob has contributor/);
      const readerSubmit = await upload('reader', 'open', jsonl(1));
      assert.equal(readerSubmit.status, 403);
      assert.match(readerSubmit.body.error ?? '', /contributor role/);
      const limited = await upload('limited', 'open', jsonl(2));
      assert.equal(limited.status, 403);
      assert.match(limited.body.error ?? '', /not for Datanet 'open'/);
      const publishAsContributor = cli(['hub', 'publish', 'open', '--hub', hub.url], t['bob']);
      assert.equal(publishAsContributor.code, 3);
      assert.match(publishAsContributor.stderr, /curator role/);
      const viaCli = cli(['hub', 'token', 'create', '--hub', hub.url, '--name', 'zed', '--role', 'reader'], t['owner']);
      assert.equal(viaCli.code, 0, viaCli.stderr);
      const zed = viaCli.stdout.trim().split('\n').at(-1) as string;
      assert.equal((await api<{ name: string; role: string }>(hub, 'GET', '/v1/me', zed)).body.role, 'reader');
      const byCurator = cli(
        ['hub', 'token', 'create', '--hub', hub.url, '--name', 'x', '--role', 'owner'],
        t['curator'],
      );
      assert.equal(byCurator.code, 3);
      assert.match(byCurator.stderr, /owner role/);
      const lowner = await api<{ token: string }>(hub, 'POST', '/v1/tokens', t['owner'], {
        name: 'lo',
        role: 'owner',
        datanets: ['other'],
      });
      const escalate = await api<{ error: string }>(hub, 'POST', '/v1/tokens', lowner.body.token, {
        name: 'lo2',
        role: 'owner',
      });
      assert.equal(escalate.status, 403);
      assert.match(escalate.body.error, /for other only/);
      const scoped = await api(hub, 'POST', '/v1/tokens', lowner.body.token, {
        name: 'lo3',
        role: 'reader',
        datanets: ['other'],
      });
      assert.equal(scoped.status, 201);
      const noEnv = cli(['hub', 'leaderboard', 'open', '--hub', hub.url]);
      assert.equal(noEnv.code, 2);
      assert.match(noEnv.stderr, /MODELFACTORY_HUB_TOKEN/);
    });

    it('keeps every manifest version', async () => {
      const changed = MANIFESTS['other'] + 'description: now with a description\n';
      const r = cli(['hub', 'datanet', 'create', file('other2.yaml', changed), '--hub', hub.url, '--json'], t['owner']);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { name: 'other', version: 2, created: false });
      const got = await api<{ manifest_version: number; manifest: string }>(
        hub,
        'GET',
        '/v1/datanets/other',
        t['reader'],
      );
      assert.equal(got.body.manifest_version, 2);
      assert.equal(got.body.manifest, changed);
      const bad = await api<{ error: string; findings: { message: string }[] }>(
        hub,
        'POST',
        '/v1/datanets',
        t['owner'],
        {
          manifest: 'name: Bad Name\nfiles: []\n',
        },
      );
      assert.equal(bad.status, 400);
      assert.ok(bad.body.findings.length > 0);
    });

    it('answers a receipt from the lint core: accepted, and rejected with findings at their lines', () => {
      const ok = submit('bob', 'open', jsonl(10, 3));
      assert.equal(ok.code, 0);
      assert.equal(ok.receipt.verdict, 'accepted');
      assert.deepEqual(ok.receipt.records, { accepted: 3, rejected: 0 });
      assert.match(ok.receipt.sha256, /^[0-9a-f]{64}$/);
      assert.match(ok.receipt.rules_version, /^\d+\.\d+\.\d+\+[0-9a-f]{12}$/);
      const text = jsonl(11, 2) + '{"messages": [}\n' + record('Key?', 'AKIAZ7Q2M4K6R3T5W3XY is ours, keep it') + '\n';
      const bad = submit('bob', 'open', text);
      assert.equal(bad.code, 1);
      assert.equal(bad.receipt.verdict, 'rejected');
      assert.deepEqual(bad.receipt.records, { accepted: 2, rejected: 2 });
      const lines = bad.receipt.findings
        .filter((f) => f.severity === 'error')
        .map((f) => [f.line, f.rule.split('/')[0]]);
      assert.deepEqual(lines, [
        [3, 'jsonl'],
        [4, 'secret'],
      ]);
      // The same file through `modelfactory lint` finds the same errors.
      const lint = cli(['lint', file('same.jsonl', text), '--format', 'json']);
      const lintErrors = (
        JSON.parse(lint.stdout) as { diagnostics: { line: number; rule: string; severity: string }[] }
      ).diagnostics
        .filter((d) => d.severity === 'error')
        .map((d) => [d.line, d.rule]);
      assert.deepEqual(
        lintErrors,
        bad.receipt.findings.filter((f) => f.severity === 'error').map((f) => [f.line, f.rule]),
      );
    });

    it('finds exact and near duplicates of accepted records across contributors', () => {
      const base = words(4242, 80);
      const first = submit('carol', 'open', record('Tell me about the mountains and rivers', base) + '\n');
      assert.equal(first.receipt.verdict, 'accepted');
      const exact = submit(
        'dave',
        'open',
        jsonl(20, 1) + record('Tell me about the mountains and rivers', base) + '\n',
      );
      assert.equal(exact.receipt.verdict, 'rejected');
      assert.deepEqual(
        exact.receipt.findings.map((f) => [f.line, f.rule]),
        [[2, 'dedup/exact']],
      );
      assert.match(exact.receipt.findings[0]!.message, new RegExp(first.receipt.id));
      const near = base.split(' ');
      near[40] = 'lighthouse';
      const nearSubmit = submit(
        'erin',
        'open',
        record('Tell me about the mountains and rivers', near.join(' ')) + '\n',
      );
      assert.equal(nearSubmit.receipt.verdict, 'rejected');
      assert.deepEqual(
        nearSubmit.receipt.findings.map((f) => f.rule),
        ['dedup/near'],
      );
      // A rejected contribution does not enter the index: its records may come back fixed.
      const rejectedText = jsonl(21, 1) + '{"messages": [}\n';
      assert.equal(submit('gina', 'open', rejectedText).receipt.verdict, 'rejected');
      assert.equal(submit('gina', 'open', jsonl(21, 1)).receipt.verdict, 'accepted');
    });

    it('never lets 20 concurrent submits pass a daily cap (files, and bytes)', async () => {
      const files = await Promise.all(
        Array.from({ length: 20 }, (_, i) => upload('dave', 'capped', jsonl(1000 + i, 1))),
      );
      const statuses = files.map((r) => r.status).sort();
      assert.equal(
        statuses.filter((s) => s === 201).length,
        5,
        JSON.stringify(files.map((r) => [r.status, r.body.error])),
      );
      assert.equal(statuses.filter((s) => s === 429).length, 15);
      const refused = files.find((r) => r.status === 429)!;
      assert.match(
        refused.body.error ?? '',
        /daily cap reached: dave has submitted 5 of 5 files today in Datanet 'capped'/,
      );
      const quota = await api<{ datanet: { files: number } }>(hub, 'GET', '/v1/datanets/capped/quota', t['dave']);
      assert.equal(quota.body.datanet.files, 5);

      const one = jsonl(2000, 1);
      const size = Buffer.byteLength(one);
      const texts = Array.from({ length: 20 }, (_, i) => jsonl(2000 + i, 1));
      const sizes = texts.map((x) => Buffer.byteLength(x));
      assert.ok(Math.max(...sizes) < 2000 && size > 0);
      const byBytes = await Promise.all(texts.map((x) => upload('frank', 'bytes', x)));
      const acceptedBytes = byBytes.reduce((sum, r, i) => sum + (r.status === 201 ? (sizes[i] as number) : 0), 0);
      assert.ok(acceptedBytes <= 2000, `accepted ${acceptedBytes} bytes against a cap of 2000`);
      assert.ok(acceptedBytes + Math.max(...sizes) > 2000 - Math.min(...sizes), 'the cap was not filled');
      for (const r of byBytes) assert.ok(r.status === 201 || r.status === 429, String(r.status));
    });

    it('ranks by the Wilson lower bound: 1 of 1 below 19 of 20', async () => {
      for (let i = 0; i < 19; i++)
        assert.equal((await upload('hank', 'other', jsonl(3000 + i, 1))).body.verdict, 'accepted');
      assert.equal((await upload('hank', 'other', '{"messages": [}\n')).body.verdict, 'rejected');
      assert.equal((await upload('gina', 'other', jsonl(3100, 1))).body.verdict, 'accepted');
      const rows = leaderboard('other');
      const hank = rows.find((r) => r.contributor === 'hank')!;
      const gina = rows.find((r) => r.contributor === 'gina')!;
      assert.deepEqual([hank.accepted, hank.rejected, hank.rate], [19, 1, 0.95]);
      assert.deepEqual([gina.accepted, gina.rejected, gina.rate], [1, 0, 1]);
      assert.ok(hank.rank < gina.rank, JSON.stringify(rows));
      assert.ok(hank.score > gina.score);
    });

    it('counts a superseding accepted resubmission instead of the rejection', () => {
      const bad = submit('erin', 'capped', jsonl(4000, 1) + '{"messages": [}\n');
      assert.equal(bad.receipt.verdict, 'rejected');
      let erin = leaderboard('capped').find((r) => r.contributor === 'erin')!;
      assert.deepEqual([erin.accepted, erin.rejected], [0, 1]);
      const notYours = cli(
        [
          'hub',
          'submit',
          file('n.jsonl', jsonl(4001, 1)),
          '--datanet',
          'capped',
          '--hub',
          hub.url,
          '--supersedes',
          bad.receipt.id,
        ],
        t['bob'],
      );
      assert.equal(notYours.code, 3);
      assert.match(notYours.stderr, /not yours to supersede/);
      const fixed = submit('erin', 'capped', jsonl(4000, 1), ['--supersedes', bad.receipt.id]);
      assert.equal(fixed.receipt.verdict, 'accepted');
      erin = leaderboard('capped').find((r) => r.contributor === 'erin')!;
      assert.deepEqual([erin.accepted, erin.rejected, erin.rate], [1, 0, 1]);
      const again = cli(
        [
          'hub',
          'submit',
          file('a.jsonl', jsonl(4002, 1)),
          '--datanet',
          'capped',
          '--hub',
          hub.url,
          '--supersedes',
          bad.receipt.id,
        ],
        t['erin'],
      );
      assert.equal(again.code, 3);
      assert.match(again.stderr, /already superseded/);
    });

    it("holds contributions for a curator's review when the manifest asks for it", async () => {
      const a = submit('bob', 'reviewed', jsonl(5000, 2));
      assert.equal(a.code, 0);
      assert.equal(a.receipt.verdict, 'pending');
      const list = cli(['hub', 'review', 'list', 'reviewed', '--hub', hub.url, '--json'], t['curator']);
      assert.deepEqual(
        (JSON.parse(list.stdout) as { id: string }[]).map((r) => r.id),
        [a.receipt.id],
      );
      const byContributor = cli(['hub', 'review', 'approve', a.receipt.id, '--hub', hub.url], t['carol']);
      assert.equal(byContributor.code, 3);
      assert.match(byContributor.stderr, /curator role/);
      const approve = cli(['hub', 'review', 'approve', a.receipt.id, '--hub', hub.url, '--json'], t['curator']);
      assert.equal(approve.code, 0, approve.stderr);
      assert.equal((JSON.parse(approve.stdout) as Receipt).verdict, 'accepted');
      const b = submit('carol', 'reviewed', jsonl(5001, 1));
      const noReason = await api<{ error: string }>(
        hub,
        'POST',
        `/v1/contributions/${b.receipt.id}/review`,
        t['curator'],
        { decision: 'reject' },
      );
      assert.equal(noReason.status, 400);
      assert.match(noReason.body.error, /needs a reason/);
      const reject = cli(
        ['hub', 'review', 'reject', b.receipt.id, '--reason', 'off topic', '--hub', hub.url, '--json'],
        t['curator'],
      );
      assert.equal(reject.code, 0, reject.stderr);
      const rejected = JSON.parse(reject.stdout) as Receipt;
      assert.deepEqual([rejected.verdict, rejected.review_reason], ['rejected', 'off topic']);
      // Two pending contributions with the same records: approving the second would accept duplicates.
      const c1 = submit('erin', 'reviewed', jsonl(5002, 2));
      const c2 = submit('frank', 'reviewed', jsonl(5002, 2));
      assert.deepEqual([c1.receipt.verdict, c2.receipt.verdict], ['pending', 'pending']);
      assert.equal(
        (await api(hub, 'POST', `/v1/contributions/${c1.receipt.id}/review`, t['curator'], { decision: 'approve' }))
          .status,
        200,
      );
      const dup = await api<{ error: string }>(hub, 'POST', `/v1/contributions/${c2.receipt.id}/review`, t['curator'], {
        decision: 'approve',
      });
      assert.equal(dup.status, 409);
      assert.match(dup.body.error, new RegExp(`line 1: This record is already in the Datanet .*${c1.receipt.id}`));
      const mine = await api<Receipt>(hub, 'GET', `/v1/contributions/${b.receipt.id}`, t['carol']);
      assert.equal(mine.body.review_reason, 'off topic');
      const notMine = await api<{ error: string }>(hub, 'GET', `/v1/contributions/${b.receipt.id}`, t['bob']);
      assert.equal(notMine.status, 403);
    });

    it('publishes an immutable, content-addressed version with its contributors', () => {
      const r = cli(['hub', 'publish', 'open', '--hub', hub.url, '--json'], t['curator']);
      assert.equal(r.code, 0, r.stderr);
      const v = JSON.parse(r.stdout) as {
        version: number;
        sha256: string;
        records: number;
        contributors: Record<string, number>;
      };
      assert.equal(v.version, 1);
      assert.deepEqual(v.contributors, { bob: 3, carol: 1, gina: 1 });
      assert.equal(v.records, 5);
      const out = join(work, 'open-1.jsonl');
      const pull = cli(['hub', 'pull', 'open@1', '--hub', hub.url, '--out', out], t['reader']);
      assert.equal(pull.code, 0, pull.stderr);
      const data = readFileSync(out);
      assert.equal(createHash('sha256').update(data).digest('hex'), v.sha256);
      assert.equal(data.toString().trim().split('\n').length, 5);
      assert.ok(data.toString().startsWith(jsonl(10, 3)));
      const again = cli(['hub', 'publish', 'open', '--hub', hub.url, '--json'], t['owner']);
      assert.deepEqual(JSON.parse(again.stdout), v);
    });

    it('lets the trainer train on a version: pulled into a cache, verified by sha256, with an attribution manifest', () => {
      needTrainer();
      const ref = `${hub.url}/open@1`;
      const cache = join(work, 'cache');
      const script = `
import json, sys
from pathlib import Path
from modelfactory_trainer.config import parse_config
from modelfactory_trainer.data import dataset_files, load_examples
from modelfactory_trainer.datanet_pull import pull_version, write_attribution
from modelfactory_trainer.errors import DatasetError
ref, work = sys.argv[1], Path(sys.argv[2])
cfg = parse_config({"base_model": "builtin:tiny-llama", "method": "lora", "dataset": {"datanet_version": ref}}, work / "x.finetune.yaml")
files, fmt = dataset_files(cfg)
examples = load_examples(cfg)
files[0].write_text("tampered\\n")
path, meta = pull_version(ref)
out = write_attribution(work / "out", ref, meta)
try:
    pull_version(ref, token="mfh_" + "x" * 43)
    refused = ""
except DatasetError as exc:
    refused = str(exc)
print(json.dumps({"file": str(files[0]), "again": str(path), "text": path.read_text(), "examples": len(examples), "attribution": json.loads(out.read_text()), "refused": refused}))
`;
      const r = spawnSync(TRAINER_PYTHON, ['-c', script, ref, work], {
        encoding: 'utf8',
        env: {
          ...process.env,
          PYTHONPATH: join(ROOT, 'trainer'),
          MODELFACTORY_CACHE: cache,
          MODELFACTORY_HUB_TOKEN: t['reader'],
        },
        timeout: 120_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout) as {
        file: string;
        again: string;
        text: string;
        examples: number;
        attribution: {
          datanet: string;
          version: number;
          sha256: string;
          contributors: Record<string, number>;
          contributions: { contributor: string; records: number }[];
        };
        refused: string;
      };
      const published = readFileSync(join(work, 'open-1.jsonl'), 'utf8');
      const sha = createHash('sha256').update(published).digest('hex');
      assert.equal(got.file, join(cache, 'datanets', `${sha}.jsonl`));
      assert.equal(got.examples, 5);
      // A cached copy that no longer matches its sha256 is pulled again.
      assert.equal(got.again, got.file);
      assert.equal(got.text, published);
      assert.equal(got.attribution.datanet, ref);
      assert.equal(got.attribution.sha256, sha);
      assert.deepEqual(got.attribution.contributors, { bob: 3, carol: 1, gina: 1 });
      assert.deepEqual(
        got.attribution.contributions.map((c) => [c.contributor, c.records]),
        [
          ['bob', 3],
          ['carol', 1],
          ['gina', 1],
        ],
      );
      assert.match(got.refused, /the hub refused .* \(401\): unknown token/);
    });

    // The same client code on both storages: one real training run is enough.
    if (kind === 'pglite') {
      it('trains the tiny model on a published Datanet version and writes the attribution manifest beside the adapter', async () => {
        needTrainer();
        const cfg = file(
          'hub.finetune.yaml',
          `base_model: builtin:tiny-llama\nmethod: lora\ndataset:\n  datanet_version: ${hub.url}/open@1\n  eval_split: 0.0\n` +
            'lora: { r: 4, alpha: 8, target_modules: [q_proj, v_proj] }\n' +
            'training: { epochs: 1, batch_size: 4, max_seq_length: 128, precision: fp32, gradient_checkpointing: false, save_steps: 1000 }\n' +
            'output_dir: hub-run\n',
        );
        // Asynchronously: the hub's output keeps being read while the run takes its minute.
        const r = await spawnAsync(TRAINER_PYTHON, ['-m', 'modelfactory_trainer', 'train', cfg], {
          env: {
            ...process.env,
            PYTHONPATH: join(ROOT, 'trainer'),
            MODELFACTORY_CACHE: join(work, 'cache'),
            MODELFACTORY_HUB_TOKEN: t['reader'],
          },
          timeout: 300_000,
        });
        assert.equal(r.status, 0, r.stderr.slice(-3000));
        const events = r.stdout
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { type: string });
        assert.equal(events.at(-1)?.type, 'done');
        const attribution = JSON.parse(readFileSync(join(work, 'hub-run', 'datanet-attribution.json'), 'utf8')) as {
          datanet: string;
          records: number;
          contributors: Record<string, number>;
        };
        assert.equal(attribution.datanet, `${hub.url}/open@1`);
        assert.equal(attribution.records, 5);
        assert.deepEqual(attribution.contributors, { bob: 3, carol: 1, gina: 1 });
        assert.ok(existsSync(join(work, 'hub-run', 'adapter', 'adapter_model.safetensors')));
      });
    }

    it('refuses path traversal and oversized bodies, and keeps nothing of them', async () => {
      const before = await api<unknown[]>(hub, 'GET', '/v1/datanets/small/contributions', t['owner']);
      const traversal = await api<{ error: string }>(
        hub,
        'POST',
        '/v1/datanets/small/contributions?file_name=..%2F..%2Fevil.jsonl',
        t['bob'],
        new TextEncoder().encode(jsonl(6000, 1)),
      );
      assert.equal(traversal.status, 400);
      assert.match(traversal.body.error, /file name/);
      for (const path of [
        '/v1/datanets/..%2F..%2Fetc/leaderboard',
        '/v1/contributions/..%2F..%2Fetc%2Fpasswd',
        '/v1/datanets/open/versions/..%2F1/data',
      ]) {
        const r = await api<{ error: string }>(hub, 'GET', path, t['owner']);
        assert.equal(r.status, 400, path);
      }
      const schemaEscape = await api<{ findings: { message: string }[] }>(hub, 'POST', '/v1/datanets', t['owner'], {
        manifest: 'name: escape\nfiles: ["*.jsonl"]\nrecord_schema: ../../../tmp/escape.json\n',
        record_schema: '{}',
      });
      assert.equal(schemaEscape.status, 400);
      assert.match(schemaEscape.body.findings[0]!.message, /inside the manifest's folder/);

      const big = new TextEncoder().encode(jsonl(6001, 20));
      assert.ok(big.length > 1000);
      const declared = await upload('bob', 'small', new TextDecoder().decode(big));
      assert.equal(declared.status, 413);
      assert.match(declared.body.error ?? '', /at most 1000 bytes/);
      // Streamed without a length: refused once 1000 bytes have arrived.
      const streamed = (parts: Uint8Array[]) =>
        fetch(`${hub.url}/v1/datanets/small/contributions?file_name=s.jsonl`, {
          method: 'POST',
          headers: { authorization: `Bearer ${t['bob']}`, 'content-type': 'application/octet-stream' },
          body: new ReadableStream<Uint8Array>({
            pull(controller) {
              const c = parts.shift();
              if (c) controller.enqueue(c);
              else controller.close();
            },
          }),
          duplex: 'half',
        } as RequestInit);
      const res = await streamed([big.subarray(0, 600), big.subarray(600)]);
      assert.equal(res.status, 413);
      assert.match(((await res.json()) as { error: string }).error, /larger than 1000 bytes/);
      // Refusals in a row, streamed and declared, with the body still arriving: each sender reads its 413
      // (no reset connection), and the hub lives on (a staging write still in flight when the refusal
      // came once took the process down).
      const fiveMb = new TextEncoder().encode(jsonl(6002, 8000));
      for (let k = 0; k < 30; k++) {
        const refused = await streamed([big.subarray(0, 600), fiveMb]);
        assert.equal(refused.status, 413);
        await refused.arrayBuffer();
        if (k % 10 === 0) assert.equal((await upload('bob', 'small', new TextDecoder().decode(fiveMb))).status, 413);
      }
      assert.equal(hub.proc.exitCode, null, hub.stderr());
      const hugeJson = await api<{ error: string }>(hub, 'POST', '/v1/datanets', t['owner'], {
        manifest: 'x'.repeat(2 * 1024 * 1024),
      });
      assert.equal(hugeJson.status, 413);
      const afterList = await api<unknown[]>(hub, 'GET', '/v1/datanets/small/contributions', t['owner']);
      assert.deepEqual(afterList.body, before.body);
      assert.deepEqual(readdirSync(join(storage.dataDir, 'incoming')), []);
      assert.equal(existsSync(join(storage.dataDir, '..', 'evil.jsonl')), false);
    });

    it('loses nothing on restart, and collects orphaned files', async () => {
      const board = leaderboard('open');
      const list = await api<unknown[]>(hub, 'GET', '/v1/datanets/open/contributions', t['owner']);
      await hub.stop();
      // What a crash between a file's move and its commit leaves behind.
      const orphan = 'ab' + '0'.repeat(62);
      mkdirSync(join(storage.dataDir, 'files', 'ab'), { recursive: true });
      writeFileSync(join(storage.dataDir, 'files', 'ab', orphan), 'half a contribution');
      writeFileSync(join(storage.dataDir, 'incoming', 'deadbeef'), 'a staging file');
      hub = await startHub(storage, ['--daily-files', '60']);
      assert.deepEqual(leaderboard('open'), board);
      assert.deepEqual(
        (await api<unknown[]>(hub, 'GET', '/v1/datanets/open/contributions', t['owner'])).body,
        list.body,
      );
      const again = submit('hank', 'open', jsonl(10, 3));
      assert.equal(again.receipt.verdict, 'rejected');
      assert.deepEqual(
        again.receipt.findings.map((f) => f.rule),
        ['dedup/exact', 'dedup/exact', 'dedup/exact'],
      );
      const v = await api<{ sha256: string }>(hub, 'GET', '/v1/datanets/open/versions/1', t['reader']);
      assert.equal(v.status, 200);
      assert.ok(existsSync(join(storage.dataDir, 'files', v.body.sha256.slice(0, 2), v.body.sha256)));
      if (kind === 'pglite') {
        // One hub owns a PGlite folder; on shared PostgreSQL storage, young files are left for a grace hour.
        assert.equal(existsSync(join(storage.dataDir, 'files', 'ab', orphan)), false);
        assert.deepEqual(readdirSync(join(storage.dataDir, 'incoming')), []);
        const second = cli(['hub', 'token', 'create', ...storage.args, '--name', 'x', '--role', 'reader']);
        assert.equal(second.code, 3);
        assert.match(second.stderr, /in use by process \d+ \(a running hub\)/);
      }
    });
  });
}

describe('leaderboard score', () => {
  it('puts 1 of 1 below 95 of 100 and documents the numbers', () => {
    assert.ok(Math.abs(wilsonLowerBound(1, 1) - 0.2065) < 1e-3);
    assert.ok(Math.abs(wilsonLowerBound(95, 100) - 0.8882) < 1e-3);
    const rows = rankContributors([
      { contributor: 'lucky', accepted: 1, rejected: 0, activeDays: 1 },
      { contributor: 'steady', accepted: 95, rejected: 5, activeDays: 1 },
      { contributor: 'daily', accepted: 95, rejected: 5, activeDays: 7 },
    ]);
    assert.deepEqual(
      rows.map((r) => [r.contributor, r.rank]),
      [
        ['daily', 1],
        ['steady', 2],
        ['lucky', 3],
      ],
    );
  });
});

function spawnAsync(
  cmd: string,
  args: string[],
  opts: { env: NodeJS.ProcessEnv; timeout: number },
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(cmd, args, { env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeout);
    child.once('exit', (status) => {
      clearTimeout(timer);
      resolveRun({ status, stdout, stderr });
    });
  });
}

describe('modelfactory hub usage', () => {
  it('prints its usage, and names what is wrong with exit 2', () => {
    const help = cli(['hub', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: modelfactory hub COMMAND/);
    assert.match(cli(['--help']).stdout, /modelfactory hub COMMAND/);
    const unknown = cli(['hub', 'bogus']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown hub command 'bogus'/);
    const missing = cli(['hub', 'submit', 'x.jsonl', '--hub', 'http://127.0.0.1:9']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /hub submit needs FILE and --datanet NAME/);
    // `token create` on a fresh data folder with the given arguments.
    const tokenCreate = (...args: string[]) =>
      cli(['hub', 'token', 'create', '--data', mkdtempSync(join(tmpdir(), 'mf-hub-u-')), ...args]);
    const badRole = tokenCreate('--name', 'a', '--role', 'admin');
    assert.equal(badRole.code, 2);
    assert.match(badRole.stderr, /--role must be one of reader, contributor, curator, owner/);
    // A stray word is refused, not ignored: `token create --name ci bot` would otherwise name the token "ci".
    const stray = tokenCreate('--name', 'ci', 'bot');
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /unexpected argument 'bot'/);
    const twoFiles = cli(['hub', 'submit', 'a.jsonl', 'b.jsonl', '--datanet', 'x', '--hub', 'http://127.0.0.1:9']);
    assert.equal(twoFiles.code, 2);
    assert.match(twoFiles.stderr, /unexpected argument 'b.jsonl'/);
    const dir = mkdtempSync(join(tmpdir(), 'mf-hub-u-'));
    writeFileSync(join(dir, 'a.jsonl'), '{}\n');
    const unreachable = cli(
      ['hub', 'submit', join(dir, 'a.jsonl'), '--datanet', 'x', '--hub', 'http://127.0.0.1:9'],
      'mfh_' + 'x'.repeat(43),
    );
    assert.equal(unreachable.code, 3);
    assert.match(unreachable.stderr, /cannot reach the hub at http:\/\/127.0.0.1:9/);
  });
});

backendSuite('pglite');
backendSuite('postgres');
