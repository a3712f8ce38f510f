// `npm run bench:hub`: the Datanet hub on PGlite in a temporary folder, over real HTTP.
//   1. submits per second (small contributions, one at a time and 8 at once), against the floor of
//      validating the same file with the core alone (no HTTP, no database) in the same run;
//   2. the time to validate a 5 MB contribution against a Datanet that already holds BENCH_HUB_RECORDS
//      accepted records (default 100,000), against the same floor, and where the duplicate index lives
//      and what it costs.
// BENCH_HUB_RECORDS=1000000 is the issue's size (slow to build on a small machine: about 20 bands a record).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDb } from '../hub/db';
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
  const dataDir = mkdtempSync(join(tmpdir(), 'mf-hub-bench-'));
  const db = await openDb({ dataDir });
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

  console.log(`node ${process.version}, hub on PGlite in ${dataDir}`);
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
  const target = Number(process.env['BENCH_HUB_RECORDS'] ?? 100_000);
  let held = 0;
  t0 = performance.now();
  while (held < target) {
    const r = await submit(file(5e6));
    if (r.verdict !== 'accepted') throw new Error(`a filler contribution was ${r.verdict}`);
    held += r.records?.accepted ?? 0;
    process.stderr.write(`\rfilling the Datanet: ${held} accepted records`);
  }
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
  console.log(`filled ${held} accepted records in ${fillS.toFixed(1)} s`);
  console.log(
    `5 MB contribution (${r.records?.accepted} records) against ${held} accepted: ${(bigMs / 1000).toFixed(2)} s  (${(bigMs / bigFloor).toFixed(2)}x the core alone, ${(bigFloor / 1000).toFixed(2)} s)`,
  );
  console.log(
    `duplicate index: in the database (record_exact, record_signature, record_band): ${(indexBytes / 1e6).toFixed(1)} MB, ${(indexBytes / held).toFixed(0)} bytes a record; ` +
      `${sizes.map((s) => `${s.rel} ${(Number(s.bytes) / 1e6).toFixed(1)} MB`).join(', ')}`,
  );
  console.log(
    `hub process memory after the run: rss ${(mem.rss / 1e6).toFixed(0)} MB, heap ${(mem.heapUsed / 1e6).toFixed(0)} MB (PGlite's buffers included; a request holds only its own file's signatures)`,
  );
  await app.close();
  await db.close();
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
