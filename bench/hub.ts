// `npm run bench:hub`: the Datanet hub on PGlite in a temporary folder (or a throwaway PostgreSQL
// cluster with BENCH_HUB_POSTGRES=1), over real HTTP.
//   1. submits per second (small contributions, one at a time and 8 at once), against the floor of
//      validating the same file with the core alone (no HTTP, no database) in the same run;
//   2. the time to validate a 5 MB contribution against a Datanet that already holds BENCH_HUB_RECORDS
//      accepted records (default 1,000,000; BENCH_QUICK=1: 50,000), against the same floor, and where
//      the duplicate index lives and what it costs. One real 5 MB contribution is submitted; the rest of
//      the accepted records are bulk-inserted into the index tables in SQL (generate_series, random
//      64-bit hashes, 20 random band keys and a 128-byte signature each, in 100,000-record batches): the
//      same rows and indexes a submit writes, without validating a million records first.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDb, type HubDb } from '../hub/db';
import { postgresStorage, type Storage } from '../test/hub/harness';
import { buildHub } from '../hub/server';
import { createToken } from '../hub/tokens';
import { validateContribution } from '../hub/validate';

const VOCAB =
  'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu river mountain forest ocean desert valley canyon meadow harbor island glacier prairie lagoon summit plateau marsh tundra savanna jungle reef estuary fjord'.split(
    ' ',
  );

let state = 12345;
function word(): string {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return VOCAB[state % VOCAB.length] as string;
}
const sentence = (n: number) => Array.from({ length: n }, word).join(' ');
const record = () =>
  JSON.stringify({
    messages: [
      { role: 'user', content: `${sentence(10)}?` },
      { role: 'assistant', content: sentence(60) },
    ],
  });

function file(targetBytes: number): string {
  const lines: string[] = [];
  let size = 0;
  while (size < targetBytes) {
    const r = record();
    lines.push(r);
    size += Buffer.byteLength(r) + 1;
  }
  return lines.join('\n') + '\n';
}

const MANIFEST = 'name: bench\nformat: messages\nfiles: ["*.jsonl"]\nrules:\n  dedup: { exact: error, near: error }\n';

async function main(): Promise<void> {
  const onPostgres = process.env['BENCH_HUB_POSTGRES'] === '1';
  const storage: Storage | undefined = onPostgres ? await postgresStorage() : undefined;
  const dataDir = storage?.dataDir ?? mkdtempSync(join(tmpdir(), 'mf-hub-bench-'));
  const database = storage?.args[storage.args.indexOf('--database') + 1];
  const db = await openDb({ dataDir, ...(database ? { database } : {}) });
  const owner = await createToken(db, 'owner', 'owner');
  const contributor = await createToken(db, 'bench', 'contributor');
  const app = await buildHub({ db, dataDir, dailyBytes: 1e12, dailyFiles: 1e9, maxUploadBytes: 64e6 });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const post = async (path: string, token: string, body: string, type: string) => {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      body,
    });
    const json = (await res.json()) as { verdict?: string; error?: string; records?: { accepted: number } };
    if (res.status >= 300) throw new Error(`${res.status}: ${json.error}`);
    return json;
  };
  await post('/v1/datanets', owner, JSON.stringify({ manifest: MANIFEST }), 'application/json');
  const submit = (text: string) =>
    post('/v1/datanets/bench/contributions?file_name=c.jsonl', contributor, text, 'application/octet-stream');

  /** The floor: the core's validation of the same text, without HTTP or the database. */
  const floor = async (text: string) => {
    const p = join(dataDir, 'floor.jsonl');
    writeFileSync(p, text);
    const t0 = performance.now();
    await validateContribution({
      manifestText: MANIFEST,
      stagedPath: p,
      bytes: Buffer.byteLength(text),
      extension: '.jsonl',
      workDir: join(dataDir, `floor-${Math.random().toString(16).slice(2)}`),
    });
    return performance.now() - t0;
  };

  console.log(
    `node ${process.version}, hub on ${onPostgres ? 'PostgreSQL (throwaway cluster)' : 'PGlite'} in ${dataDir}`,
  );
  // 1. Submits per second.
  const small = Array.from({ length: 60 }, () => file(2000));
  let floorMs = 0;
  for (const s of small.slice(0, 20)) floorMs += await floor(s);
  floorMs /= 20;
  let t0 = performance.now();
  for (const s of small.slice(0, 30)) await submit(s);
  const sequential = (performance.now() - t0) / 30;
  t0 = performance.now();
  const rest = small.slice(30);
  for (let i = 0; i < rest.length; i += 8) await Promise.all(rest.slice(i, i + 8).map(submit));
  const concurrent = (performance.now() - t0) / rest.length;
  console.log(
    `submits, 2 KB each, one at a time        ${(1000 / sequential).toFixed(1).padStart(8)} /s  (${(sequential / floorMs).toFixed(2)}x the core's validation alone, ${floorMs.toFixed(1)} ms)`,
  );
  console.log(
    `submits, 2 KB each, 8 at once            ${(1000 / concurrent).toFixed(1).padStart(8)} /s  (${(concurrent / floorMs).toFixed(2)}x)`,
  );

  // 2. A Datanet with many accepted records, then one more 5 MB contribution.
  const quick = process.env['BENCH_QUICK'] === '1';
  const target = Number(process.env['BENCH_HUB_RECORDS'] ?? (quick ? 50_000 : 1_000_000));
  t0 = performance.now();
  const first = await submit(file(5e6));
  if (first.verdict !== 'accepted') throw new Error(`the first contribution was ${first.verdict}`);
  let held = first.records?.accepted ?? 0;
  held += await seedIndex(db, Math.max(0, target - held));
  process.stderr.write('\n');
  const fillS = (performance.now() - t0) / 1000;
  const big = file(5e6);
  const bigFloor = await floor(big);
  t0 = performance.now();
  const r = await submit(big);
  const bigMs = performance.now() - t0;
  const sizes = await db.query<{ rel: string; bytes: number }>(
    `SELECT c.relname AS rel, pg_total_relation_size(c.oid) AS bytes FROM pg_class c
     WHERE c.relname IN ('record_exact', 'record_signature', 'record_band')`,
  );
  const indexBytes = sizes.reduce((s, x) => s + Number(x.bytes), 0);
  const mem = process.memoryUsage();
  console.log(`filled ${held} accepted records (one 5 MB submit, the rest bulk-inserted) in ${fillS.toFixed(1)} s`);
  console.log(
    `5 MB contribution (${r.records?.accepted} records) against ${held} accepted: ${(bigMs / 1000).toFixed(2)} s  (${(bigMs / bigFloor).toFixed(2)}x the core alone, ${(bigFloor / 1000).toFixed(2)} s)`,
  );
  console.log(
    `duplicate index: in the database (record_exact, record_signature, record_band): ${(indexBytes / 1e6).toFixed(1)} MB, ${(indexBytes / held).toFixed(0)} bytes a record; ` +
      `${sizes.map((s) => `${s.rel} ${(Number(s.bytes) / 1e6).toFixed(1)} MB`).join(', ')}`,
  );
  console.log(
    `hub process memory after the run: rss ${(mem.rss / 1e6).toFixed(0)} MB, heap ${(mem.heapUsed / 1e6).toFixed(0)} MB (${onPostgres ? 'PostgreSQL is another process' : "PGlite's buffers included"}; a request holds only its own file's signatures)`,
  );
  await app.close();
  await db.close();
  await storage?.stop();
}

/**
 * Adds `n` accepted records to the Datanet's duplicate index in bulk: contributions of 10,000 records
 * each, with the rows a submit writes (record_exact, record_signature, 20 record_band rows a record).
 * The two lookup indexes are dropped during the load and rebuilt after it, as a bulk load does.
 */
async function seedIndex(db: HubDb, n: number): Promise<number> {
  if (n === 0) return 0;
  const [dn] = await db.query<{ id: number }>("SELECT id FROM datanets WHERE name = 'bench'");
  const datanetId = Number(dn!.id);
  const PER = 10_000;
  const BATCH = 100_000;
  const contributions = Math.ceil(n / PER);
  await db.query(
    `INSERT INTO contributions (id, datanet_id, contributor, sha256, bytes, file_name, verdict, records_accepted,
       records_rejected, findings, rules_version, manifest_version, day)
     SELECT 'c_' || lpad(to_hex(g), 24, '0'), $1, 'seed-' || (g % 50), repeat('0', 64), 5000000, 'seed.jsonl', 'accepted',
            LEAST($2, $3 - g * $2), 0, '[]', 'seed', 1, current_date
     FROM generate_series(0, $4 - 1) AS g`,
    [datanetId, PER, n, contributions],
  );
  const t0 = performance.now();
  // Bulk load first, index after (the indexes of hub/db.ts's first migration, rebuilt as they were).
  await db.query('DROP INDEX record_exact_hash');
  await db.query('DROP INDEX record_band_key');
  for (let from = 0; from < n; from += BATCH) {
    const to = Math.min(n, from + BATCH) - 1;
    const cid = `'c_' || lpad(to_hex(g / ${PER}), 24, '0')`;
    await db.tx(async (q) => {
      await q.query(
        `INSERT INTO record_exact (contribution_id, line, datanet_id, hash)
         SELECT ${cid}, g % ${PER}, $1, ((random() - 0.5) * 1.8e19)::bigint FROM generate_series($2::int, $3::int) AS g`,
        [datanetId, from, to],
      );
      await q.query(
        `INSERT INTO record_signature (contribution_id, line, signature)
         SELECT ${cid}, g % ${PER}, decode(md5(g || 'a') || md5(g || 'b') || md5(g || 'c') || md5(g || 'd') ||
                md5(g || 'e') || md5(g || 'f') || md5(g || 'g') || md5(g || 'h'), 'hex')
         FROM generate_series($1::int, $2::int) AS g`,
        [from, to],
      );
      await q.query(
        `INSERT INTO record_band (datanet_id, band_key, contribution_id, line)
         SELECT $1, ((random() - 0.5) * 4294967295)::int, ${cid}, g % ${PER}
         FROM generate_series($2::int, $3::int) AS g, generate_series(1, 20) AS b`,
        [datanetId, from, to],
      );
    });
    const done = to + 1;
    const rate = done / ((performance.now() - t0) / 1000);
    process.stderr.write(`\rseeding the duplicate index: ${done} of ${n} records (${rate.toFixed(0)} records/s)`);
  }
  process.stderr.write('\nrebuilding the indexes');
  await db.query('CREATE INDEX record_exact_hash ON record_exact (datanet_id, hash)');
  await db.query('CREATE INDEX record_band_key ON record_band (datanet_id, band_key)');
  for (const table of ['record_exact', 'record_signature', 'record_band']) await db.query(`ANALYZE ${table}`);
  return n;
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
